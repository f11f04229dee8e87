package workload

import "time"

// Clock gives monotonic nanoseconds since the start of the run: one clock
// for every client, watcher and fault of a run, so times compare.
type Clock struct{ start time.Time }

// NewClock starts a clock now.
func NewClock() Clock { return Clock{start: pairedNow()} }

// Now is nanoseconds since the clock started (monotonic).
func (c Clock) Now() int64 { return int64(time.Since(c.start)) }

// Start is the wall-clock start, for humans only.
func (c Clock) Start() time.Time { return c.start }

// ClockFromWall is a clock that reads 0 at the wall-clock time start
// (Unix ns) and runs on the monotonic clock from now on: a worker of a run
// spread over several machines starts its clock where the coordinator's
// reads by the wall clock (see fleet.Job).
func ClockFromWall(start int64) Clock {
	now := pairedNow()
	return Clock{start: now.Add(-time.Duration(now.UnixNano() - start))}
}

// pairedNow is time.Now, read a few times, keeping the reading whose wall
// and monotonic halves were read closest together. time.Now reads the wall
// clock first and the monotonic clock second (two calls): a thread the
// system preempts between them gets a monotonic time late against its wall
// time, by as long as it waited — milliseconds on a busy machine. A run
// clock started from such a reading is off by that much against the wall
// clock, which is what a fleet's clocks are aligned by: the workers'
// offsets would all be measured off by it.
func pairedNow() time.Time {
	var readings [pairedReadings]time.Time
	var pairs [pairedReadings]clockPair
	for i := range readings {
		readings[i] = time.Now()
	}
	for i, t := range readings {
		pairs[i] = clockPair{wall: t.UnixNano(), mono: int64(t.Sub(readings[0]))}
	}
	return readings[closestPair(pairs[:])]
}

// pairedReadings: how many readings pairedNow takes (about 30 ns each).
const pairedReadings = 8

// clockPair is one reading's two halves: wall time (Unix ns) and monotonic
// time (ns from the first reading).
type clockPair struct{ wall, mono int64 }

// closestPair is the reading whose wall time is latest against its
// monotonic time: a delay between the two reads only makes the monotonic
// half later.
func closestPair(pairs []clockPair) int {
	best := 0
	for i, p := range pairs {
		if p.wall-p.mono > pairs[best].wall-pairs[best].mono {
			best = i
		}
	}
	return best
}
