package chaos

import (
	"testing"
	"time"

	"github.com/kvharness/kvharness/cluster"
)

// Faults that act on processes need them; schedules must make sense. That
// the faults really happen is shown against real servers in cluster
// (partition, pause, kill) and end to end in cmd/kvharness.
func TestScheduleValidate(t *testing.T) {
	embedded := &cluster.Target{Mode: cluster.ModeEmbedded}
	spawned := &cluster.Target{Mode: cluster.ModeProcess, Processes: &cluster.Processes{Links: &cluster.Links{}}}
	for _, kind := range Kinds() {
		s := Schedule{Kinds: []string{kind}, Interval: 5 * time.Second, Duration: 2 * time.Second, Latency: time.Millisecond}
		// Stores on lazyfs come with a scenario that needs them (see
		// harness.TestPowerLossLosesWhatWasNotSynced); these have none.
		if err, lazy := s.Validate(spawned), NeedLazyStores([]string{kind}); (err != nil) != lazy {
			t.Errorf("%s on spawned servers without lazy stores: error %v, want an error: %t", kind, err, lazy)
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
