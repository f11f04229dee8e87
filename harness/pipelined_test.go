package harness

import (
	"context"
	"testing"
	"time"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/scenarios"
)

// Throughput mode with updates: each client keeps 64 writes in flight on
// four keys, three in four of them updates expecting the revision the
// client last saw, so most are refused. On a healthy server every refusal
// is a CAS conflict, none is unknown, and the history passes every
// required check — linearizable-writes holding each stored update to the
// revision it expected.
func TestPipelinedUpdates(t *testing.T) {
	if testing.Short() {
		t.Skip("a run")
	}
	sc := scenario(t, "single", func(s *scenarios.Scenario) {
		s.Workload.Duration, s.Workload.Ops = 2*time.Second, 0
		s.Workload.Clients, s.Workload.Keys, s.Workload.Inflight = 3, 4, 64
		s.Workload.Mix = map[string]int{history.OpPut: 1, history.OpUpdate: 3}
	})
	res, err := Run(context.Background(), sc, Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	assertPass(t, res)
	up := res.Summary.Ops[history.OpUpdate]
	if up == nil || up.OK == 0 || up.Fail < up.OK || up.Unknown != 0 {
		t.Fatalf("updates %+v: want some stored, more refused (pipelined on four keys), none unknown", up)
	}
	t.Logf("updates: %d stored, %d refused %v", up.OK, up.Fail, up.Errors)
	refused := 0
	for class, n := range up.Errors {
		if !history.IsCASRefusal(class) {
			t.Errorf("updates failed with %s (%d): want CAS refusals only", class, n)
		}
		refused += n
	}
	if refused != up.Fail {
		t.Errorf("%d updates failed, %d of them as CAS refusals", up.Fail, refused)
	}
	for _, c := range res.Summary.Checks {
		if c.Name == checker.CheckLinearizableWrites && c.Result != checker.Pass {
			t.Errorf("%s: %s", c.Name, c.Detail)
		}
	}
}
