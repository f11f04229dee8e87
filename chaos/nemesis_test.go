package chaos

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// Faults that act on processes need them; schedules must make sense. That
// the faults really happen is shown against real servers in cluster
// (partition, pause, kill) and end to end in cmd/kvharness.
func TestScheduleValidate(t *testing.T) {
	embedded := &cluster.Target{Mode: cluster.ModeEmbedded}
	spawned := &cluster.Target{Mode: cluster.ModeProcess, Processes: &cluster.Processes{Links: &cluster.Links{}}}
	for _, kind := range Kinds() {
		s := Schedule{Kinds: []string{kind}, Interval: 5 * time.Second, Duration: 2 * time.Second, Latency: time.Millisecond}
		// Stores on lazyfs and a system account come with a scenario that
		// needs them (see harness.TestPowerLossLosesWhatWasNotSynced,
		// TestNodeReplaced); these nodes have neither.
		if err, needs := s.Validate(spawned), NeedLazyStores([]string{kind}) || NeedSystemAccount([]string{kind}); (err != nil) != needs {
			t.Errorf("%s on spawned servers without lazy stores or a system account: error %v, want an error: %t", kind, err, needs)
		}
		err := s.Validate(embedded)
		if want := NeedProcesses([]string{kind}); (err != nil) != want {
			t.Errorf("%s on embedded servers: error %v, want an error: %t", kind, err, want)
		}
		if faults[kind].About == "" {
			t.Errorf("%s has no description", kind)
		}
	}
	if !NeedLazyStores([]string{"kill", "power-loss"}) || NeedLazyStores([]string{"kill", "corrupt"}) {
		t.Error("power-loss alone needs lazy stores")
	}
	if NeedProcesses([]string{"leader-stepdown"}) {
		t.Error("leader-stepdown works through the API; it needs no processes")
	}
	for _, bad := range []Schedule{
		{Kinds: []string{"explode"}, Interval: time.Second, Duration: time.Millisecond},
		{Kinds: []string{"kill"}, Interval: time.Second, Duration: time.Second},
		{Kinds: []string{"kill"}, Interval: 0, Duration: 0},
		{Kinds: []string{"kill"}, Interval: time.Second, Duration: time.Millisecond, Target: "somewhere"},
		{Kinds: []string{"latency"}, Interval: time.Second, Duration: time.Millisecond},
		{Kinds: []string{"rolling-restart"}, Interval: time.Second, Duration: time.Millisecond, UpgradeBin: "/nonexistent/nats-server"},
		{Kinds: []string{"kill"}, Interval: time.Second, Duration: time.Millisecond, Start: -time.Second},
		{Kinds: []string{"kill"}, Interval: time.Second, Duration: time.Millisecond, Concurrency: -1},
		{Kinds: []string{"partition"}, Interval: time.Second, Duration: time.Millisecond, Target: "all", PartitionMode: PartitionMode{OneWay: "mute"}},
		{Plan: []Step{{Kind: "kill", Duration: time.Second, Mode: "mute"}}},
		{Plan: []Step{{Kind: "partition", Duration: time.Second, Mode: "sideways"}}},
		{Plan: []Step{{Kind: "partition", Target: "bridge", Duration: time.Second, Mode: "deaf"}}},
	} {
		if err := bad.Validate(spawned); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	single := &cluster.Target{Mode: cluster.ModeProcess, Processes: &cluster.Processes{}}
	if err := (Schedule{Kinds: []string{"partition"}, Interval: time.Second, Duration: time.Millisecond}).Validate(single); err == nil {
		t.Error("partition accepted on a single node")
	}
	if err := (Schedule{}).Validate(embedded); err != nil {
		t.Errorf("no faults: %v", err)
	}
}

func TestParseTarget(t *testing.T) {
	for _, ok := range []string{"", "random", "leader", "minority", "majority", "all", "bridge", "n1", "n1,n3"} {
		if _, err := parseTarget(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"node1", "n", "leader,n1"} {
		if _, err := parseTarget(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// Faults that overlap act on different nodes: a fault on processes draws
// among the nodes no other one holds, routes go to one fault at a time,
// a rolling restart holds everything, and a partition combines with a
// pause of the node it cuts off.
func TestOverlappingFaultsShareNothing(t *testing.T) {
	n := &Nemesis{Target: &cluster.Target{Mode: cluster.ModeProcess, Nodes: 5}, active: map[*injection]bool{}}
	hold := func(kind string, nodes ...int) *injection {
		in := &injection{Nemesis: n, step: Step{Kind: kind}, nodes: nodes, what: kind + " " + n.names(nodes)}
		n.active[in] = true
		return in
	}
	draw := func(kind, target string) ([]int, error) {
		in := &injection{Nemesis: n, step: Step{Kind: kind, Target: target}, rng: rand.New(rand.NewPCG(1, 2))}
		return in.pickTargets(context.Background(), kind, n.busyNodes(kind))
	}
	hold("pause", 0)
	hold("power-loss", 1, 2)
	for range 20 {
		nodes, err := draw("kill", "random")
		if err != nil || len(nodes) != 1 || nodes[0] < 3 {
			t.Fatalf("kill drew %v, %v: want n4 or n5", nodes, err)
		}
	}
	if nodes, err := draw("kill", "minority"); err != nil || len(nodes) != 2 || nodes[0] != 3 || nodes[1] != 4 {
		t.Errorf("minority drew %v, %v: want n4,n5", nodes, err)
	}
	if _, err := draw("kill", "majority"); err == nil || !strings.Contains(err.Error(), "not injected") {
		t.Errorf("majority of 5 with 3 held: %v, want not injected", err)
	}
	if c := n.conflict("stop", []int{2}); !strings.Contains(c, "n3 is held by power-loss n2,n3") {
		t.Errorf("stop n3: conflict %q", c)
	}
	// A partition may cut off the paused node; a second fault on the
	// routes may not start beside it.
	if c := n.conflict("partition", []int{0}); c != "" {
		t.Errorf("partition of the paused node: conflict %q", c)
	}
	route := hold("partition", 0)
	if c := n.conflict("latency", []int{3}); !strings.Contains(c, "routes are held by partition n1") {
		t.Errorf("latency beside a partition: conflict %q", c)
	}
	if c := n.conflict("rolling-restart", []int{0, 1, 2, 3, 4}); !strings.Contains(c, "whole cluster") {
		t.Errorf("rolling restart beside other faults: conflict %q", c)
	}
	if got := n.Current(); got != "partition n1 + pause n1 + power-loss n2,n3" {
		t.Errorf("progress shows %q", got)
	}
	delete(n.active, route)
	if c := n.conflict("latency", []int{3}); c != "" {
		t.Errorf("latency once the partition ended: conflict %q", c)
	}
}

// A fault that panics while others are in progress does not end the
// process from its own goroutine: Run stops the other faults, heals, and
// panics in its caller's goroutine, where the run's group recovers it.
func TestPanicOfAnOverlappingFaultReachesRun(t *testing.T) {
	faults["test-panic"] = fault{About: "test", run: func(ctx context.Context, n *injection, _ []int) (string, error) {
		if n.step.At > 0 {
			panic("boom")
		}
		n.hold(ctx) // a fault in progress the panic must end
		return "held", nil
	}}
	defer delete(faults, "test-panic")
	n := &Nemesis{
		Target: &cluster.Target{Mode: cluster.ModeExternal, Nodes: 3},
		Schedule: Schedule{Concurrency: 2, HealTimeout: 100 * time.Millisecond,
			Plan: []Step{{Kind: "test-panic", Duration: time.Hour}, {Kind: "test-panic", At: 50 * time.Millisecond, Duration: time.Hour}}},
		Now: func() int64 { return 0 }, Out: history.Discard(),
	}
	runUntilBoom(t, n, context.Background(), 20*time.Second)
}

// runUntilBoom runs n and requires it to end, within wait, with the
// panic ("boom") of one of its faults.
func runUntilBoom(t *testing.T, n *Nemesis, ctx context.Context, wait time.Duration) {
	t.Helper()
	done := make(chan any)
	go func() {
		defer func() { done <- recover() }()
		n.Run(ctx)
	}()
	select {
	case p := <-done:
		if s, _ := p.(string); !strings.HasPrefix(s, "boom\n") {
			t.Errorf("Run ended with %v, want the fault's panic", p)
		}
	case <-time.After(wait):
		t.Fatalf("Run went on for %v after a fault panicked", wait)
	}
}

// A mix whose fault panics stops at once: no fault starts after the
// panic, and the one that panicked holds nothing.
func TestPanicInAMixEndsTheSchedule(t *testing.T) {
	var started atomic.Int32
	faults["test-panic-mix"] = fault{About: "test", run: func(ctx context.Context, n *injection, _ []int) (string, error) {
		if started.Add(1) == 1 {
			panic("boom")
		}
		return "", nil
	}}
	defer delete(faults, "test-panic-mix")
	n := &Nemesis{
		Target: &cluster.Target{Mode: cluster.ModeExternal, Nodes: 3},
		Schedule: Schedule{Concurrency: 2, HealTimeout: 100 * time.Millisecond,
			Kinds: []string{"test-panic-mix"}, Interval: 20 * time.Millisecond, Duration: time.Millisecond},
		Now: func() int64 { return 0 }, Out: history.Discard(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	runUntilBoom(t, n, ctx, 30*time.Second)
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("Run ended %v after the panic, not at once", took)
	}
	if s := started.Load(); s > 3 {
		t.Errorf("%d faults started; the schedule went on after the panic", s)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.active) != 0 {
		t.Errorf("%d faults still held after Run", len(n.active))
	}
}

// A partition whose targets are every node cuts nothing: it is recorded
// as not injected, not as a partition that happened.
func TestPartitionOfEveryNodeIsNotInjected(t *testing.T) {
	n := &Nemesis{Target: &cluster.Target{Mode: cluster.ModeProcess, Nodes: 3}}
	for _, mode := range []string{"mute", "reset"} {
		in := &injection{Nemesis: n, step: Step{Kind: "partition", Target: "n1,n2,n3", Mode: mode}}
		_, err := faults["partition"].run(context.Background(), in, []int{0, 1, 2})
		if err == nil || !strings.Contains(err.Error(), "not injected") {
			t.Errorf("%s partition of every node: %v, want not injected", mode, err)
		}
	}
}
