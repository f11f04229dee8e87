// Package chaos injects faults into the servers of a run while the workload
// goes on — the nemesis — and records every fault, with its window, into
// the history.
package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// Kinds of fault this package can inject.
var Kinds = []string{"kill"}

// Schedule says what to inject and how often.
type Schedule struct {
	Kinds []string
	// Interval between the starts of two faults; the first starts after one
	// interval, so the workload warms up on a healthy cluster.
	Interval time.Duration
	// Duration of each fault (a killed node stays down this long).
	Duration time.Duration
	Seed     uint64
}

// Nemesis runs a Schedule against a target.
type Nemesis struct {
	Schedule Schedule
	Target   *cluster.Target
	Now      func() int64 // ns since run start, the run's clock
	Out      *history.Writer
	rng      *rand.Rand
}

// Validate says whether the schedule can run against target.
func (s Schedule) Validate(t *cluster.Target) error {
	for _, k := range s.Kinds {
		switch k {
		case "kill":
			if t.Processes == nil {
				return fmt.Errorf("fault %q needs spawned servers (--server-bin): it kills processes", k)
			}
		default:
			return fmt.Errorf("unknown fault %q (known: %v)", k, Kinds)
		}
	}
	if len(s.Kinds) > 0 && (s.Interval <= 0 || s.Duration <= 0 || s.Duration >= s.Interval) {
		return fmt.Errorf("faults need 0 < fault duration < fault interval, got %s and %s", s.Duration, s.Interval)
	}
	return nil
}

// Run injects faults until ctx ends, then heals: every node is running again
// when it returns.
func (n *Nemesis) Run(ctx context.Context) {
	if len(n.Schedule.Kinds) == 0 {
		return
	}
	n.rng = rand.New(rand.NewPCG(n.Schedule.Seed, 0xfa017))
	t := time.NewTicker(n.Schedule.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		kind := n.Schedule.Kinds[n.rng.IntN(len(n.Schedule.Kinds))]
		n.inject(ctx, kind)
	}
}

func (n *Nemesis) inject(ctx context.Context, kind string) {
	p := n.Target.Processes
	i := n.rng.IntN(len(p.Names()))
	f := history.Fault{Kind: kind, Target: p.Names()[i], Start: n.Now()}
	if err := p.Kill(i); err != nil {
		f.Error = err.Error()
	}
	select {
	case <-ctx.Done():
	case <-time.After(n.Schedule.Duration):
	}
	if err := p.Restart(i); err != nil && f.Error == "" {
		f.Error = "restart: " + err.Error()
	}
	f.End = n.Now()
	n.Out.Write(&history.Record{Kind: history.KindFault, Fault: &f})
}
