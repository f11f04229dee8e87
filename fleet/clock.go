package fleet

import (
	"math"
	"time"
)

// clockSample is one round trip: the coordinator's clock when it asked
// (sent) and when the answer came (received), the worker's when it
// answered.
type clockSample struct{ sent, worker, received int64 }

// estimate is an offset (worker's clock minus the coordinator's) and how
// far the truth may be from it.
type estimate struct {
	offset, bound int64
	at            int64 // the coordinator's clock at the estimate
}

// fastest estimates the offset from the round trip that took least time:
// the worker answered at some instant between sent and received, so the
// offset is worker - midpoint, within half the round trip (NTP's rule,
// with no assumption that the two ways took equally long).
func fastest(samples []clockSample) (estimate, bool) {
	best := estimate{bound: math.MaxInt64}
	for _, s := range samples {
		rtt := s.received - s.sent
		if rtt < 0 {
			continue
		}
		if half := (rtt + 1) / 2; half < best.bound {
			best = estimate{offset: s.worker - (s.sent+s.received)/2, bound: half, at: s.received}
		}
	}
	return best, best.bound != math.MaxInt64
}

// combine is the offset for the whole run from estimates taken before,
// during and after it: the middle of the union of their intervals, within
// a bound that covers each estimate's own bound and the drift between them (clocks drift; an
// offset that moved by d between two estimates was off by up to d at
// some point between them).
func combine(ests []estimate) estimate {
	if len(ests) == 0 {
		return estimate{}
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, e := range ests {
		lo = min(lo, e.offset-e.bound)
		hi = max(hi, e.offset+e.bound)
	}
	// Every estimate's interval is within [lo, hi]; its middle is within
	// half the width of any true offset in it.
	return estimate{offset: lo + (hi-lo)/2, bound: (hi - lo + 1) / 2, at: ests[len(ests)-1].at}
}

// clockRounds is how many round trips each estimate takes the fastest of.
const clockRounds = 16

// clockPause spaces the round trips a little, so that one burst of delay
// does not spoil them all.
const clockPause = 2 * time.Millisecond
