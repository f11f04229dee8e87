package fleet

import (
	"math/rand/v2"
	"testing"
)

// Whatever the two ways of each round trip take, however unequal, the true
// offset lies within the estimate's bound; and the fastest round trip
// gives the tightest bound.
func TestFastestRoundTripBoundsTheOffset(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 2000; trial++ {
		offset := rng.Int64N(200_000_000) - 100_000_000 // ±100 ms
		var samples []clockSample
		at := int64(1_000_000_000)
		for range clockRounds {
			out := rng.Int64N(2_000_000)  // up to 2 ms there
			back := rng.Int64N(2_000_000) // and back, independently
			sent := at
			samples = append(samples, clockSample{sent: sent, worker: sent + out + offset, received: sent + out + back})
			at += out + back + 1_000_000
		}
		e, ok := fastest(samples)
		if !ok {
			t.Fatal("no estimate")
		}
		if d := e.offset - offset; d > e.bound || -d > e.bound {
			t.Fatalf("trial %d: true offset %d outside %d ± %d", trial, offset, e.offset, e.bound)
		}
		for _, s := range samples {
			if half := (s.received - s.sent + 1) / 2; half < e.bound {
				t.Fatalf("a round trip of %d ns was faster than the bound %d", s.received-s.sent, e.bound)
			}
		}
	}
}

// Estimates before, during and after a run combine into one that covers
// each of them: a clock that drifted between them is covered all along.
func TestCombineCoversDrift(t *testing.T) {
	ests := []estimate{{offset: 1000, bound: 50}, {offset: 1300, bound: 40}, {offset: 1600, bound: 60}}
	c := combine(ests)
	for _, e := range ests {
		if e.offset-e.bound < c.offset-c.bound || e.offset+e.bound > c.offset+c.bound {
			t.Errorf("%+v not covered by %+v", e, c)
		}
	}
	if c.offset != 1305 || c.bound != 355 {
		t.Errorf("combined %+v, want 1305 ± 355", c)
	}
	if one := combine(ests[:1]); one.offset != 1000 || one.bound != 50 {
		t.Errorf("one estimate combined into %+v", one)
	}
	if none := combine(nil); none != (estimate{}) {
		t.Errorf("no estimate combined into %+v", none)
	}
	// Lopsided round trips have no negative times.
	if _, ok := fastest([]clockSample{{sent: 10, worker: 5, received: 9}}); ok {
		t.Error("a round trip that came back before it left gave an estimate")
	}
}

func TestShare(t *testing.T) {
	total := int64(0)
	for i := range 3 {
		total += share(10, i, 3)
	}
	if total != 10 || share(10, 0, 3) != 4 || share(10, 2, 3) != 3 {
		t.Errorf("10 over 3: %d, %d, %d", share(10, 0, 3), share(10, 1, 3), share(10, 2, 3))
	}
}
