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

// ClockReading is a clock that reads now at this instant and runs on the
// monotonic clock from there: a worker of a run spread over several
// machines starts its clock where the coordinator's reads by the wall
// clock (see fleet.Job).
func ClockReading(now int64) Clock { return Clock{start: time.Now().Add(-time.Duration(now))} }
