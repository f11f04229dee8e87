package checker

import (
	"math"
	"testing"
)

// A timeline holds 32-bit revisions until one does not fit, then every
// revision it held as it was; it carries each millisecond's highest
// forward, and answers for the last full millisecond before a time.
func TestRevTimeline(t *testing.T) {
	var tl revTimeline
	tl.raise(2, 7)
	if !tl.raise(2, 9) || tl.raise(2, 8) || tl.big != nil {
		t.Fatalf("raise: %v %v", tl.small, tl.big)
	}
	huge := uint64(math.MaxUint32) + 5
	tl.raise(5, huge)
	tl.raise(4, 3)
	if tl.small != nil || tl.len() != 6 || tl.at(2) != 9 || tl.at(5) != huge {
		t.Fatalf("after a 33-bit revision: small %v big %v", tl.small, tl.big)
	}
	tl.carryForward()
	want := []uint64{0, 0, 9, 9, 9, huge}
	for ms, w := range want {
		if tl.at(ms) != w {
			t.Errorf("ms %d: %d, want %d", ms, tl.at(ms), w)
		}
	}
	for _, c := range []struct {
		at   int64
		want uint64
	}{{0, 0}, {2_999_999, 0}, {3_000_000, 9}, {5_999_999, 9}, {6_000_000, huge}, {1e12, huge}} {
		if got := tl.before(c.at); got != c.want {
			t.Errorf("before(%d) = %d, want %d", c.at, got, c.want)
		}
	}
	if ms := tl.firstReaching(9); ms != 2 {
		t.Errorf("firstReaching(9) = %d, want 2", ms)
	}
	if ms := tl.firstReaching(huge + 1); ms != tl.len() {
		t.Errorf("firstReaching beyond the end = %d, want %d", ms, tl.len())
	}
}
