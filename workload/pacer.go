package workload

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Pacer decides when each client may start its next operation. Clients ask
// it before every op.
type Pacer interface {
	// Next blocks until the next op may start and returns when it was
	// meant to start, or false when the run is over (duration elapsed, op
	// budget spent, or stopped).
	Next(ctx context.Context) (intended time.Time, ok bool)
	// Kind names the pacing in reports: "closed-loop", "open-loop 500/s".
	Kind() string
	// Issued is how many ops have been let through so far.
	Issued() int64
	// Late is how many ops started behind their schedule.
	Late() int64
}

// ClosedLoop lets every client issue its next op as soon as the previous one
// returns — throughput is whatever the server gives, and a stalled server
// simply gets fewer requests (coordinated omission: reports say closed-loop).
// Ops, when > 0, bounds the total number of ops across all clients.
type ClosedLoop struct {
	Ops    int64
	issued atomic.Int64
}

func (p *ClosedLoop) Next(ctx context.Context) (time.Time, bool) {
	if _, ok := take(&p.issued, p.Ops); !ok || ctx.Err() != nil {
		return time.Time{}, false
	}
	return time.Now(), true
}

func (p *ClosedLoop) Kind() string  { return "closed-loop" }
func (p *ClosedLoop) Issued() int64 { return p.issued.Load() }
func (p *ClosedLoop) Late() int64   { return 0 }

// take counts one more op unless the budget is spent; it returns the op's
// index (0-based) in the run.
func take(issued *atomic.Int64, budget int64) (int64, bool) {
	n := issued.Add(1)
	if budget > 0 && n > budget {
		issued.Add(-1)
		return 0, false
	}
	return n - 1, true
}

// Stage is one step of an open-loop schedule: Rate ops/s for For (0: for
// the rest of the run).
type Stage struct {
	Rate float64       `yaml:"rate"` // ops/s across all clients
	For  time.Duration `yaml:"for"`  // how long
}

// OpenLoop schedules ops at a fixed arrival rate across all clients, as wrk2
// does — or at a sequence of rates, one stage after the other: op i is meant
// to start at the time its stage's rate gives it, whether or not the server
// kept up. Clients wait for their op's slot; when every client is busy the
// slot passes and the op starts late — latency is then measured from the
// intended start, so a stalled server shows in the percentiles instead of
// silently slowing the load down. Late ops are counted. After the last
// stage with a length, the run is over.
type OpenLoop struct {
	Stages []Stage
	Ops    int64
	// LateAfter is how far behind schedule an op must start to count as
	// late (default 1 ms).
	LateAfter time.Duration

	start  time.Time
	issued atomic.Int64
	late   atomic.Int64
}

// NewOpenLoop starts a fixed-rate schedule now.
func NewOpenLoop(rate float64, ops int64) *OpenLoop {
	return NewStagedLoop([]Stage{{Rate: rate}}, ops)
}

// NewStagedLoop starts a schedule of stages now.
func NewStagedLoop(stages []Stage, ops int64) *OpenLoop {
	return &OpenLoop{Stages: stages, Ops: ops, LateAfter: time.Millisecond, start: time.Now()}
}

// offset is when op i is meant to start, from the start of the schedule;
// false once the stages are over.
func (p *OpenLoop) offset(i int64) (time.Duration, bool) {
	var at time.Duration
	first := int64(0) // index of the stage's first op
	for _, st := range p.Stages {
		if st.For <= 0 {
			return at + time.Duration(float64(i-first)/st.Rate*float64(time.Second)), true
		}
		n := int64(st.Rate * st.For.Seconds())
		if i < first+n {
			return at + time.Duration(float64(i-first)/st.Rate*float64(time.Second)), true
		}
		first += n
		at += st.For
	}
	return 0, false
}

func (p *OpenLoop) Next(ctx context.Context) (time.Time, bool) {
	if ctx.Err() != nil {
		return time.Time{}, false
	}
	i, ok := take(&p.issued, p.Ops)
	if !ok {
		return time.Time{}, false
	}
	off, ok := p.offset(i)
	if !ok {
		return time.Time{}, false
	}
	intended := p.start.Add(off)
	if wait := time.Until(intended); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return time.Time{}, false
		case <-t.C:
		}
	} else if -wait > p.LateAfter {
		p.late.Add(1)
	}
	return intended, true
}

// Kind names the schedule: "open-loop 500/s", or its stages
// "open-loop 1000/s 30s, 5000/s 1m0s".
func (p *OpenLoop) Kind() string {
	if len(p.Stages) == 1 && p.Stages[0].For <= 0 {
		return "open-loop " + formatRate(p.Stages[0].Rate) + "/s"
	}
	var parts []string
	for _, st := range p.Stages {
		part := formatRate(st.Rate) + "/s"
		if st.For > 0 {
			part += " " + st.For.String()
		}
		parts = append(parts, part)
	}
	return "open-loop " + strings.Join(parts, ", ")
}

func (p *OpenLoop) Issued() int64 { return p.issued.Load() }
func (p *OpenLoop) Late() int64   { return p.late.Load() }

func formatRate(r float64) string {
	if r == float64(int64(r)) {
		return strconv.FormatInt(int64(r), 10)
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}
