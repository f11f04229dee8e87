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
	"runtime/debug"
	"slices"
	"strings"
	"sync"
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
	// Mode: a partition's mode for this step (default the schedule's).
	Mode string `yaml:"mode"`
}

// partitionMode is the mode a partition of this step cuts by.
func (n *injection) partitionMode() PartitionMode {
	if n.step.Mode != "" {
		m, _ := ParsePartitionMode(n.step.Mode) // validated with the schedule
		return m
	}
	return n.Schedule.PartitionMode
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
	// Concurrency: how many faults may be in progress at once (0 or 1:
	// one after the other). Faults that overlap act on different nodes,
	// and at most one at a time on the routes.
	Concurrency int
	// Latency and Jitter: the delay a latency fault adds on each link.
	Latency, Jitter time.Duration
	// PartitionMode: how a partition cuts links, reset (default),
	// blackhole, or one way (mute, deaf).
	PartitionMode PartitionMode
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
	rng    *rand.Rand // draws the mix's kinds and each fault's own numbers
	ops    *streamOps
	slots  chan struct{} // one per fault that may be in progress at once
	// panicked carries the first panic of a fault run beside others;
	// cancel ends the schedule and every fault in progress at once.
	panicked chan any
	cancel   context.CancelFunc
	mu       sync.Mutex // guards active
	active   map[*injection]bool
	// healing: the heal is in progress, for progress displays.
	healing atomic.Bool
}

// Active: the schedule injects something.
func (s Schedule) Active() bool { return len(s.Kinds) > 0 || len(s.Plan) > 0 }

// NeedsProcesses: some fault of the schedule acts on server processes, so
// the servers must be spawned, not embedded.
func (s Schedule) NeedsProcesses() bool { return NeedProcesses(s.kinds()) }

// NeedsLazyStores: some fault of the schedule loses what the nodes did not
// fsync, so their stores must be on lazyfs.
func (s Schedule) NeedsLazyStores() bool { return NeedLazyStores(s.kinds()) }

// NeedsSystemAccount: some fault of the schedule acts as the system
// account, so the nodes must have one.
func (s Schedule) NeedsSystemAccount() bool { return NeedSystemAccount(s.kinds()) }

// kinds lists every kind the schedule may inject.
func (s Schedule) kinds() []string {
	kinds := append([]string(nil), s.Kinds...)
	for _, st := range s.Plan {
		kinds = append(kinds, st.Kind)
	}
	return kinds
}

// PartitionMode says how a partition cuts the routes between the target
// nodes and the rest: both ways (Link: reset or blackhole), or one way
// only, as a blackhole (OneWay: mute, the targets' bytes to the rest are
// held while theirs reach the targets; deaf, the other way round).
type PartitionMode struct {
	Link   cluster.LinkMode
	OneWay string
}

// String names the mode as scenarios spell it.
func (m PartitionMode) String() string {
	if m.OneWay != "" {
		return m.OneWay
	}
	return m.Link.String()
}

// ParsePartitionMode reads a partition mode's name: reset (also the
// default, ""), blackhole, mute or deaf.
func ParsePartitionMode(name string) (PartitionMode, error) {
	switch name {
	case "", "reset":
		return PartitionMode{Link: cluster.LinkReset}, nil
	case "blackhole":
		return PartitionMode{Link: cluster.LinkBlackhole}, nil
	case "mute", "deaf":
		return PartitionMode{Link: cluster.LinkBlackhole, OneWay: name}, nil
	}
	return PartitionMode{}, fmt.Errorf("partition mode must be reset, blackhole, mute or deaf, got %q", name)
}

// Current says which faults are in progress ("" when none), for live
// progress; safe to call from any goroutine.
func (n *Nemesis) Current() string {
	if n.healing.Load() {
		return "healing"
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var now []string
	for in := range n.active {
		now = append(now, in.what)
	}
	slices.Sort(now)
	return strings.Join(now, " + ")
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
		if st.Mode != "" {
			m, err := ParsePartitionMode(st.Mode)
			if err == nil && st.Kind != "partition" {
				err = fmt.Errorf("a mode is a partition's, not %s's", st.Kind)
			}
			if t, _ := parseTarget(st.Target); err == nil && m.OneWay != "" && (t.selector == "all" || t.selector == "bridge") {
				err = fmt.Errorf("a %s partition cuts the target nodes one way from the rest: target %s has no rest", m, t.selector)
			}
			if err != nil {
				return fmt.Errorf("faults plan step %d: %w", i+1, err)
			}
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
		if f.needsSystemAccount && t.Processes != nil && !t.Processes.SystemAccount() {
			return fmt.Errorf("fault %q needs the nodes' system account, which the harness gives them for it", k)
		}
		if f.needsSystemAccount && t.Processes != nil && len(t.Processes.Names()) < 3 {
			return fmt.Errorf("fault %q needs at least 3 nodes: the meta group must keep a quorum without the node it replaces", k)
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
	// One at a time, a fault must end before the next is due; faults that
	// overlap may outlast the interval.
	if len(s.Kinds) > 0 && s.Concurrency <= 1 && (s.Interval <= 0 || s.Duration <= 0 || s.Duration >= s.Interval) {
		return fmt.Errorf("faults need 0 < fault duration < fault interval, got %s and %s (or faults that overlap: --fault-concurrency)", s.Duration, s.Interval)
	}
	if len(s.Kinds) > 0 && s.Concurrency > 1 && (s.Interval <= 0 || s.Duration <= 0) {
		return fmt.Errorf("faults need a positive fault duration and interval, got %s and %s", s.Duration, s.Interval)
	}
	if s.Start < 0 {
		return fmt.Errorf("fault start must not be negative, got %s", s.Start)
	}
	if s.Concurrency < 0 {
		return fmt.Errorf("fault concurrency must be at least 1 (0: one at a time), got %d", s.Concurrency)
	}
	if s.PartitionMode.OneWay != "" {
		for _, st := range append(slices.Clone(s.Plan), Step{Kind: "partition", Target: s.Target}) {
			if t, _ := parseTarget(st.Target); st.Kind == "partition" && st.Mode == "" && (t.selector == "all" || t.selector == "bridge") {
				return fmt.Errorf("a %s partition cuts the target nodes one way from the rest: target %s has no rest", s.PartitionMode, t.selector)
			}
		}
	}
	return nil
}

// Run injects faults until ctx ends (or the plan is done), then heals
// every fault and waits for a healthy cluster: every node up, the stream
// with a leader and current replicas. That wait is recorded as a fault of
// kind heal. With Concurrency above 1, faults overlap: each starts on its
// schedule while others are still held.
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
	n.slots = make(chan struct{}, max(1, n.Schedule.Concurrency))
	n.panicked = make(chan any, 1)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	n.cancel = stop
	var held sync.WaitGroup
	if len(n.Schedule.Plan) > 0 {
		n.runPlan(ctx, &held)
	} else {
		n.runMix(ctx, &held)
	}
	var p any
	select {
	case <-ctx.Done(): // a plan may end before the workload
	case p = <-n.panicked:
		stop() // the other faults end; the panic goes on below, after the heal
	}
	held.Wait() // every fault in progress ends with ctx
	if p == nil {
		select {
		case p = <-n.panicked:
		default:
		}
	}
	if p != nil {
		panic(p) // healed by the deferred recover above
	}
	n.heal()
}

// runMix starts a fault of the mix every interval, until ctx ends.
func (n *Nemesis) runMix(ctx context.Context, held *sync.WaitGroup) {
	wait := n.Schedule.Start
	if wait == 0 {
		wait = n.Schedule.Interval
	}
	for n.after(ctx, wait) {
		started := time.Now()
		st := Step{Kind: n.pickKind(), Target: n.Schedule.Target, Duration: n.Schedule.Duration}
		if !n.start(ctx, st, held) {
			return
		}
		wait = max(0, n.Schedule.Interval-time.Since(started))
	}
}

// runPlan starts the plan's steps in order, each at its time (or once a
// slot is free: with one, after the step before it healed).
func (n *Nemesis) runPlan(ctx context.Context, held *sync.WaitGroup) {
	started := time.Now()
	for _, st := range n.Schedule.Plan {
		if !n.after(ctx, time.Until(started.Add(st.At))) || !n.start(ctx, st, held) {
			return
		}
	}
}

// after waits d; false when ctx ended first (or as the wait ended).
func (n *Nemesis) after(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	return ctx.Err() == nil
}

// start injects st once a slot is free — with one slot at once and to its
// end, so the next fault starts after this one healed; with more, beside
// the faults in progress. False when ctx ended first.
func (n *Nemesis) start(ctx context.Context, st Step, held *sync.WaitGroup) bool {
	select {
	case n.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	in := &injection{Nemesis: n, step: st, rng: n.rng}
	if cap(n.slots) == 1 {
		// One fault at a time draws from the nemesis's numbers, in the
		// order it always has: a seed replays the faults of earlier runs.
		in.run(ctx)
		<-n.slots
		return ctx.Err() == nil
	}
	in.rng = rand.New(rand.NewPCG(n.rng.Uint64(), 0xfa018))
	held.Add(1)
	go func() {
		defer held.Done()
		defer func() { <-n.slots }()
		// A fault that panics in a goroutine of its own would end the
		// process: Run takes the panic on, after healing, and no fault
		// starts meanwhile.
		defer func() {
			if p := recover(); p != nil {
				select {
				case n.panicked <- fmt.Sprintf("%v\n%s", p, debug.Stack()):
				default:
				}
				n.cancel()
			}
		}()
		in.run(ctx)
	}()
	return true
}

// pickKind draws the next fault of a mix. With faults overlapping, a kind
// that would share what a fault in progress holds alone (the routes, or
// the whole cluster) is drawn only when every kind would.
func (n *Nemesis) pickKind() string {
	kinds := n.Schedule.Kinds
	n.mu.Lock()
	var free []string
	for _, k := range kinds {
		if n.conflict(k, nil) == "" {
			free = append(free, k)
		}
	}
	n.mu.Unlock()
	if len(free) > 0 {
		kinds = free
	}
	return kinds[n.rng.IntN(len(kinds))]
}

// injection is one fault from start to heal: its step, its own random
// numbers (drawn from the nemesis's in the order faults start, so a seed
// replays the same faults) and the nodes it holds.
type injection struct {
	*Nemesis
	step  Step
	rng   *rand.Rand
	nodes []int
	what  string // kind and nodes, for progress displays
}

// run injects the step, holds it, heals it and records it. A fault that
// would act on what another one in progress holds is not injected: its
// record says why.
func (n *injection) run(ctx context.Context) {
	kind := n.step.Kind
	nodes, err := n.claim(ctx)
	rec := history.Fault{Kind: kind, Target: n.names(nodes), Start: n.Now()}
	if len(nodes) == 0 && err == nil {
		rec.Target = "stream"
	}
	if err == nil {
		func() {
			defer n.release() // a fault that panics holds nothing either
			rec.Detail, err = faults[kind].run(ctx, n, nodes)
		}()
	}
	if err != nil {
		rec.Error = err.Error()
	}
	rec.End = n.Now()
	n.Out.Write(&history.Record{Kind: history.KindFault, Fault: &rec})
}

// claim draws the fault's nodes among those no fault in progress holds,
// and holds them (and the routes, or the cluster, for faults that act on
// them) until release.
func (n *injection) claim(ctx context.Context) ([]int, error) {
	kind := n.step.Kind
	n.mu.Lock()
	busy := n.busyNodes(kind)
	n.mu.Unlock()
	nodes, err := n.pickTargets(ctx, kind, busy)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if c := n.conflict(kind, nodes); c != "" {
		return nil, fmt.Errorf("not injected: %s", c)
	}
	n.nodes, n.what = nodes, strings.TrimSpace(kind+" "+n.names(nodes))
	if n.active == nil {
		n.active = map[*injection]bool{}
	}
	n.active[n] = true
	return nodes, nil
}

func (n *injection) release() {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.active, n)
}

// conflict says what, among the faults in progress, a fault of kind on
// nodes would act on too: one of the nodes' processes, the routes (a
// partition or latency sets them all), or the whole cluster (a rolling
// restart); "" if nothing. A fault on the routes and one on processes
// combine: a node may be paused while it is partitioned. Called with mu
// held.
func (n *Nemesis) conflict(kind string, nodes []int) string {
	for other := range n.active {
		ok := other.step.Kind
		switch {
		case kind == "rolling-restart" || ok == "rolling-restart":
			return fmt.Sprintf("%s holds the whole cluster", other.what)
		case onRoutes(kind) && onRoutes(ok):
			return fmt.Sprintf("the routes are held by %s", other.what)
		case kind == "replicas" && ok == "replicas":
			return fmt.Sprintf("the stream's replica count is held by %s", other.what)
		case onRoutes(kind) || onRoutes(ok):
			continue
		}
		for _, i := range nodes {
			if slices.Contains(other.nodes, i) {
				return fmt.Sprintf("%s is held by %s", n.names([]int{i}), other.what)
			}
		}
	}
	return ""
}

// onRoutes: the kind acts on the route proxies, not on processes.
func onRoutes(kind string) bool { return kind == "partition" || kind == "latency" }

// busyNodes: the nodes a fault of kind must not draw, held by faults in
// progress of the other sort (processes or routes, see conflict). Called
// with mu held.
func (n *Nemesis) busyNodes(kind string) map[int]bool {
	busy := map[int]bool{}
	for other := range n.active {
		if onRoutes(other.step.Kind) == onRoutes(kind) {
			for _, i := range other.nodes {
				busy[i] = true
			}
		}
	}
	return busy
}

// hold waits for the fault's duration, or less when the run ends.
func (n *injection) hold(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(n.step.Duration):
	}
}

// heal undoes whatever is still broken and waits for health.
func (n *Nemesis) heal() {
	rec := history.Fault{Kind: "heal", Target: "cluster", Start: n.Now()}
	n.healing.Store(true)
	defer n.healing.Store(false)
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
