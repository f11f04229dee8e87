package harness

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/chaos"
	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/internal/lazyfs"
	"github.com/kvharness/kvharness/internal/testenv"
	"github.com/kvharness/kvharness/reports"
	"github.com/kvharness/kvharness/scenarios"
)

// Faults that overlap, on five spawned nodes: n1 cut off one way (not
// heard by the rest) while n2 is paused and n3 loses power, and a fourth
// fault on a random node drawn from the two left. Each is recorded with
// its own window, they overlap in time, none fails to inject or heal, and
// the run, healed, passes its checks (sync_interval always: a node that
// loses power loses nothing acknowledged).
func TestOverlappingFaultsOnFiveNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("a run on five spawned servers")
	}
	bin := testenv.ServerBin(t, testenv.NATSServer)
	testenv.FUSE(t, lazyfs.Available())
	sc := scenario(t, "kill-random", func(s *scenarios.Scenario) {
		s.Target.ServerBin, s.Target.Nodes, s.Target.SyncInterval = bin, 5, "always"
		s.Workload.Duration = 12 * time.Second
		s.Faults.Kinds, s.Faults.Concurrency = nil, 4
		s.Faults.Plan = []chaos.Step{
			{Kind: "partition", Target: "n1", Mode: "mute", At: 2 * time.Second, Duration: 6 * time.Second},
			{Kind: "pause", Target: "n2", At: 3 * time.Second, Duration: 3 * time.Second},
			{Kind: "power-loss", Target: "n3", At: 4 * time.Second, Duration: 2 * time.Second},
			{Kind: "kill", Target: "random", At: 4500 * time.Millisecond, Duration: 2 * time.Second},
		}
	})
	res, err := Run(context.Background(), sc, Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]reports.Fault{}
	for _, f := range res.Summary.Faults {
		t.Logf("%s %s %.1f-%.1f s: %s %s", f.Kind, f.Target, f.StartSec, f.EndSec, f.Detail, f.Error)
		if f.Error != "" {
			t.Errorf("%s on %s: %s", f.Kind, f.Target, f.Error)
		}
		byKind[f.Kind] = f
	}
	part, pause, power, kill := byKind["partition"], byKind["pause"], byKind["power-loss"], byKind["kill"]
	if !strings.HasPrefix(part.Detail, "mute: {n1} not heard by {n2,n3,n4,n5}") {
		t.Errorf("partition detail %q", part.Detail)
	}
	// n2 and n3 are held by process faults; n1 only by the partition, which
	// a process fault may share (a partitioned node may also be killed).
	if kill.Target != "n1" && kill.Target != "n4" && kill.Target != "n5" {
		t.Errorf("the random kill hit %q, held by another process fault or missing: want n1, n4 or n5", kill.Target)
	}
	if !strings.HasPrefix(power.Detail, "n3 lost ") {
		t.Errorf("power-loss detail %q", power.Detail)
	}
	// Every later fault started while the partition was still held.
	for _, f := range []reports.Fault{pause, power, kill} {
		if f.StartSec >= part.EndSec || f.StartSec < part.StartSec {
			t.Errorf("%s at %.1f s is outside the partition's %.1f-%.1f s", f.Kind, f.StartSec, part.StartSec, part.EndSec)
		}
	}
	if _, ok := byKind["heal"]; !ok || len(res.Summary.Faults) != 5 {
		t.Errorf("%d faults recorded, want the four and the heal", len(res.Summary.Faults))
	}
	if res.Summary.Verdict != checker.Pass {
		for _, c := range res.Summary.Checks {
			t.Logf("%s %s %s", c.Name, c.Result, c.Detail)
		}
		t.Errorf("verdict %s, want pass once healed", res.Summary.Verdict)
	}
}
