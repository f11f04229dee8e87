package checker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/history"
)

// This file builds history.History values concisely for the tests: one
// constructor per record shape, times in milliseconds since run start.

// ms converts milliseconds since run start to the history's nanoseconds.
func ms(n int64) int64 { return n * int64(time.Millisecond) }

// span is an operation's [invoke, complete] interval, in milliseconds.
type span struct{ inv, comp int64 }

func at(inv, comp int64) span { return span{inv, comp} }

func opRec(client int, op, key, value string, rev uint64, s span) history.Record {
	return history.Record{
		Kind: history.KindOp, Client: client, Op: op, Key: key, Value: value,
		Outcome: history.OK, Rev: rev, Invoke: ms(s.inv), Complete: ms(s.comp),
	}
}

// put is an acknowledged put that returned rev.
func put(client int, key, value string, rev uint64, s span) history.Record {
	return opRec(client, history.OpPut, key, value, rev, s)
}

// update is an acknowledged Update(key, value, expect) that returned rev.
func update(client int, key, value string, expect, rev uint64, s span) history.Record {
	r := opRec(client, history.OpUpdate, key, value, rev, s)
	r.ExpectRev, r.HasExpect = expect, true
	return r
}

// create is an acknowledged Create(key, value) that returned rev.
func create(client int, key, value string, rev uint64, s span) history.Record {
	return opRec(client, history.OpCreate, key, value, rev, s)
}

// del is an acknowledged plain Delete; deletes return no revision.
func del(client int, key string, s span) history.Record {
	return opRec(client, history.OpDelete, key, "", 0, s)
}

// delExpect is an acknowledged Delete with LastRevision(expect).
func delExpect(client int, key string, expect uint64, s span) history.Record {
	r := del(client, key, s)
	r.ExpectRev, r.HasExpect = expect, true
	return r
}

// purge is an acknowledged plain Purge.
func purge(client int, key string, s span) history.Record {
	return opRec(client, history.OpPurge, key, "", 0, s)
}

// get is an answered get; value "" means "not found".
func get(client int, key, value string, rev uint64, s span) history.Record {
	r := opRec(client, history.OpGet, key, "", 0, s)
	if value != "" {
		r.Found, r.Read, r.Rev = true, value, rev
	}
	return r
}

// unknown turns a write into one whose outcome the client never learned: no
// revision, no completion time.
func unknown(r history.Record) history.Record {
	r.Outcome, r.Rev, r.Complete = history.Unknown, 0, 0
	r.Error, r.ErrClass = "context deadline exceeded", history.ClassTimeout
	return r
}

// conflict turns a write into a definite CAS failure that names no
// revision (as a history without the server's text).
func conflict(r history.Record) history.Record {
	r.Outcome, r.Rev = history.Fail, 0
	r.Error, r.ErrClass = "", history.ClassConflict
	return r
}

// conflictAt is conflict with the server's text: the key was at revision
// cur when it refused.
func conflictAt(r history.Record, cur uint64) history.Record {
	r = conflict(r)
	r.Error = fmt.Sprintf("nats: API error: code=400 err_code=10071 description=wrong last sequence: %d", cur)
	return r
}

// failed turns an op into a definite failure that is not a conflict.
func failed(r history.Record, class string) history.Record {
	r.Outcome, r.Rev, r.Found, r.Read = history.Fail, 0, false, ""
	r.Error, r.ErrClass = "refused", class
	return r
}

// watch is the recording watcher delivering a value at rev.
func watch(key, value string, rev uint64, atMs int64) history.Record {
	return history.Record{Kind: history.KindWatch, Key: key, Rev: rev, Read: value, At: ms(atMs)}
}

// watchMarker is the recording watcher delivering a del/purge marker.
func watchMarker(key, marker string, rev uint64, atMs int64) history.Record {
	return history.Record{Kind: history.KindWatch, Key: key, Rev: rev, Marker: marker, At: ms(atMs)}
}

// finalTime is when the final reads happen: after every test's operations.
const finalInv, finalComp = 10_000, 10_001

// final is a key's last message: a value at rev.
func final(key, value string, rev uint64) history.Record {
	return history.Record{Kind: history.KindFinal, Key: key, Found: true, Read: value, Rev: rev,
		Invoke: ms(finalInv), Complete: ms(finalComp)}
}

// finalMarker is a key whose last message is a del/purge marker.
func finalMarker(key, marker string, rev uint64) history.Record {
	return history.Record{Kind: history.KindFinal, Key: key, Marker: marker, Rev: rev,
		Invoke: ms(finalInv), Complete: ms(finalComp)}
}

// finalNone is a key with no message at all.
func finalNone(key string) history.Record {
	return history.Record{Kind: history.KindFinal, Key: key, Invoke: ms(finalInv), Complete: ms(finalComp)}
}

// hist assembles records into a history of an R1 run that ended normally
// with final reads, the watcher not known to be complete. Tests adjust
// Meta and End directly where they matter.
func hist(recs ...history.Record) *history.History {
	h := &history.History{
		Meta: &history.Meta{Scenario: "test", Bucket: "test", Replicas: 1, History: 64},
		End:  &history.End{At: ms(finalComp + 1), FinalReads: true},
	}
	keys := map[string]bool{}
	var last uint64
	for _, r := range recs {
		if r.Key != "" && !keys[r.Key] {
			keys[r.Key] = true
			h.Meta.Keys = append(h.Meta.Keys, r.Key)
		}
		if r.Rev > last {
			last = r.Rev
		}
		switch r.Kind {
		case history.KindOp:
			h.Ops = append(h.Ops, r)
		case history.KindWatch:
			h.Watch = append(h.Watch, r)
		case history.KindFinal:
			h.Final = append(h.Final, r)
		default:
			panic("hist: unexpected record kind " + string(r.Kind))
		}
	}
	h.End.LastSeq = last
	return h
}

// lostUpdate: two CAS updates expecting revision 1 both acknowledged, on
// key "k" whose every message the recording watcher saw (client 2's c2 was
// stored at 3, over c1's revision 2).
func lostUpdate() *history.History {
	return watchComplete(hist(
		put(1, "k", "v1", 1, at(0, 10)),
		update(1, "k", "c1", 1, 2, at(20, 30)),
		update(2, "k", "c2", 1, 3, at(21, 31)),
		watch("k", "v1", 1, 5), watch("k", "c1", 2, 25), watch("k", "c2", 3, 26),
		final("k", "c2", 3),
	))
}

// watchComplete marks the recording watcher as having seen every sequence.
func watchComplete(h *history.History) *history.History {
	h.End.WatchComplete = true
	return h
}

// replicated makes h an R3 run's history: its three nodes answered the
// replica reads alike, with the final reads' messages.
func replicated(h *history.History) *history.History {
	h.Meta.Replicas = 3
	if h.End != nil {
		h.End.ReplicaNodes = []string{"n1", "n2", "n3"}
		for _, f := range h.Final {
			for _, n := range append([]string{history.PathLeader}, h.End.ReplicaNodes...) {
				r := f
				r.Kind, r.Node = history.KindReplica, n
				h.Replicas = append(h.Replicas, r)
			}
		}
	}
	return h
}

// runCheck checks h with the tests' standard options and returns the result
// and the visualization directory.
func runCheck(t testing.TB, h *history.History) (*Result, string) {
	t.Helper()
	dir := t.TempDir()
	return Check(h, Options{Timeout: 10 * time.Second, VisualizeDir: dir}), dir
}

// checkNamed returns the named check's row, failing the test if it is missing.
func checkNamed(t testing.TB, res *Result, name string) CheckResult {
	t.Helper()
	for _, c := range res.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in result:\n%s", name, dump(res))
	return CheckResult{}
}

// wantStatus asserts the result of each named check.
func wantStatus(t testing.TB, res *Result, want map[string]Status) {
	t.Helper()
	for name, st := range want {
		if got := checkNamed(t, res, name); got.Result != st {
			t.Errorf("%s = %s, want %s (detail: %s)", name, got.Result, st, got.Detail)
		}
	}
	if t.Failed() {
		t.Logf("result:\n%s", dump(res))
	}
}

// allPass is the expectation for a history that is what NATS KV promises.
var allPass = map[string]Status{
	CheckLinearizableWrites: Pass,
	CheckLinearizableReads:  Pass,
	CheckRevisionsUnique:    Pass,
	CheckNoLostWrites:       Pass,
}

// notesContain reports whether some note contains every one of subs.
func notesContain(res *Result, subs ...string) bool {
	for _, n := range res.Notes {
		all := true
		for _, s := range subs {
			if !strings.Contains(n, s) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// dump renders a result for failure messages.
func dump(res *Result) string {
	var b strings.Builder
	b.WriteString("verdict: " + string(res.Verdict) + "\n")
	for _, c := range res.Checks {
		req := ""
		if c.Required {
			req = " (required)"
		}
		b.WriteString("  " + c.Name + ": " + string(c.Result) + req + " — " + c.Detail + "\n")
	}
	for _, n := range res.Notes {
		b.WriteString("  note: " + n + "\n")
	}
	b.WriteString("  " + res.ResolutionLine() + "\n")
	return b.String()
}

// patternRun is a history of recs from a run of the given use-case pattern.
func patternRun(pattern string, recs ...history.Record) *history.History {
	h := hist(recs...)
	h.Meta.Pattern = pattern
	return h
}
