// Package chaos injects faults into the servers of a run while the workload
// goes on — the nemesis — and records every fault, with its window, into
// the history. After the last fault it heals everything and waits, bounded
// and recorded, for a healthy cluster, so the final reads see one.
package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// Step is one planned fault: what, where, when (since the workload
// started), for how long. A scenario file's faults.plan lists them.
type Step struct {
	Kind     string        `yaml:"kind"`
	Target   string        `yaml:"target"`   // as Schedule.Target; default random
	At       time.Duration `yaml:"at"`       // since the workload started
	Duration time.Duration `yaml:"duration"` // how long it lasts
}

// Schedule says what to inject, where and how often: a random mix of
// Kinds at an Interval, or a Plan of steps, one after the other.
type Schedule struct {
	// Plan, when set, replaces the mix: each step runs once, in order, at
	// its time or as soon as the step before it has healed.
	Plan []Step
	// Kinds: each fault is one of these, picked at random (a mix).
	Kinds []string
	// Target selects the nodes a fault hits (see Targets).
	Target string
	// Start of the first fault; default one Interval, so the workload warms
	// up on a healthy cluster.
	Start time.Duration
	// Interval between the starts of two faults.
	Interval time.Duration
	// Duration of each fault (a killed node stays down this long).
	Duration time.Duration
	// Latency and Jitter: the delay a latency fault adds on each link.
	Latency, Jitter time.Duration
	// PartitionMode: how a partition cuts links, reset (default) or
	// blackhole.
	PartitionMode cluster.LinkMode
	// UpgradeBin: rolling-restart starts each node on this binary.
	UpgradeBin string
	// HealTimeout bounds the wait for a healthy cluster after the last
	// fault.
	HealTimeout time.Duration
	Seed        uint64
}

// Nemesis runs a Schedule against a target.
type Nemesis struct {
	Schedule Schedule
	Target   *cluster.Target
	// Stream is the bucket's stream: leader selection, step-downs and the
	// final health wait are about it.
	Stream string
	Now    func() int64 // ns since run start, the run's clock
	Out    *history.Writer
	rng    *rand.Rand
	ops    *streamOps
	step   Step                   // the fault being injected
	now    atomic.Pointer[string] // what is broken right now, for progress displays
}

// Active: the schedule injects something.
func (s Schedule) Active() bool { return len(s.Kinds) > 0 || len(s.Plan) > 0 }

// NeedsProcesses: some fault of the schedule acts on server processes, so
// the servers must be spawned, not embedded.
func (s Schedule) NeedsProcesses() bool { return NeedProcesses(s.kinds()) }

// NeedsLazyStores: some fault of the schedule loses what the nodes did not
// fsync, so their stores must be on lazyfs.
func (s Schedule) NeedsLazyStores() bool { return NeedLazyStores(s.kinds()) }

// kinds lists every kind the schedule may inject.
func (s Schedule) kinds() []string {
	kinds := append([]string(nil), s.Kinds...)
	for _, st := range s.Plan {
		kinds = append(kinds, st.Kind)
	}
	return kinds
}

// ParsePartitionMode reads a partition mode's name: reset (also the
// default, "") or blackhole.
func ParsePartitionMode(name string) (cluster.LinkMode, error) {
	switch name {
	case "", "reset":
		return cluster.LinkReset, nil
	case "blackhole":
		return cluster.LinkBlackhole, nil
	}
	return cluster.LinkReset, fmt.Errorf("partition mode must be reset or blackhole, got %q", name)
}

// Current says which fault is in progress ("" when none), for live
// progress; safe to call from any goroutine.
func (n *Nemesis) Current() string {
	if s := n.now.Load(); s != nil {
		return *s
	}
	return ""
}

// Validate says whether the schedule can run against t.
func (s Schedule) Validate(t *cluster.Target) error {
	if len(s.Plan) > 0 && len(s.Kinds) > 0 {
		return fmt.Errorf("faults: give either kinds (a random mix) or plan (a list of steps), not both")
	}
	kinds := s.Kinds
	for i, st := range s.Plan {
		kinds = append(kinds, st.Kind)
		if st.Duration <= 0 || st.At < 0 {
			return fmt.Errorf("faults plan step %d (%s): needs a positive duration and a start >= 0", i+1, st.Kind)
		}
		if _, err := parseTarget(st.Target); err != nil {
			return fmt.Errorf("faults plan step %d: %w", i+1, err)
		}
	}
	for _, k := range kinds {
		f, ok := faults[k]
		if !ok {
			return fmt.Errorf("unknown fault %q (known: %s)", k, strings.Join(Kinds(), ", "))
		}
		if f.needsProcesses && t.Processes == nil {
			return fmt.Errorf("fault %q needs spawned servers (--server-bin, or none to spawn this harness): %s", k, f.why)
		}
		if f.needsLazyStores && t.Processes != nil && !t.Processes.LazyStores() {
			return fmt.Errorf("fault %q needs the nodes' stores on lazyfs, which the harness mounts for it", k)
		}
		if (k == "partition" || k == "latency") && t.Processes != nil && t.Processes.Links == nil {
			return fmt.Errorf("fault %q needs at least 2 nodes: it acts on the links between them", k)
		}
		if k == "latency" && s.Latency <= 0 {
			return fmt.Errorf("fault latency needs a positive latency (--fault-latency)")
		}
	}
	if s.UpgradeBin != "" {
		if _, err := os.Stat(s.UpgradeBin); err != nil {
			return fmt.Errorf("upgrade binary: %w", err)
		}
	}
	if _, err := parseTarget(s.Target); err != nil {
		return err
	}
	if len(s.Kinds) > 0 && (s.Interval <= 0 || s.Duration <= 0 || s.Duration >= s.Interval) {
		return fmt.Errorf("faults need 0 < fault duration < fault interval, got %s and %s", s.Duration, s.Interval)
	}
	if s.Start < 0 {
		return fmt.Errorf("fault start must not be negative, got %s", s.Start)
	}
	return nil
}

// Run injects faults until ctx ends (or the plan is done), then heals
// every fault and waits for a healthy cluster: every node up, the stream
// with a leader and current replicas. That wait is recorded as a fault of
// kind heal.
func (n *Nemesis) Run(ctx context.Context) {
	if !n.Schedule.Active() {
		return
	}
	// A fault that panics mid-way must not leave the cluster broken for
	// the final phase: heal, then let the panic go on to the run's owner.
	defer func() {
		if p := recover(); p != nil {
			n.heal()
			panic(p)
		}
	}()
	n.rng = rand.New(rand.NewPCG(n.Schedule.Seed, 0xfa017))
	n.ops = newStreamOps(n.Target, n.Stream)
	defer n.ops.close()
	if len(n.Schedule.Plan) > 0 {
		n.runPlan(ctx)
		return
	}
	first := n.Schedule.Start
	if first == 0 {
		first = n.Schedule.Interval
	}
	next := time.NewTimer(first)
	defer next.Stop()
	for {
		select {
		case <-ctx.Done():
			n.heal()
			return
		case <-next.C:
		}
		if ctx.Err() != nil { // the run ended as the timer fired
			n.heal()
			return
		}
		started := time.Now()
		n.step = Step{Kind: n.Schedule.Kinds[n.rng.IntN(len(n.Schedule.Kinds))], Target: n.Schedule.Target, Duration: n.Schedule.Duration}
		n.inject(ctx)
		wait := n.Schedule.Interval - time.Since(started)
		if wait < 0 {
			wait = 0
		}
		next.Reset(wait)
	}
}

// runPlan runs the plan's steps in order, each at its time, then waits for
// the workload to end before healing.
func (n *Nemesis) runPlan(ctx context.Context) {
	started := time.Now()
	for _, st := range n.Schedule.Plan {
		select {
		case <-ctx.Done():
			n.heal()
			return
		case <-time.After(time.Until(started.Add(st.At))):
		}
		if ctx.Err() != nil {
			break
		}
		n.step = st
		n.inject(ctx)
	}
	<-ctx.Done()
	n.heal()
}

// inject runs n.step from start to heal and records it.
func (n *Nemesis) inject(ctx context.Context) {
	kind := n.step.Kind
	f := faults[kind]
	nodes, err := n.pickTargets(ctx, kind)
	rec := history.Fault{Kind: kind, Target: n.names(nodes), Start: n.Now()}
	if len(nodes) == 0 && err == nil {
		rec.Target = "stream"
	}
	current := kind + " " + rec.Target
	n.now.Store(&current)
	defer n.now.Store(nil)
	if err != nil {
		rec.Error = err.Error()
	} else {
		rec.Detail, err = f.run(ctx, n, nodes)
		if err != nil {
			rec.Error = err.Error()
		}
	}
	rec.End = n.Now()
	n.Out.Write(&history.Record{Kind: history.KindFault, Fault: &rec})
}

// hold waits for the fault's duration, or less when the run ends.
func (n *Nemesis) hold(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(n.step.Duration):
	}
}

// heal undoes whatever is still broken and waits for health.
func (n *Nemesis) heal() {
	rec := history.Fault{Kind: "heal", Target: "cluster", Start: n.Now()}
	healing := "healing"
	n.now.Store(&healing)
	defer n.now.Store(nil)
	if p := n.Target.Processes; p != nil {
		if p.Links != nil {
			p.Links.Heal()
		}
		for i := range p.Names() {
			_ = p.Resume(i)
			if !p.Running(i) {
				if err := p.Restart(i); err != nil {
					rec.Error = err.Error()
				}
			}
		}
	}
	timeout := n.Schedule.HealTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := n.waitHealthy(ctx); err != nil && rec.Error == "" {
		rec.Error = fmt.Sprintf("cluster not healthy within %s: %v", timeout, err)
	}
	rec.End = n.Now()
	rec.Detail = fmt.Sprintf("healthy after %.1f s", float64(rec.End-rec.Start)/1e9)
	if rec.Error != "" {
		rec.Detail = ""
	}
	n.Out.Write(&history.Record{Kind: history.KindFault, Fault: &rec})
}

// waitHealthy: every spawned node passes its health check and the stream
// has a leader with every replica current.
func (n *Nemesis) waitHealthy(ctx context.Context) error {
	if p := n.Target.Processes; p != nil {
		if err := p.WaitHealthy(ctx); err != nil {
			return err
		}
	}
	return n.ops.waitStreamHealthy(ctx)
}

func (n *Nemesis) names(nodes []int) string {
	all := n.nodeNames()
	var s []string
	for _, i := range nodes {
		s = append(s, all[i])
	}
	return strings.Join(s, ",")
}

func (n *Nemesis) nodeNames() []string {
	if p := n.Target.Processes; p != nil {
		return p.Names()
	}
	var names []string
	for i := 0; i < n.Target.Nodes; i++ {
		names = append(names, fmt.Sprintf("n%d", i+1))
	}
	return names
}
