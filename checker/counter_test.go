package checker

import (
	"strings"
	"testing"

	"github.com/kvharness/kvharness/history"
)

// inc makes a write an increment storing count.
func inc(r history.Record, count int64) history.Record {
	r.Count = count
	return r
}

func TestCounterExact(t *testing.T) {
	tests := []struct {
		name string
		h    *history.History
		want Status
		note []string
	}{
		{
			name: "final count equals the acknowledged increments",
			h: patternRun(history.PatternCounter,
				inc(create(1, "c", "i1", 1, at(0, 10)), 1),
				get(2, "c", "i1", 1, at(15, 18)),
				inc(update(2, "c", "i2", 1, 2, at(20, 30)), 2),
				conflict(inc(update(1, "c", "i3", 1, 0, at(21, 31)), 2)), // lost the race: nothing written
				get(1, "c", "i2", 2, at(35, 38)),
				inc(update(1, "c", "i4", 2, 3, at(40, 50)), 3),
				final("c", "i4", 3),
			),
			want: Pass,
		},
		{
			name: "lost increment: two acknowledged updates store the same count",
			h: patternRun(history.PatternCounter,
				inc(create(1, "c", "i1", 1, at(0, 10)), 1),
				inc(update(1, "c", "i2", 1, 2, at(20, 30)), 2),
				inc(update(2, "c", "i3", 1, 3, at(21, 31)), 2), // CAS on revision 1 should have failed
				final("c", "i3", 3),
			),
			want: Fail,
			note: []string{`key "c"`, "final count 2, but 3 increments happened (1 lost)"},
		},
		{
			name: "unknown increment not seen: final may be without it",
			h: patternRun(history.PatternCounter,
				inc(create(1, "c", "i1", 1, at(0, 10)), 1),
				inc(update(1, "c", "i2", 1, 2, at(20, 30)), 2),
				unknown(inc(update(2, "c", "i3", 2, 0, at(40, 0)), 3)),
				final("c", "i2", 2),
			),
			want: Pass,
		},
		{
			name: "unknown increments widen the range: final at the bottom",
			h: patternRun(history.PatternCounter,
				inc(create(1, "c", "i1", 1, at(0, 10)), 1),
				inc(update(1, "c", "i2", 1, 2, at(20, 30)), 2),
				unknown(inc(update(2, "c", "i3", 2, 0, at(40, 0)), 3)),
				unknown(inc(update(1, "c", "i4", 2, 0, at(45, 0)), 3)),
				// neither was seen, so the final count may be 2..4; it is
				// the acknowledged i2's 2
				final("c", "i2", 2),
			),
			want: Pass,
		},
		{
			// i2's outcome is unknown and no record shows it, but i3's CAS
			// on revision 2 says it happened: count 3 after 2 acknowledged
			// increments and 1 unknown is the top of the range.
			name: "unknown increments widen the range: final at the top",
			h: patternRun(history.PatternCounter,
				inc(create(1, "c", "i1", 1, at(0, 10)), 1),
				unknown(inc(update(2, "c", "i2", 1, 0, at(20, 0)), 2)),
				get(1, "c", "i2", 2, at(40, 45)),
				inc(update(1, "c", "i3", 2, 3, at(50, 60)), 3),
				final("c", "i3", 3),
			),
			want: Pass,
		},
		{
			name: "unknown increment that the final read shows happened",
			h: patternRun(history.PatternCounter,
				inc(create(1, "c", "i1", 1, at(0, 10)), 1),
				inc(update(1, "c", "i2", 1, 2, at(20, 30)), 2),
				unknown(inc(update(2, "c", "i3", 2, 0, at(40, 0)), 3)),
				final("c", "i3", 3),
			),
			want: Pass,
		},
		{
			name: "below the range: an acknowledged increment lost despite an unknown one",
			h: patternRun(history.PatternCounter,
				inc(create(1, "c", "i1", 1, at(0, 10)), 1),
				inc(update(1, "c", "i2", 1, 2, at(20, 30)), 2),
				inc(update(2, "c", "i3", 2, 3, at(40, 50)), 3),
				unknown(inc(update(1, "c", "i4", 3, 0, at(60, 0)), 4)),
				final("c", "i2", 2), // allowed 3..4
			),
			want: Fail,
			note: []string{`key "c"`, "final count 2, but 3 increments happened (1 lost)"},
		},
		{
			name: "above the range",
			h: patternRun(history.PatternCounter,
				inc(create(1, "c", "i1", 1, at(0, 10)), 1),
				unknown(inc(update(2, "c", "i2", 1, 0, at(20, 0)), 5)),
				final("c", "i2", 2), // seen, so it happened: 2 increments, count 5
			),
			want: Fail,
			note: []string{`key "c"`, "final count 5, but at most 2 increments happened"},
		},
		{
			name: "final value is no increment",
			h: patternRun(history.PatternCounter,
				inc(create(1, "c", "i1", 1, at(0, 10)), 1),
				put(2, "c", "stranger", 2, at(20, 30)),
				final("c", "stranger", 2),
			),
			want: Fail,
			note: []string{`key "c"`, `final value "stranger" is not an increment of this run`},
		},
		{
			name: "failed increments do not count",
			h: patternRun(history.PatternCounter,
				inc(create(1, "c", "i1", 1, at(0, 10)), 1),
				failed(inc(update(2, "c", "i2", 1, 0, at(20, 30)), 2), history.ClassNoResponders),
				final("c", "i1", 1),
			),
			want: Pass,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var notes [][]string
			if tc.note != nil {
				notes = append(notes, append([]string{CheckCounterExact + ": "}, tc.note...))
			}
			wantCheck(t, tc.h, CheckCounterExact, tc.want, notes...)
		})
	}
}

func TestCounterExactRangeInDetail(t *testing.T) {
	h := patternRun(history.PatternCounter,
		inc(create(1, "c", "i1", 1, at(0, 10)), 1),
		inc(update(1, "c", "i2", 1, 2, at(20, 30)), 2),
		unknown(inc(update(2, "c", "i3", 2, 0, at(40, 0)), 3)),
		final("c", "i2", 2),
	)
	c, _ := checkOnly(t, h, CheckCounterExact)
	for _, want := range []string{`"c" = 2 after 2 increments`, "+ 1 of unknown outcome: allowed 2..3"} {
		if !strings.Contains(c.Detail, want) {
			t.Errorf("detail lacks %q: %s", want, c.Detail)
		}
	}
}

func TestCounterExactSkippedWithoutCounterPattern(t *testing.T) {
	for _, pattern := range []string{"", history.PatternLease, history.PatternSessions} {
		// A lost increment, but the run was no counter scenario.
		h := patternRun(history.PatternCounter,
			inc(create(1, "c", "i1", 1, at(0, 10)), 1),
			inc(update(1, "c", "i2", 1, 2, at(20, 30)), 2),
			inc(update(2, "c", "i3", 1, 3, at(21, 31)), 2),
			final("c", "i3", 3),
		)
		h.Meta.Pattern = pattern
		c, _ := checkOnly(t, h, CheckCounterExact)
		if c.Result != Skipped {
			t.Errorf("pattern %q: %s = %s, want skipped (%s)", pattern, CheckCounterExact, c.Result, c.Detail)
		}
	}
}

func TestCounterExactUnknownWithoutFinalReads(t *testing.T) {
	h := patternRun(history.PatternCounter,
		inc(create(1, "c", "i1", 1, at(0, 10)), 1),
		final("c", "i1", 1),
	)
	h.End.FinalReads = false
	wantCheck(t, h, CheckCounterExact, Unknown)
	h.End = nil
	wantCheck(t, h, CheckCounterExact, Unknown)
}
