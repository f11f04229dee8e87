package scenarios

import (
	"reflect"
	"testing"
	"time"

	"github.com/kvharness/kvharness/chaos"
	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

func TestCompleteLeavesTheScenarioAndProducesConfigs(t *testing.T) {
	s, err := Load("config-sharing")
	if err != nil {
		t.Fatal(err)
	}
	s.Faults.Kinds, s.Faults.PartitionMode = []string{"partition"}, "blackhole"
	before, _ := Load("config-sharing")
	before.Faults.Kinds, before.Faults.PartitionMode = []string{"partition"}, "blackhole"

	c, err := s.Complete()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, before) {
		t.Fatalf("Complete changed the scenario it completed:\n%+v\nwant\n%+v", s, before)
	}
	c.Workload.Watchers[0].Keys = append(c.Workload.Watchers[0].Keys, "x") // no aliasing either way
	if reflect.DeepEqual(c.Workload.Watchers[0].Keys, s.Workload.Watchers[0].Keys) {
		t.Fatal("the completed copy shares watcher keys with the original")
	}

	w := c.WorkloadConfig()
	if w.Clients != c.Workload.Clients || len(w.Keys.Keys) != c.Workload.Keys || w.ReadPath != history.PathDirect ||
		w.OpTimeout != 5*time.Second || len(w.Watchers) != len(c.Workload.Watchers) || w.Watchers[0].Mode == "" {
		t.Errorf("workload config %+v", w)
	}
	sch := c.Schedule()
	if sch.PartitionMode != (chaos.PartitionMode{Link: cluster.LinkBlackhole}) || sch.Interval != 5*time.Second || sch.Duration != sch.Interval/2 ||
		sch.Seed != c.Workload.Seed || !sch.NeedsProcesses() {
		t.Errorf("schedule %+v", sch)
	}
	if b := c.BucketConfig("b1"); b.Name != "b1" || b.Replicas != 3 || b.History != c.Bucket.History {
		t.Errorf("bucket %+v", b)
	}
	want := checker.DefaultRequiredFor(c.CheckShape())
	if got := c.Meta().Required; !reflect.DeepEqual(got, want) || !contains(got, checker.CheckWatchComplete) {
		t.Errorf("required %v, want %v with the watch checks", got, want)
	}
}

func TestDefaultsKeepExternalClusterSizeOpen(t *testing.T) {
	s := &Scenario{Target: Target{Servers: []string{"nats://127.0.0.1:4222"}}}
	c, err := s.Complete()
	if err != nil {
		t.Fatal(err)
	}
	if c.Target.Nodes != 0 || c.Bucket.History != history.MaxDepth {
		t.Errorf("external target: nodes %d (want 0: learnt from the servers), history %d", c.Target.Nodes, c.Bucket.History)
	}
}
