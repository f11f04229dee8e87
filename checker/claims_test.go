package checker

import (
	"math"
	"testing"
)

// Claims hold each revision's key id whatever its width, and keep what a
// page held when a wider id widens it.
func TestRevClaims(t *testing.T) {
	var c revClaims
	want := map[uint64]uint32{}
	set := func(rev uint64, v uint32) {
		c.set(rev, v)
		want[rev] = v
	}
	set(1, 3)
	set(claimPage-1, math.MaxUint8)
	set(5*claimPage+7, 9) // pages between stay empty
	if c.pages[0].ids8 == nil || c.pages[1].ids8 != nil || c.pages[5].ids8 == nil {
		t.Fatalf("narrow pages: %+v", c.pages[:2])
	}
	set(2, math.MaxUint8+1) // widens page 0 to 16 bits
	if c.pages[0].ids8 != nil || c.pages[0].ids16 == nil {
		t.Fatal("page 0 not widened to 16 bits")
	}
	set(3, 4) // a narrow id on a wide page
	set(5*claimPage+8, math.MaxUint16+1)
	if c.pages[5].ids32 == nil || c.pages[5].ids8 != nil {
		t.Fatal("page 5 not widened to 32 bits")
	}
	set(4, math.MaxUint32)
	for rev := range uint64(7 * claimPage) {
		if got := c.at(rev); got != want[rev] {
			t.Fatalf("revision %d: %d, want %d", rev, got, want[rev])
		}
	}
	if c.at(1<<40) != 0 {
		t.Fatal("a revision beyond the pages is claimed")
	}
}
