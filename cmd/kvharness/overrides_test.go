package main

import (
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/scenarios"
)

// applyArgs parses args as `run` flags and applies them to a built-in.
func applyArgs(t *testing.T, name string, args ...string) (*scenarios.Scenario, error) {
	t.Helper()
	cmd := &cobra.Command{Use: "run"}
	ov := scenarioFlags(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	s, err := scenarios.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return s, ov.applyTo(s)
}

func TestFlagsOverrideTheirFieldsOnly(t *testing.T) {
	s, err := applyArgs(t, "default", "--ops", "500", "--server", "nats://127.0.0.1:4222", "--fault-interval", "3s",
		"--pattern", "sessions", "--key-ttl", "2s", "--own-keys", "--heal-timeout", "9s", "--ttl-tolerance", "300ms",
		"--limit-marker-ttl", "2s", "--watchers", "2", "--threshold", "put.p99<5ms", "--read-path", "both")
	if err != nil {
		t.Fatal(err)
	}
	w := s.Workload
	if w.Ops != 500 || w.Duration != 0 {
		t.Errorf("--ops alone: ops %d, duration %s (want the count to end the run)", w.Ops, w.Duration)
	}
	if s.Target.Nodes != 0 || len(s.Target.Servers) != 1 {
		t.Errorf("--server without --nodes: nodes %d (want 0: learnt from the servers)", s.Target.Nodes)
	}
	if s.Faults.Interval != 3*time.Second || s.Faults.Start != 0 || s.Faults.Kinds[0] != "leader-stepdown" {
		t.Errorf("--fault-interval: %+v (want the scenario's start reset, its kinds kept)", s.Faults)
	}
	if w.Pattern != "sessions" || w.KeyTTL != 2*time.Second || !w.OwnKeys || s.Faults.HealTimeout != 9*time.Second ||
		s.Expect.TTLTolerance != 300*time.Millisecond || s.Bucket.LimitMarkerTTL != 2*time.Second || w.ReadPath != "both" {
		t.Errorf("fields: %+v %+v %+v", w, s.Expect, s.Bucket)
	}
	if len(w.Watchers) != 1 || w.Watchers[0].Count != 2 || s.Thresholds["put.p99"] != "<5ms" {
		t.Errorf("watchers %+v, thresholds %v", w.Watchers, s.Thresholds)
	}
	// Untouched fields keep the scenario's values.
	if w.Clients != 8 || w.KeyDistribution != "zipf" || s.Bucket.Replicas != 3 {
		t.Errorf("fields no flag named changed: %+v", w)
	}

	s, err = applyArgs(t, "default", "--ops", "500", "--duration", "4s", "--server", "nats://x:4222", "--nodes", "5", "--stages", "10:2s,20:3s")
	if err != nil {
		t.Fatal(err)
	}
	if s.Workload.Duration != 4*time.Second || s.Target.Nodes != 5 || len(s.Workload.Stages) != 2 {
		t.Errorf("with --duration and --nodes given: %+v %+v", s.Workload, s.Target)
	}
	s, _ = applyArgs(t, "single", "--stages", "10:2s,20:3s")
	if s.Workload.Duration != 5*time.Second {
		t.Errorf("--stages alone: duration %s, want the stages' 5s", s.Workload.Duration)
	}
	for _, bad := range [][]string{{"--rate", "5", "--stages", "1:1s"}, {"--nodes", "0"}, {"--rate", "-1"}, {"--watchers", "-1"}, {"--mix", "put=1,fly=2"}} {
		if _, err := applyArgs(t, "single", bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
