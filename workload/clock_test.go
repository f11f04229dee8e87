package workload

import (
	"testing"
	"time"
)

// A reading preempted between its wall and its monotonic read has a late
// monotonic half; the clock starts from another one.
func TestClosestPairSkipsAPreemptedReading(t *testing.T) {
	pairs := []clockPair{
		{wall: 1_000_000, mono: 5_000_030}, // preempted for 5 ms
		{wall: 6_000_060, mono: 5_000_060}, // the closest pair (wall - mono is greatest)
		{wall: 6_000_090, mono: 5_000_100},
		{wall: 6_000_120, mono: 5_400_120},  // preempted for 0.4 ms
		{wall: 6_000_150, mono: 10_000_150}, // preempted for 5 ms
	}
	if got := closestPair(pairs); got != 1 {
		t.Errorf("closestPair = %d, want 1", got)
	}
}

// A clock started from the wall reads what the wall clock says since then
// (within a millisecond: a pairing error, which the test cannot tell from
// a slow machine).
func TestClockFromWallFollowsTheWallClock(t *testing.T) {
	start := time.Now().Add(-time.Second).UnixNano()
	c := ClockFromWall(start)
	before := time.Now().UnixNano() - start
	got := c.Now()
	after := time.Now().UnixNano() - start
	if got < before-int64(time.Millisecond) || got > after+int64(time.Millisecond) {
		t.Errorf("clock reads %d ns, the wall clock %d to %d ns since the start", got, before, after)
	}
}
