package harness

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/internal/testenv"
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
		s.Faults.Start, s.Faults.Interval, s.Faults.Duration = 2*time.Second, 5*time.Second, 2*time.Second
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
	if res.Summary.Verdict != checker.Pass || res.Summary.Target.Mode != map[bool]string{true: "process", false: "embedded"}[bin != ""] {
		t.Errorf("%d nodes: verdict %s on %s servers", nodes, res.Summary.Verdict, res.Summary.Target.Mode)
	}
}
