package checker

import (
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
