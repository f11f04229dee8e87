package workload

import (
	"context"
	"sync/atomic"
)

// Pacer decides when each client may start its next operation. Clients ask
// it before every op; it answers whether to go on. The closed loop answers
// at once; an open-loop pacer (fixed arrival rate) will also say when the op
// was meant to start, so latency can be measured from there.
type Pacer interface {
	// Next blocks until the next op may start, or returns false when the
	// run is over (duration elapsed, op budget spent, or stopped).
	Next(ctx context.Context) bool
	// Kind names the pacing in reports: "closed-loop", ...
	Kind() string
}

// ClosedLoop lets every client issue its next op as soon as the previous one
// returns — throughput is whatever the server gives. Ops, when > 0, bounds
// the total number of ops across all clients.
type ClosedLoop struct {
	Ops    int64
	issued atomic.Int64
}

func (p *ClosedLoop) Next(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	n := p.issued.Add(1)
	if p.Ops > 0 && n > p.Ops {
		p.issued.Add(-1)
		return false
	}
	return true
}

func (p *ClosedLoop) Kind() string { return "closed-loop" }

// Issued is how many ops have been let through so far.
func (p *ClosedLoop) Issued() int64 { return p.issued.Load() }
