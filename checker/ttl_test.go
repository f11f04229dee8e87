package checker

import (
	"testing"

	"github.com/kvharness/kvharness/history"
)

// withTTL gives a write a per-message TTL of ttlMs milliseconds.
func withTTL(r history.Record, ttlMs int64) history.Record {
	r.TTL = ms(ttlMs)
	return r
}

// The session key "s" is written at 0..10 ms with a TTL of 1 s: it expires
// by 1010 ms, and with the default tolerance of 1 s must not be read from
// 2010 ms on.
func TestTTLExpiry(t *testing.T) {
	write := withTTL(create(1, "s", "v1", 1, at(0, 10)), 1000)
	tests := []struct {
		name        string
		recs        []history.Record
		toleranceMs int64
		want        Status
		note        []string
	}{
		{
			name: "read before expiry",
			recs: []history.Record{write, get(2, "s", "v1", 1, at(900, 905)), finalNone("s")},
			want: Pass,
		},
		{
			name: "read after expiry within the tolerance",
			recs: []history.Record{write, get(2, "s", "v1", 1, at(1500, 1505)), finalNone("s")},
			want: Pass,
		},
		{
			name: "read exactly the tolerance after expiry",
			recs: []history.Record{write, get(2, "s", "v1", 1, at(2010, 2015)), finalNone("s")},
			want: Pass,
		},
		{
			name: "read past the tolerance",
			recs: []history.Record{write, get(2, "s", "v1", 1, at(2100, 2105)), finalNone("s")},
			want: Fail,
			note: []string{`get by client 2 of key "s" at 2.100s returned v1`, "written with TTL 1s by 0.010s", "1.09s past its expiry (tolerance 1s)"},
		},
		{
			name: "read past the tolerance that found nothing",
			recs: []history.Record{write, get(2, "s", "", 0, at(2100, 2105)), finalNone("s")},
			want: Pass,
		},
		{
			// The clock starts at the acknowledgement: a slow write
			// expires later.
			name: "slow acknowledgement moves the expiry",
			recs: []history.Record{withTTL(create(1, "s", "v1", 1, at(0, 1500)), 1000), get(2, "s", "v1", 1, at(3400, 3405)), finalNone("s")},
			want: Pass,
		},
		{
			name: "a newer write has its own TTL",
			recs: []history.Record{
				write,
				withTTL(update(1, "s", "v2", 1, 2, at(800, 810)), 1000),
				get(2, "s", "v2", 2, at(2500, 2505)), // v2 expires by 1810, read 690 ms late
				finalNone("s"),
			},
			want: Pass,
		},
		{
			name: "final read of a key that never expired",
			recs: []history.Record{write, final("s", "v1", 1)},
			want: Fail,
			note: []string{`final read of key "s" at 10.000s returned v1`, "8.99s past its expiry"},
		},
		{
			name: "final read of an expired key",
			recs: []history.Record{write, finalNone("s")},
			want: Pass,
		},
		{
			name: "final read of a value written without a TTL",
			recs: []history.Record{write, put(1, "s", "p1", 2, at(100, 110)), final("s", "p1", 2)},
			want: Pass,
		},
		{
			name:        "a tighter tolerance",
			recs:        []history.Record{write, get(2, "s", "v1", 1, at(1500, 1505)), finalNone("s")},
			toleranceMs: 200,
			want:        Fail,
			note:        []string{`get by client 2 of key "s"`, "490ms past its expiry (tolerance 200ms)"},
		},
		{
			name:        "a looser tolerance",
			recs:        []history.Record{write, get(2, "s", "v1", 1, at(2100, 2105)), finalNone("s")},
			toleranceMs: 5000,
			want:        Pass,
		},
		{
			name:        "a loose tolerance still catches a key that never expired",
			recs:        []history.Record{write, final("s", "v1", 1)},
			toleranceMs: 5000,
			want:        Fail,
			note:        []string{"final read", "(tolerance 5s)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := patternRun(history.PatternSessions, tc.recs...)
			h.Meta.TTLToleranceMs = tc.toleranceMs
			var notes [][]string
			if tc.note != nil {
				notes = append(notes, append([]string{CheckTTLExpiry + ": "}, tc.note...))
			}
			res := wantCheck(t, h, CheckTTLExpiry, tc.want, notes...)
			// The model knows nothing of expiry: the linearizability
			// checks stand aside rather than fail.
			wantStatus(t, res, map[string]Status{CheckLinearizableWrites: Skipped, CheckLinearizableReads: Skipped})
		})
	}
}

func TestTTLExpirySkippedWithoutTTLs(t *testing.T) {
	h := patternRun(history.PatternSessions, put(1, "s", "v1", 1, at(0, 10)), get(2, "s", "v1", 1, at(5000, 5005)), final("s", "v1", 1))
	wantCheck(t, h, CheckTTLExpiry, Skipped)
	// A failed TTL write is no write with a TTL.
	h = patternRun(history.PatternSessions, failed(withTTL(create(1, "s", "v1", 0, at(0, 10)), 1000), history.ClassBadRequest), finalNone("s"))
	wantCheck(t, h, CheckTTLExpiry, Skipped)
}

// A TTL write of unknown outcome expires counting from when it was first
// seen.
func TestTTLExpiryUnknownWriteCountsFromSighting(t *testing.T) {
	h := patternRun(history.PatternSessions,
		unknown(withTTL(create(1, "s", "v1", 0, at(0, 0)), 1000)),
		watch("s", "v1", 1, 50), // in the stream by 50 ms: expires by 1050
		get(2, "s", "v1", 1, at(2100, 2105)),
		finalNone("s"),
	)
	wantCheck(t, h, CheckTTLExpiry, Fail, []string{CheckTTLExpiry + ": ", "written with TTL 1s by 0.050s", "1.05s past its expiry"})
	// Never seen: when it landed is unknown, so nothing can be said.
	h = patternRun(history.PatternSessions,
		unknown(withTTL(create(1, "s", "v1", 0, at(0, 0)), 1000)),
		finalNone("s"),
	)
	wantCheck(t, h, CheckTTLExpiry, Skipped)
}
