package checker

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/history"
)

// writeInTimeOrder writes h as a run records it: each op when it completed
// (an unknown one when it was invoked), each delivery when it arrived, the
// reads after the run last.
func writeInTimeOrder(t testing.TB, path string, h *history.History) {
	t.Helper()
	type timed struct {
		at  int64
		rec *history.Record
	}
	var recs []timed
	for i := range h.Ops {
		op := &h.Ops[i]
		recs = append(recs, timed{max(op.Complete, op.Invoke), op})
	}
	for i := range h.Watch {
		recs = append(recs, timed{h.Watch[i].At, &h.Watch[i]})
	}
	slices.SortStableFunc(recs, func(a, b timed) int { return cmp.Compare(a.at, b.at) })
	w, err := history.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(&history.Record{Kind: history.KindMeta, Meta: h.Meta})
	for i := range h.Faults {
		w.Write(&history.Record{Kind: history.KindFault, Fault: &h.Faults[i]})
	}
	for i := range h.Leadership {
		w.Write(&history.Record{Kind: history.KindLeadership, Leadership: &h.Leadership[i]})
	}
	for _, r := range recs {
		w.Write(r.rec)
	}
	for _, list := range [][]history.Record{h.Final, h.Stored, h.KeyHistory, h.Replicas} {
		for i := range list {
			w.Write(&list[i])
		}
	}
	w.Write(&history.Record{Kind: history.KindEnd, End: h.End})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkFileSpans checks h from a file, its keys in spans of s operations
// (-1: none).
func checkFileSpans(t testing.TB, h *history.History, s int) *Result {
	t.Helper()
	return checkFileWith(t, h, s, Options{Timeout: time.Minute})
}

// checkFileWith is checkFileSpans with the checks' options o.
func checkFileWith(t testing.TB, h *history.History, s int, o Options) *Result {
	t.Helper()
	path := filepath.Join(t.(interface{ TempDir() string }).TempDir(), "history.jsonl")
	writeInTimeOrder(t, path, h)
	res, _, err := CheckFile(context.Background(), path, FileOptions{Options: o, SpanOps: s, GroupRecords: 1})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

const noSpans, tinySpans = -1, 10

// TestSpansGiveTheSameResults: a key checked a few operations at a time
// gets what it gets checked whole — every simulated history, passing, or
// with one operation's answer changed — and most are cut into spans.
func TestSpansGiveTheSameResults(t *testing.T) {
	configs := []simConfig{
		{clients: 3, keys: 1, opsPerClient: 100, failRate: 0.03, thinkUs: 8000},
		{clients: 2, keys: 1, opsPerClient: 150, failRate: 0.03, unknownRate: 0.005, thinkUs: 5000},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	seeds, spanned, failing, histories := 5, 0, 0, 0
	if testing.Short() {
		seeds = 3
	}
	for _, cfg := range configs {
		for seed := 1; seed <= seeds; seed++ {
			cfg.seed = uint64(seed)
			t.Run(fmt.Sprintf("c%d-seed%d", cfg.clients, seed), func(t *testing.T) {
				h := simulate(cfg).h
				h.Meta.History = 4 // the last span must hold the history depth
				whole := checkFileSpans(t, h, noSpans)
				if whole.SpannedKeys != 0 {
					t.Fatalf("checked in spans with spans off")
				}
				split := checkFileSpans(t, h, tinySpans)
				sameResults(t, whole, split, "in spans")
				histories++
				if split.SpannedKeys > 0 {
					spanned++
				}
				if whole.Verdict != Pass {
					t.Errorf("the simulated history fails:\n%s", dump(whole))
				}

				m := *h
				m.Ops = slices.Clone(h.Ops)
				changeOne(rng, m.Ops)
				whole = checkFileSpans(t, &m, noSpans)
				split = checkFileSpans(t, &m, tinySpans)
				if whole.Verdict == Fail && split.SpannedKeys > 0 {
					failing++
				}
				sameResults(t, whole, split, "changed, in spans")
			})
		}
	}
	if spanned < histories*2/3 {
		t.Errorf("only %d of %d histories were cut into spans: the test compares too little", spanned, histories)
	}
	if failing < histories/3 {
		t.Errorf("only %d changed histories failed in spans: too few failing ones compared", failing)
	}
	t.Logf("%d histories, %d cut into spans, %d changed ones failed in spans", histories, spanned, failing)
}

// changeOne changes one operation's answer: a get's, to an older write's
// value (stale) or any other value; an acknowledged update's precondition,
// to what the update before it expected (a lost update); a write's
// revision; or its outcome, to unknown. The first two are local in time:
// the history fails in the span that holds them.
func changeOne(rng *rand.Rand, ops []history.Record) {
	i := rng.IntN(len(ops))
	op := &ops[i]
	var older, newest *history.Record // acknowledged value writes before op
	for j := range ops {
		if w := &ops[j]; history.IsWrite(w.Op) && w.Value != "" && w.Outcome == history.OK && w.Rev != 0 && w.Complete < op.Invoke && (newest == nil || w.Rev > newest.Rev) {
			older, newest = newest, w
		}
	}
	var expected *history.Record // an acknowledged update whose revision op expected
	for j := range ops {
		if w := &ops[j]; w.Op == history.OpUpdate && w.Outcome == history.OK && w.Rev == op.ExpectRev && op.HasExpect {
			expected = w
		}
	}
	switch {
	case op.Op == history.OpGet && op.Outcome == history.OK && older != nil && rng.IntN(3) > 0:
		op.Found, op.Read, op.Rev = true, older.Value, older.Rev
	case op.Op == history.OpGet && op.Outcome == history.OK:
		op.Found, op.Read, op.Rev = true, ops[rng.IntN(len(ops))].Value, op.Rev+1
	case op.Op == history.OpUpdate && op.Outcome == history.OK && expected != nil:
		op.ExpectRev = expected.ExpectRev
	case op.Outcome == history.OK && history.IsWrite(op.Op) && op.Rev > 1:
		op.Rev--
	default:
		op.Outcome, op.Rev = history.Unknown, 0
	}
}

// TestSpansOnRecordedHistories: histories recorded by real runs — three
// nodes, stale direct gets, leader step-downs; TTL keys and watchers,
// which are checked whole — and the first one with one operation's answer
// changed, get the same checked whole and a few hundred operations at a
// time.
func TestSpansOnRecordedHistories(t *testing.T) {
	const small = 256
	files, err := filepath.Glob("testdata/*.jsonl.zst")
	if err != nil || len(files) < 4 {
		t.Fatalf("recorded histories: %v %v", files, err)
	}
	for _, path := range files {
		opts := FileOptions{Options: Options{Timeout: time.Minute}, SpanOps: noSpans, GroupRecords: 1}
		whole, _, err := CheckFile(context.Background(), path, opts)
		if err != nil {
			t.Fatal(err)
		}
		opts.SpanOps = small
		split, _, err := CheckFile(context.Background(), path, opts)
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, whole, split, filepath.Base(path))
		t.Logf("%s: %s, %d keys in %d spans; whole: %v", filepath.Base(path), whole.Verdict, split.SpannedKeys, split.Spans, split.LongKeysWhole)
	}

	h, err := history.ReadFile("testdata/recorded-default-r3.jsonl.zst")
	if err != nil {
		t.Fatal(err)
	}
	if split := checkFileSpans(t, h, small); split.Verdict != Pass || split.SpannedKeys < len(h.Meta.Keys)/2 || split.Spans < 3*split.SpannedKeys {
		t.Fatalf("the recorded run, %s, %d of %d keys in %d spans (whole: %v):\n%s", split.Verdict, split.SpannedKeys, len(h.Meta.Keys), split.Spans, split.LongKeysWhole, dump(split))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	failing := 0
	for i := 0; i < 5; i++ {
		m := *h
		m.Ops = slices.Clone(h.Ops)
		changeOne(rng, m.Ops)
		whole, split := checkFileSpans(t, &m, noSpans), checkFileSpans(t, &m, small)
		sameResults(t, whole, split, fmt.Sprintf("changed %d", i))
		if whole.Verdict == Fail && split.SpannedKeys > 0 {
			failing++
		}
	}
	if failing < 2 {
		t.Errorf("only %d changed histories failed in spans", failing)
	}
}

// TestCutSpans: a cut only where no operation spans it, the one before it
// overlaps no other and leaves one message, and nothing after it names an
// earlier revision; none after a write whose outcome is unknown.
func TestCutSpans(t *testing.T) {
	w := func(at int32, call, ret int64, rev uint64) spanOp {
		return spanOp{at: at, call: call, ret: ret, rev: rev, write: true, state: true}
	}
	get := func(at int32, call, ret int64, rev uint64) spanOp {
		return spanOp{at: at, call: call, ret: ret, rev: rev, read: true, state: true}
	}
	one := spanOptions{ops: 1, lastOps: 1}
	cases := []struct {
		name string
		ops  []spanOp
		want []spanCut
	}{
		{"after a write and after a read of it", []spanOp{w(0, 0, 10, 1), get(1, 20, 30, 1), w(2, 40, 50, 2)},
			[]spanCut{{at: 20, rev: 1, context: 0}, {at: 40, rev: 1, context: 0}}},
		{"not before a read of an older revision", []spanOp{w(0, 0, 10, 1), w(1, 20, 30, 2), get(2, 40, 50, 1)},
			[]spanCut{{at: 20, rev: 1, context: 0}}},
		{"not after an op that overlaps another", []spanOp{w(0, 0, 25, 1), w(1, 20, 30, 2), w(2, 40, 50, 3)},
			nil},
		{"not where an op spans the cut", []spanOp{w(0, 0, 45, 1), w(1, 5, 10, 2), w(2, 40, 50, 3)},
			nil},
		{"none after an unknown write", []spanOp{w(0, 0, 10, 1), {at: 1, call: 20, ret: infinity, write: false}, w(2, 40, 50, 2), w(3, 60, 70, 3)},
			[]spanCut{{at: 20, rev: 1, context: 0}}},
		{"a read of a later revision stays with its write", []spanOp{w(0, 0, 10, 1), get(1, 20, 30, 2), w(2, 40, 50, 2)},
			[]spanCut{{at: 20, rev: 1, context: 0}}},
	}
	for _, c := range cases {
		if got := cutSpans(c.ops, one); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: cuts %v, want %v", c.name, got, c.want)
		}
	}
}

// TestSpansShareAContext: a write read on and on, with no other write for
// longer than a span, is the context of each span that follows.
func TestSpansShareAContext(t *testing.T) {
	const ms = int64(time.Millisecond)
	h := &history.History{Meta: &history.Meta{Scenario: "reads", Bucket: "b", Replicas: 1, History: 1, Keys: []string{"k"}}}
	at := int64(0)
	var rev uint64
	var last string // the value written last
	write := func(value string) {
		rev++
		last = value
		h.Ops = append(h.Ops, history.Record{Kind: history.KindOp, Client: 1, Op: history.OpPut, Key: "k", Value: value, Outcome: history.OK, Rev: rev, Invoke: at, Complete: at + ms})
		h.Watch = append(h.Watch, history.Record{Kind: history.KindWatch, Key: "k", Rev: rev, Read: value, At: at + ms/2})
		at += 2 * ms
	}
	read := func(n int) {
		for range n {
			h.Ops = append(h.Ops, history.Record{Kind: history.KindOp, Client: 2, Op: history.OpGet, Key: "k", Outcome: history.OK, Found: true, Read: last, Rev: rev, Invoke: at, Complete: at + ms})
			at += 2 * ms
		}
	}
	write("c1-1")
	read(35)
	write("c1-2")
	read(6)
	write("c1-3")
	read(6)
	h.Final = []history.Record{{Kind: history.KindFinal, Key: "k", Found: true, Read: "c1-3", Rev: rev, Invoke: at, Complete: at + ms}}
	h.End = &history.End{At: at + 2*ms, LastSeq: rev, WatchComplete: true, FinalReads: true, Keys: 1, FinalKeys: 1}
	whole, split := checkFileSpans(t, h, noSpans), checkFileSpans(t, h, tinySpans)
	sameResults(t, whole, split, "one write read on and on")
	if whole.Verdict != Pass || split.SpannedKeys != 1 || split.Spans < 3 {
		t.Fatalf("%s, %d keys in %d spans (whole: %v):\n%s", split.Verdict, split.SpannedKeys, split.Spans, split.LongKeysWhole, dump(split))
	}
}

// TestSpansFitWhereTheKeyDoesNot: a key with more records than the memory
// budget allows is unknown checked whole, and decided in spans.
func TestSpansFitWhereTheKeyDoesNot(t *testing.T) {
	h := simulate(simConfig{seed: 1, clients: 3, keys: 1, opsPerClient: 100, failRate: 0.03, thinkUs: 8000}).h
	h.Meta.History = 4
	path := filepath.Join(t.TempDir(), "history.jsonl")
	writeInTimeOrder(t, path, h)
	records := len(h.Ops) + len(h.Watch) + len(h.Final)
	o := FileOptions{Options: Options{Timeout: time.Minute}, MemoryBudget: int64(records/2) * bytesPerRecord, SpanOps: -1}
	whole, _, err := CheckFile(context.Background(), path, o)
	if err != nil {
		t.Fatal(err)
	}
	if whole.Verdict != Unknown || !strings.Contains(checkNamed(t, whole, CheckNoLostWrites).Detail, "more than the memory budget") {
		t.Fatalf("checked whole within half its records' budget:\n%s", dump(whole))
	}
	o.SpanOps = tinySpans
	split, _, err := CheckFile(context.Background(), path, o)
	if err != nil {
		t.Fatal(err)
	}
	if split.Verdict != Pass || split.SpannedKeys != 1 {
		t.Fatalf("in spans, %d keys: %s", split.SpannedKeys, dump(split))
	}
}

// TestSpansCountEachMarkerOnce: a marker the recording watcher delivered
// twice is one message. Counted twice, it balanced an acknowledged delete
// (one without a revision) whose marker lay in the next span, and the span
// failed linearizable-writes where the whole key passes.
func TestSpansCountEachMarkerOnce(t *testing.T) {
	h := watchComplete(hist(
		put(1, "k", "v1", 1, at(10, 12)), watch("k", "v1", 1, 11),
		del(1, "k", at(20, 22)), watchMarker("k", history.MarkerDel, 2, 21), watchMarker("k", history.MarkerDel, 2, 21),
		put(1, "k", "v3", 3, at(30, 32)), watch("k", "v3", 3, 31),
		del(1, "k", at(40, 42)), watchMarker("k", history.MarkerDel, 4, 41),
		get(2, "k", "v3", 3, at(50, 52)), // stale: the delete returned at 42
		put(1, "k", "v5", 5, at(60, 62)), watch("k", "v5", 5, 61),
		put(1, "k", "v6", 6, at(70, 72)), watch("k", "v6", 6, 71),
		put(1, "k", "v7", 7, at(80, 82)), watch("k", "v7", 7, 81),
		put(1, "k", "v8", 8, at(90, 92)), watch("k", "v8", 8, 91),
		put(1, "k", "v9", 9, at(100, 102)), watch("k", "v9", 9, 101),
		final("k", "v9", 9),
	))
	h.Meta.History = 2
	sameResults(t, checkFileSpans(t, h, noSpans), checkFileSpans(t, h, 4), "in spans")
}

// TestSpansCountSearchedKeysOnce: a key searched in two spans is one key
// searched, as it is checked whole (a slow get that found nothing spans
// more stretches than the sweep places).
func TestSpansCountSearchedKeysOnce(t *testing.T) {
	var recs []history.Record
	rev, now := uint64(0), int64(10)
	write := func() {
		rev++
		v := fmt.Sprint("v", rev)
		recs = append(recs, put(1, "k", v, rev, at(now, now+2)), watch("k", v, rev, now+1))
		now += 10
	}
	for range 2 {
		write()
		g := get(2, "k", "", 0, at(now, now+800))
		now += 5
		for range 70 {
			write()
		}
		rev++
		d := del(1, "k", at(now, now+2))
		d.Rev = rev
		recs = append(recs, d, watchMarker("k", history.MarkerDel, rev, now+1), g)
		now = g.Complete/1e6 + 10
		write()
		write()
	}
	for range 4 {
		write()
	}
	recs = append(recs, final("k", fmt.Sprint("v", rev), rev))
	h := watchComplete(hist(recs...))
	h.Meta.History = 2
	whole, split := checkFileSpans(t, h, noSpans), checkFileSpans(t, h, 4)
	if split.SpannedKeys != 1 {
		t.Fatalf("not in spans: %v", split.LongKeysWhole)
	}
	sameResults(t, whole, split, "in spans")
}
