package harness

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/chaos"
	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/internal/testenv"
	"github.com/kvharness/kvharness/reports"
	"github.com/kvharness/kvharness/scenarios"
)

// The stream's group changes size while the workload runs: R3 -> R5 -> R3
// on five spawned nodes, and R3 -> R1 -> R3 on three embedded ones (there
// is no fourth to grow to); it is current again after each change, and the
// run passes its checks on the bucket as the scenario made it.
func TestReplicaCountChangesMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a run with faults")
	}
	bin := testenv.ServerBin(t, testenv.NATSServer)
	for _, tc := range []struct {
		bin   string
		nodes int
		to    string
	}{{bin, 5, "R5"}, {"", 3, "R1"}} {
		replicaChanges(t, tc.bin, tc.nodes, tc.to)
	}
}

func replicaChanges(t *testing.T, bin string, nodes int, to string) {
	t.Helper()
	sc := scenario(t, "default", func(s *scenarios.Scenario) {
		s.Target.ServerBin, s.Target.Nodes = bin, nodes
		s.Workload.Duration = 9 * time.Second
		s.Faults.Kinds, s.Faults.Plan = []string{"replicas"}, nil
		// One change, at 2 s: a second one at 7 s had 2 s before the run's
		// end to get current, and on a busy machine R3 -> R5 did not (the
		// fault then rightly says "not current after 2.0 s").
		s.Faults.Start, s.Faults.Interval, s.Faults.Duration = 2*time.Second, 30*time.Second, 2*time.Second
	})
	res, err := Run(context.Background(), sc, Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	changed := regexp.MustCompile(`^R3 -> ` + to + ` \(current after [0-9.]+ s\) -> R3 \(current after [0-9.]+ s\)$`)
	n := 0
	for _, f := range res.Summary.Faults {
		if f.Kind != "replicas" {
			continue
		}
		n++
		if f.Error != "" || !changed.MatchString(f.Detail) || f.Target != "stream" {
			t.Errorf("%d nodes: replicas fault: %+v", nodes, f)
		}
	}
	if n == 0 {
		t.Error("no replica change recorded")
	}
	if res.Summary.Target.Mode != map[bool]string{true: "process", false: "embedded"}[bin != ""] {
		t.Errorf("%d nodes: on %s servers", nodes, res.Summary.Target.Mode)
	}
	for _, c := range res.Summary.Checks {
		switch {
		case !c.Required || c.Result == checker.Pass:
		case to == "R1" && c.Name == checker.CheckLinearizableWrites && c.Result == checker.Fail:
			// Since 2.12, CAS writes queued while a stream scales from
			// R1 back to R3 can be stored without their precondition
			// checked (docs/FINDINGS.md, finding 6; here 1 run in 28 on
			// a loaded machine). The harness is right to fail such a
			// run; this test is about the change being made and
			// recorded, so it logs that one check, and everything else
			// must still pass. The R5 case never goes through R1.
			t.Logf("%d nodes, R3 -> R1 -> R3: %s failed: %s", nodes, c.Name, c.Detail)
		default:
			t.Errorf("%d nodes: %s %s: %s", nodes, c.Name, c.Result, c.Detail)
		}
	}
}

// A node taken out of the meta group for good (the stream's leader, on
// five spawned nodes) and a fresh one with an empty store put in its place
// under a new name: the removal is answered, the new node serves (the
// final replica reads reach it by its name), and the run passes.
func TestNodeReplaced(t *testing.T) {
	if testing.Short() {
		t.Skip("a run on five spawned servers")
	}
	bin := testenv.ServerBin(t, testenv.NATSServer)
	sc := scenario(t, "kill-random", func(s *scenarios.Scenario) {
		s.Target.ServerBin, s.Target.Nodes = bin, 5
		// Room after the removal: a removed leader's meta group may elect
		// a new leader first, and the run's end would cut the fault short.
		s.Workload.Duration = 15 * time.Second
		s.Faults.Kinds = nil
		s.Faults.Plan = []chaos.Step{{Kind: "replace", Target: "leader", At: 3 * time.Second, Duration: 2 * time.Second}}
	})
	res, err := Run(context.Background(), sc, Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	replaced := regexp.MustCompile(`^(n[1-5]) removed from the meta group in [0-9.]+ s; (n[1-5]) replaced by n6, empty$`)
	var fault reports.Fault
	for _, f := range res.Summary.Faults {
		if f.Kind == "replace" {
			fault = f
		}
	}
	m := replaced.FindStringSubmatch(fault.Detail)
	if fault.Error != "" || m == nil || m[1] != m[2] || m[1] != fault.Target {
		t.Fatalf("replace fault: %+v", fault)
	}
	for _, c := range res.Summary.Checks {
		if c.Name == checker.CheckReplicasConverge && (c.Result != checker.Pass || !strings.Contains(c.Detail, "n6")) {
			t.Errorf("replicas-converge %s: %s: want n6 read", c.Result, c.Detail)
		}
	}
	if res.Summary.Verdict != checker.Pass {
		t.Errorf("verdict %s", res.Summary.Verdict)
	}
}
