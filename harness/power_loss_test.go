package harness

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/internal/lazyfs"
	"github.com/kvharness/kvharness/internal/testenv"
	"github.com/kvharness/kvharness/scenarios"
)

// A coordinated power failure (every node of an R3 cluster loses what it
// had not fsynced, at once) on spawned servers whose stores are on lazyfs:
// with the server's default sync interval (2 minutes, longer than the run)
// acknowledged writes are lost and no-lost-writes fails, saying how many;
// with sync_interval always nothing acknowledged is lost.
func TestPowerLossLosesWhatWasNotSynced(t *testing.T) {
	if testing.Short() {
		t.Skip("two runs on spawned servers")
	}
	bin := testenv.ServerBin(t, testenv.NATSServer)
	testenv.FUSE(t, lazyfs.Available())
	run := func(sync string) (checker.CheckResult, string) {
		sc := scenario(t, "kill-random", func(s *scenarios.Scenario) {
			s.Target.ServerBin, s.Target.SyncInterval = bin, sync
			s.Workload.Duration = 8 * time.Second
			s.Faults.Kinds, s.Faults.Target = []string{"power-loss"}, "all"
			s.Faults.Start, s.Faults.Interval, s.Faults.Duration = 4*time.Second, 20*time.Second, time.Second
			s.Faults.HealTimeout = 20 * time.Second
		})
		res, err := Run(context.Background(), sc, Options{OutDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		var lost checker.CheckResult
		for _, c := range res.Summary.Checks {
			if c.Name == checker.CheckNoLostWrites {
				lost = c
			}
		}
		var fault string
		for _, f := range res.Summary.Faults {
			if f.Kind == "power-loss" {
				fault = f.Detail
			}
		}
		t.Logf("sync %q: power loss: %s\nno-lost-writes: %s: %s", sync, fault, lost.Result, lost.Detail)
		if !strings.Contains(fault, "n1 lost ") || !strings.Contains(fault, "n3 lost ") {
			t.Errorf("sync %q: the fault's record does not say what each node lost: %q", sync, fault)
		}
		return lost, fault
	}
	if lost, _ := run(""); lost.Result != checker.Fail || !strings.Contains(lost.Detail, "acknowledged writes lost") {
		t.Errorf("default sync interval: no-lost-writes %s (%s), want a failure counting the lost writes", lost.Result, lost.Detail)
	}
	if lost, _ := run("always"); lost.Result != checker.Pass {
		t.Errorf("sync_interval always: no-lost-writes %s (%s), want pass", lost.Result, lost.Detail)
	}
}
