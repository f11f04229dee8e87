package checker

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/history"
)

// Where every message of a key is known, a write stored after a message
// other than the one it expected fails the key without a search: these
// checks get no search time at all (a nanosecond), so a key that needed a
// search would be unknown. A write whose precondition held passes as before.
func TestBrokenPreconditionNeedsNoSearch(t *testing.T) {
	withRev := func(r history.Record, rev uint64) history.Record { r.Rev = rev; return r }
	tests := []struct {
		name string
		h    *history.History
		want Status
		note []string // what the key's note must say
	}{
		{
			name: "an update expecting revision 1 stored over revision 2",
			h:    lostUpdate(),
			want: Fail,
			note: []string{`key "k"`, "lost update: client 2 update(c2), invoked at 0.021s, expected revision 1, yet was stored at revision 3, over revision 2"},
		},
		{
			name: "an update expecting no message stored over one",
			h: watchComplete(hist(
				put(1, "k", "v1", 1, at(0, 10)),
				update(2, "k", "c2", 0, 2, at(20, 30)),
				watch("k", "v1", 1, 5), watch("k", "c2", 2, 25),
				final("k", "c2", 2),
			)),
			want: Fail,
			note: []string{"lost update", "expected no message", "over revision 1"},
		},
		{
			name: "an update expecting a revision the key never held",
			h: watchComplete(hist(
				put(1, "a", "va", 1, at(0, 10)),
				put(1, "k", "v1", 2, at(0, 10)),
				update(2, "k", "c2", 1, 3, at(20, 30)),
				watch("a", "va", 1, 5), watch("k", "v1", 2, 6), watch("k", "c2", 3, 25),
				final("a", "va", 1), final("k", "c2", 3),
			)),
			want: Fail,
			note: []string{`key "k"`, "precondition broken", "expected revision 1, which the key never held"},
		},
		{
			name: "a delete expecting revision 1 stored over revision 2",
			h: watchComplete(hist(
				put(1, "k", "v1", 1, at(0, 10)),
				put(1, "k", "v2", 2, at(20, 30)),
				withRev(delExpect(2, "k", 1, at(21, 40)), 3),
				watch("k", "v1", 1, 5), watch("k", "v2", 2, 25), watchMarker("k", history.MarkerDel, 3, 35),
				finalMarker("k", history.MarkerDel, 3),
			)),
			want: Fail,
			note: []string{"lost update", "delete()", "expected revision 1", "over revision 2"},
		},
		{
			// Its client never learned the outcome: the watcher's delivery
			// of its value gives its revision (resolve), and with it the
			// message it followed.
			name: "an update whose answer was lost, seen stored over revision 2",
			h: watchComplete(hist(
				put(1, "k", "v1", 1, at(0, 10)),
				put(1, "k", "v2", 2, at(20, 30)),
				unknown(update(2, "k", "c2", 1, 0, at(21, 40))),
				watch("k", "v1", 1, 5), watch("k", "v2", 2, 25), watch("k", "c2", 3, 35),
				final("k", "c2", 3),
			)),
			want: Fail,
			note: []string{"lost update: client 2 update(c2)", "expected revision 1, yet was stored at revision 3, over revision 2"},
		},
		{
			name: "updates whose preconditions held",
			h: watchComplete(hist(
				put(1, "k", "v1", 1, at(0, 10)),
				update(1, "k", "c1", 1, 2, at(20, 30)),
				conflictAt(update(2, "k", "c2", 1, 0, at(21, 31)), 2),
				update(2, "k", "c3", 2, 3, at(40, 50)),
				watch("k", "v1", 1, 5), watch("k", "c1", 2, 25), watch("k", "c3", 3, 45),
				final("k", "c3", 3),
			)),
			want: Pass,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Check(tc.h, Options{Timeout: time.Nanosecond, VisualizeDir: t.TempDir()})
			if c := checkNamed(t, res, CheckLinearizableWrites); c.Result != tc.want {
				t.Fatalf("linearizable-writes %s (%s), want %s; notes %q", c.Result, c.Detail, tc.want, res.Notes)
			}
			if tc.note == nil {
				return
			}
			for _, n := range res.Notes {
				if !strings.HasPrefix(n, CheckLinearizableWrites+":") {
					continue
				}
				for _, want := range tc.note {
					if !strings.Contains(n, want) {
						t.Errorf("note %q lacks %q", n, want)
					}
				}
				return
			}
			t.Errorf("no %s note: %q", CheckLinearizableWrites, res.Notes)
		})
	}
}

// The rule needs no search in spans either: a long key checked a few
// operations at a time, one acknowledged update of it changed to expect
// what the update before it expected (a lost update), fails with no search
// time, in spans and whole alike; unchanged, it passes.
func TestBrokenPreconditionInSpans(t *testing.T) {
	h := simulate(simConfig{seed: 11, clients: 3, keys: 1, opsPerClient: 200, failRate: 0.03, thinkUs: 8000}).h
	h.Meta.History = 4 // the last span must hold the history depth
	var updates []int  // acknowledged updates after another acknowledged one
	prev := -1
	for i := range h.Ops {
		if op := &h.Ops[i]; op.Op == history.OpUpdate && op.Outcome == history.OK {
			if prev >= 0 && h.Ops[prev].ExpectRev != op.ExpectRev {
				updates = append(updates, i)
			}
			prev = i
		}
	}
	if len(updates) < 3 {
		t.Fatalf("only %d acknowledged updates to change", len(updates))
	}
	check := func(h *history.History, spans int) *Result {
		return checkFileWith(t, h, spans, Options{Timeout: time.Nanosecond, VisualizeDir: t.TempDir()})
	}
	if res := check(h, tinySpans); res.Verdict != Pass || res.SpannedKeys == 0 {
		t.Fatalf("unchanged: verdict %s, %d keys in spans\n%s", res.Verdict, res.SpannedKeys, dump(res))
	}
	// One in the middle of the run: in a span of its own, neither first
	// nor last.
	i := updates[len(updates)/2]
	m := *h
	m.Ops = slices.Clone(h.Ops)
	for j := i - 1; j >= 0; j-- { // the acknowledged update before it
		if op := &m.Ops[j]; op.Op == history.OpUpdate && op.Outcome == history.OK {
			m.Ops[i].ExpectRev = op.ExpectRev
			break
		}
	}
	for _, spans := range []int{tinySpans, noSpans} {
		res := check(&m, spans)
		if c := checkNamed(t, res, CheckLinearizableWrites); c.Result != Fail {
			t.Errorf("spans %d: linearizable-writes %s (%s), want fail", spans, c.Result, c.Detail)
		}
		if !notesContain(res, "lost update", fmt.Sprintf("update(%s)", m.Ops[i].Value)) {
			t.Errorf("spans %d: no lost-update note for %s: %q", spans, m.Ops[i].Value, res.Notes)
		}
		if spans == tinySpans && res.SpannedKeys == 0 {
			t.Errorf("the key was not checked in spans")
		}
	}
}
