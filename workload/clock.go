package workload

import "time"

// Clock gives monotonic nanoseconds since the start of the run: one clock
// for every client, watcher and fault of a run, so times compare.
type Clock struct{ start time.Time }

// NewClock starts a clock now.
func NewClock() Clock { return Clock{start: time.Now()} }

// Now is nanoseconds since the clock started (monotonic).
func (c Clock) Now() int64 { return int64(time.Since(c.start)) }

// Start is the wall-clock start, for humans only.
func (c Clock) Start() time.Time { return c.start }

// ClockFromWall is a clock that reads 0 at the wall-clock time start
// (Unix ns) and runs on the monotonic clock from now on: a worker of a run
// spread over several machines starts its clock where the coordinator's
// reads by the wall clock (see fleet.Job). One reading of the clock gives
// both, so no pause between two readings can shift it.
func ClockFromWall(start int64) Clock {
	now := time.Now()
	return Clock{start: now.Add(-time.Duration(now.UnixNano() - start))}
}
