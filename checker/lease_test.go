package checker

import (
	"testing"

	"github.com/kvharness/kvharness/history"
)

// leaseTTL is the lease's TTL in the tests, in milliseconds.
const leaseTTL = 1000

// acquire is candidate client creating the lease key "L" with the lease TTL.
func acquire(client int, value string, rev uint64, s span) history.Record {
	return withTTL(create(client, "L", value, rev, s), leaseTTL)
}

// renew is candidate client renewing the lease with a CAS on expect.
func renew(client int, value string, expect, rev uint64, s span) history.Record {
	return withTTL(update(client, "L", value, expect, rev, s), leaseTTL)
}

// A holder may rely on its lease until invoke + TTL of its last acquire or
// renewal: candidate 1 acquires at 0..10, so it holds the lease until 1000.
func TestMutualExclusion(t *testing.T) {
	tests := []struct {
		name string
		recs []history.Record
		want Status
		note []string
	}{
		{
			name: "two candidates hold the lease at once",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				acquire(2, "c2a", 2, at(500, 510)), // acknowledged before 0 + 1 s
				finalNone("L"),
			},
			want: Fail,
			note: []string{`key "L"`, "candidate 2 acquired at 0.510s (c2a)", "candidate 1 held it until 1.000s (c1a)", "both leaders for 490ms"},
		},
		{
			name: "the acknowledgement is what counts, not the invocation",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				acquire(2, "c2a", 2, at(900, 1100)), // invoked before 1000, held from 1100
				finalNone("L"),
			},
			want: Pass,
		},
		{
			name: "hand-over after expiry",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				acquire(2, "c2a", 3, at(1005, 1015)), // 2: the expiry marker
				finalNone("L"),
			},
			want: Pass,
		},
		{
			name: "hand-over after expiry of the last renewal",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				renew(1, "c1b", 1, 2, at(400, 410)),
				renew(1, "c1c", 2, 3, at(800, 810)), // holds until 1800
				acquire(2, "c2a", 5, at(1700, 1810)),
				finalNone("L"),
			},
			want: Pass,
		},
		{
			name: "a renewal extends the tenure",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				renew(1, "c1b", 1, 2, at(600, 610)),  // holds until 1600
				acquire(2, "c2a", 4, at(1200, 1210)), // after 1000, before 1600
				finalNone("L"),
			},
			want: Fail,
			// The note names the tenure by the write that began it (c1a);
			// its deadline is the renewal's.
			note: []string{"candidate 2 acquired at 1.210s (c2a)", "candidate 1 held it until 1.600s", "both leaders for 390ms"},
		},
		{
			name: "without the renewal the same acquisition is a hand-over",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				acquire(2, "c2a", 3, at(1200, 1210)),
				finalNone("L"),
			},
			want: Pass,
		},
		{
			name: "a renewal that failed extends nothing",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				conflict(renew(1, "c1b", 1, 0, at(600, 610))),
				acquire(2, "c2a", 3, at(1200, 1210)),
				finalNone("L"),
			},
			want: Pass,
		},
		{
			name: "a renewal of unknown outcome grants nothing",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				unknown(renew(1, "c1b", 1, 0, at(600, 0))),
				acquire(2, "c2a", 3, at(1200, 1210)),
				finalNone("L"),
			},
			want: Pass,
		},
		{
			name: "an acquisition of unknown outcome grants nothing",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				unknown(acquire(2, "c2a", 0, at(500, 0))),
				finalNone("L"),
			},
			want: Pass,
		},
		{
			name: "hand-over after a release",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				delExpect(1, "L", 1, at(200, 210)), // candidate 1 stops at 200
				acquire(2, "c2a", 3, at(205, 215)),
				finalNone("L"),
			},
			want: Pass,
		},
		{
			name: "acquiring before the release was invoked",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				acquire(2, "c2a", 2, at(150, 160)),
				delExpect(1, "L", 1, at(200, 210)),
				finalNone("L"),
			},
			want: Fail,
			note: []string{"candidate 2 acquired at 0.160s (c2a)", "candidate 1 held it until 0.200s (c1a)", "both leaders for 40ms"},
		},
		{
			name: "the same candidate re-acquiring is no second leader",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				acquire(1, "c1b", 2, at(500, 510)),
				finalNone("L"),
			},
			want: Pass,
		},
		{
			name: "leases of different keys are independent",
			recs: []history.Record{
				acquire(1, "c1a", 1, at(0, 10)),
				withTTL(create(2, "M", "c2a", 2, at(500, 510)), leaseTTL),
				finalNone("L"),
				finalNone("M"),
			},
			want: Pass,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var notes [][]string
			if tc.note != nil {
				notes = append(notes, append([]string{CheckMutualExclusion + ": "}, tc.note...))
			}
			wantCheck(t, patternRun(history.PatternLease, tc.recs...), CheckMutualExclusion, tc.want, notes...)
		})
	}
}

func TestMutualExclusionSkippedWithoutLeasePattern(t *testing.T) {
	for _, pattern := range []string{"", history.PatternCounter, history.PatternSessions} {
		h := patternRun(history.PatternLease,
			acquire(1, "c1a", 1, at(0, 10)),
			acquire(2, "c2a", 2, at(500, 510)),
			finalNone("L"),
		)
		h.Meta.Pattern = pattern
		c, _ := checkOnly(t, h, CheckMutualExclusion)
		if c.Result != Skipped {
			t.Errorf("pattern %q: %s = %s, want skipped (%s)", pattern, CheckMutualExclusion, c.Result, c.Detail)
		}
	}
}

func TestMutualExclusionUnknownWhenNobodyLed(t *testing.T) {
	h := patternRun(history.PatternLease,
		unknown(acquire(1, "c1a", 0, at(0, 0))),
		conflict(acquire(2, "c2a", 0, at(5, 10))),
		finalNone("L"),
	)
	wantCheck(t, h, CheckMutualExclusion, Unknown)
}

// The check is required by default in a lease scenario, while the
// linearizability checks (which cannot model expiry) are not.
func TestMutualExclusionRequiredForLeases(t *testing.T) {
	h := patternRun(history.PatternLease,
		acquire(1, "c1a", 1, at(0, 10)),
		acquire(2, "c2a", 3, at(1005, 1015)),
		finalNone("L"),
	)
	res, _ := runCheck(t, h)
	if c := checkNamed(t, res, CheckMutualExclusion); !c.Required || c.Result != Pass {
		t.Errorf("%s: %+v, want required and pass", CheckMutualExclusion, c)
	}
	if c := checkNamed(t, res, CheckLinearizableWrites); c.Required || c.Result != Skipped {
		t.Errorf("%s: %+v, want skipped, not required", CheckLinearizableWrites, c)
	}
}

// A candidate whose acquire is acknowledged only after its deadline
// (invoke + TTL) held nothing it could rely on: its tenure is empty and
// overlaps no one's. Here candidate 2's create, invoked at 0 with TTL 1 s,
// may have been stored at once and expired by 1.0 s; candidate 1 then
// created the key at 1.1..1.2 s; candidate 2's acknowledgement arrived at
// 1.5 s, past its deadline. No two candidates ever both held the lease.
func TestMutualExclusionIgnoresEmptyTenures(t *testing.T) {
	h := patternRun(history.PatternLease,
		acquire(2, "c2a", 1, at(0, 1500)),
		acquire(1, "c1a", 3, at(1100, 1200)),
		finalNone("L"),
	)
	res := wantCheck(t, h, CheckMutualExclusion, Pass)
	noNote(t, res, CheckMutualExclusion, "both leaders")
}
