package checker

import (
	"fmt"
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
	tl.settle()
	if tl.packed == nil || tl.big != nil {
		t.Fatal("settle did not pack")
	}
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

// A packed timeline answers as the one it was packed from, whatever each
// page rises by: under 64k revisions (2 bytes a millisecond), under four
// billion, or more; and so do partial last pages and an empty timeline.
func TestRevTimelinePacked(t *testing.T) {
	for _, c := range []struct {
		name  string
		ms    int
		step  func(ms int) uint64 // the rise into ms
		pages string              // how many pages of each width
	}{
		{"empty", 0, nil, "map[]"},
		{"slow", 3*pageMs + 17, func(ms int) uint64 { return uint64(ms % 3) }, "map[16:4]"},
		{"fast", 2*pageMs + 1, func(ms int) uint64 { return 70 }, "map[16:1 32:2]"}, // 71k a page; the last page is one ms
		{"huge", pageMs + 5, func(ms int) uint64 { return 1 << 23 }, "map[32:1 64:1]"},
		{"mixed", 4 * pageMs, func(ms int) uint64 { return uint64(ms / pageMs * ms / 7) }, "map[16:1 32:3]"},
		{"from 33 bits", 2 * pageMs, func(ms int) uint64 { return math.MaxUint32 * uint64(1-min(ms/pageMs, 1)) }, "map[16:1 64:1]"},
	} {
		var tl, want revTimeline
		var rev uint64
		for ms := range c.ms {
			rev += c.step(ms)
			if rev > 0 && ms%5 != 0 { // gaps: carried forward
				tl.raise(ms, rev)
				want.raise(ms, rev)
			}
		}
		want.carryForward()
		tl.settle()
		if tl.len() != want.len() {
			t.Fatalf("%s: %d ms, want %d", c.name, tl.len(), want.len())
		}
		for ms := range want.len() {
			if tl.at(ms) != want.at(ms) {
				t.Fatalf("%s: ms %d holds %d, want %d", c.name, ms, tl.at(ms), want.at(ms))
			}
		}
		for _, r := range []uint64{0, 1, rev / 2, rev, rev + 1} {
			if got, w := tl.firstReaching(r), want.firstReaching(r); got != w {
				t.Errorf("%s: firstReaching(%d) = %d, want %d", c.name, r, got, w)
			}
		}
		kinds := map[string]int{}
		for _, p := range tl.packed {
			switch {
			case p.rise16 != nil:
				kinds["16"]++
			case p.rise32 != nil:
				kinds["32"]++
			default:
				kinds["64"]++
			}
		}
		if got := fmt.Sprint(kinds); got != c.pages {
			t.Errorf("%s: pages %s, want %s", c.name, got, c.pages)
		}
	}
}
