package main

import (
	"testing"
	"time"
)

// requirePassed: each named check ran, was required, and passed.
func requirePassed(t *testing.T, s summary, names ...string) {
	t.Helper()
	for _, name := range names {
		found := false
		for _, c := range s.Checks {
			if c.Name != name {
				continue
			}
			found = true
			if c.Result != "pass" || !c.Required {
				t.Errorf("%s: %s (required %v): %s", name, c.Result, c.Required, c.Detail)
			}
		}
		if !found {
			t.Errorf("%s: not in summary.json", name)
		}
	}
}

// TestUseCaseScenarios runs each use-case built-in, shortened, on its
// embedded 3-node cluster: it must pass, with its own checks required and
// run (not skipped), and show what it is about in summary.json.
func TestUseCaseScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("3-node cluster runs")
	}
	t.Parallel() // a run checked for its outcome, not its speed: see TestMain
	watch := []string{"watch-order", "watch-complete", "watch-no-phantoms"}
	tests := []struct {
		name     string
		duration string
		checks   []string
		extra    func(t *testing.T, s summary)
	}{
		{"config-sharing", "12s", append([]string{"history-matches"}, watch...), func(t *testing.T, s summary) {
			// 28: the four that start at 10 s included.
			if p := s.Propagation; p == nil || p.Watchers != 28 || p.Deliveries == 0 || s.Ops["watch"].OK != p.Deliveries || s.Ops["watch"].LatencyUS.P99 <= 0 {
				t.Errorf("watch propagation %+v, ops.watch %+v: want 28 watchers, deliveries and a p99", s.Propagation, s.Ops["watch"])
			}
		}},
		{"service-status", "5s", watch, nil},
		{"counter", "5s", []string{"counter-exact", "history-matches"}, nil},
		{"leader-election", "12s", []string{"mutual-exclusion", "watch-complete"}, func(t *testing.T, s summary) {
			if s.Ops["create"].OK < 2 || s.Ops["update"].OK == 0 {
				t.Errorf("want at least two acquisitions and a renewal, got %+v", s.Ops)
			}
		}},
		{"sessions", "6s", []string{"ttl-expiry", "history-matches", "no-lost-writes"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			r := runBin(t, 3*time.Minute, "run", tc.name, "--duration", tc.duration, "--quiet", "--out", out)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			s := readSummary(t, out)
			requirePassed(t, s, tc.checks...)
			if tc.extra != nil {
				tc.extra(t, s)
			}
		})
	}
}

// TestUseCasesUnderFaults: the counter stays exact while nodes are killed,
// and the election keeps one leader at a time while the stream leader is
// cut off (spawned server processes: the harness serves them itself).
func TestUseCasesUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault runs")
	}
	t.Parallel() // a run checked for its outcome, not its speed: see TestMain
	tests := []struct {
		name  string
		args  []string
		check string
	}{
		{"counter", []string{"--faults", "kill", "--fault-interval", "3s", "--fault-duration", "1s", "--duration", "8s"}, "counter-exact"},
		{"leader-election", []string{"--faults", "partition", "--fault-target", "leader", "--fault-interval", "4s", "--fault-duration", "2s", "--duration", "12s"}, "mutual-exclusion"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			r := runBin(t, 4*time.Minute, append([]string{"run", tc.name, "--quiet", "--out", out}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			s := readSummary(t, out)
			requirePassed(t, s, tc.check, "cluster-heals")
			// Under faults: some were injected, then the heal.
			if n := len(s.Faults); n < 2 || s.Faults[0].Kind != tc.args[1] || s.Faults[n-1].Kind != "heal" {
				t.Errorf("faults %+v: want %s faults, then the heal", s.Faults, tc.args[1])
			}
			if left := serversOf(t, out); len(left) > 0 {
				t.Errorf("servers left after the run: %v", left)
			}
		})
	}
}
