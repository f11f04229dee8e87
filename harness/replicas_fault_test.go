package harness

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/scenarios"
)

// The stream's group changes size while the workload runs (R3 -> R1 -> R3
// on three embedded nodes: there is no fourth to grow to), is current again
// after each change, and the run passes its checks on the bucket as the
// scenario made it.
func TestReplicaCountChangesMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a run with faults")
	}
	sc := scenario(t, "default", func(s *scenarios.Scenario) {
		s.Workload.Duration = 9 * time.Second
		s.Faults.Kinds, s.Faults.Plan = []string{"replicas"}, nil
		s.Faults.Start, s.Faults.Interval, s.Faults.Duration = 2*time.Second, 5*time.Second, 2*time.Second
	})
	res, err := Run(context.Background(), sc, Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	changed := regexp.MustCompile(`^R3 -> R1 \(current after [0-9.]+ s\) -> R3 \(current after [0-9.]+ s\)$`)
	n := 0
	for _, f := range res.Summary.Faults {
		if f.Kind != "replicas" {
			continue
		}
		n++
		if f.Error != "" || !changed.MatchString(f.Detail) || f.Target != "stream" {
			t.Errorf("replicas fault: %+v", f)
		}
	}
	if n == 0 {
		t.Error("no replica change recorded")
	}
	if res.Summary.Verdict != checker.Pass {
		t.Errorf("verdict %s", res.Summary.Verdict)
	}
}
