package checker

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
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

// checkFileSpans checks h from a file, its keys in spans as s says.
func checkFileSpans(t testing.TB, h *history.History, s spanOptions) *Result {
	t.Helper()
	path := filepath.Join(t.(interface{ TempDir() string }).TempDir(), "history.jsonl")
	writeInTimeOrder(t, path, h)
	res, _, err := CheckFile(context.Background(), path, FileOptions{Options: Options{Timeout: 10 * time.Second}, spans: &s})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

var (
	noSpans   = spanOptions{above: 1 << 62}
	tinySpans = spanOptions{above: 0, ops: 10, lastOps: 10}
)

// TestSpansGiveTheSameResults: a key checked a few operations at a time
// gets what it gets checked whole — every simulated history, passing, or
// with one operation's answer changed — and most are cut into spans.
func TestSpansGiveTheSameResults(t *testing.T) {
	configs := []simConfig{
		{clients: 3, keys: 1, opsPerClient: 100, failRate: 0.03, thinkUs: 8000},
		{clients: 2, keys: 1, opsPerClient: 150, failRate: 0.03, unknownRate: 0.005, thinkUs: 5000},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	seeds, spanned, failing, histories := 8, 0, 0, 0
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

func TestSpanReasonsFile(t *testing.T) {
	path := os.Getenv("KVH_SPAN_FILE")
	if path == "" {
		t.Skip()
	}
	b := newFactsBuilder()
	sp, err := history.Spill(context.Background(), path, history.SpillOptions{Buckets: spillBuckets, Visit: b.observe})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Remove()
	f := b.done(sp.Whole.End)
	sp.Plan(groupRecords)
	o := defaultSpans
	if os.Getenv("KVH_SPAN_SMALL") != "" {
		o = spanOptions{above: 0, ops: 4096, lastOps: 2048}
		sp.Plan(1)
	}
	for _, g := range sp.Groups() {
		if g.Records < o.above {
			continue
		}
		p, why, err := planSpans(g, &f, o)
		if p == nil {
			t.Logf("%d records: %s %v", g.Records, why, err)
			continue
		}
		t.Logf("%d records: %d cuts", g.Records, len(p.cuts))
		walkSpans(g, p, func(h *history.History, span *keySpan) error {
			if w := verifySpan(h, span); w != "" {
				t.Logf("span %d/%d: %s", span.index, len(p.cuts)+1, w)
				return errStopSpans
			}
			return nil
		})
	}
	opts := FileOptions{MemoryBudget: 8 << 30}
	whole, _, err := CheckFile(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.spans = &o
	split, _, err := CheckFile(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	sameResults(t, whole, split, "in spans")
	t.Logf("%d keys in %d spans", split.SpannedKeys, split.Spans)
}

func TestSpanReasons(t *testing.T) {
	for seed := 1; seed <= 12; seed++ {
		for _, cfg := range []simConfig{{clients: 3, keys: 1, opsPerClient: 100, failRate: 0.03, thinkUs: 8000}, {clients: 2, keys: 1, opsPerClient: 150, failRate: 0.03, unknownRate: 0.005, thinkUs: 5000}} {
			cfg.seed = uint64(seed)
			h := simulate(cfg).h
			h.Meta.History = 4
			path := filepath.Join(t.TempDir(), "h.jsonl")
			writeInTimeOrder(t, path, h)
			b := newFactsBuilder()
			sp, _ := history.Spill(context.Background(), path, history.SpillOptions{Buckets: 4, Visit: b.observe})
			f := b.done(sp.Whole.End)
			for _, g := range sp.Groups() {
				p, why, err := planSpans(g, &f, tinySpans)
				if p == nil {
					t.Logf("seed %d c%d: %s %v", seed, cfg.clients, why, err)
					continue
				}
				walkSpans(g, p, func(h *history.History, span *keySpan) error {
					if w := verifySpan(h, span); w != "" {
						t.Logf("seed %d c%d: span %d/%d: %s", seed, cfg.clients, span.index, len(p.cuts)+1, w)
						return errStopSpans
					}
					return nil
				})
			}
			sp.Remove()
		}
	}
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
