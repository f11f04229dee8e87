package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kvharness/kvharness/internal/testenv"
)

func natsServerBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("spawns a 3-node cluster")
	}
	return testenv.ServerBin(t, testenv.NATSServer)
}

// clusterDirs lists the spawned cluster's store folders left in a results
// folder (a clean stop removes them).
func clusterDirs(out string) []string {
	dirs, _ := filepath.Glob(filepath.Join(out, "nodes", "kvharness-cluster-*"))
	return dirs
}

// TestFaultMixHealsAndConverges: a mix of partition, pause and step-down
// on spawned servers; every fault is recorded with its detail, the heal is
// recorded without error, the replicas converge, and nothing is left.
func TestFaultMixHealsAndConverges(t *testing.T) {
	t.Parallel() // a run checked for its outcome, not its speed: see TestMain
	bin := natsServerBin(t)
	out := t.TempDir()
	r := runBin(t, 3*time.Minute, "run", "--server-bin", bin, "--faults", "partition,pause,leader-stepdown",
		"--fault-interval", "2500ms", "--fault-duration", "1s", "--duration", "11s", "--quiet", "--out", out)
	s := assertGoodRun(t, r, out, "put", "get")
	kinds := map[string]int{}
	for _, f := range s.Faults {
		kinds[f.Kind]++
		if f.Detail == "" && f.Kind != "heal" {
			t.Errorf("fault without detail: %+v", f)
		}
	}
	if kinds["heal"] != 1 || s.Faults[len(s.Faults)-1].Kind != "heal" || len(s.Faults) < 4 {
		t.Errorf("faults %+v: want 3+ faults, then the heal", s.Faults)
	}
	for _, want := range []string{"faults:", "heal", "stream leadership: "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	// The leadership the run observed: a step-down hands it to another
	// node, a stretch of its own.
	if l := s.Leadership; l == nil || len(l.Stretches) == 0 {
		t.Errorf("stream_leadership %+v: want the stretches observed", l)
	} else if kinds["leader-stepdown"] > 0 && l.LeaderChanges == 0 {
		t.Errorf("stream_leadership %+v: a step-down happened, yet no leader change was seen", l)
	}
	for _, c := range []string{"replicas-converge", "bucket-intact"} {
		if got := checkResult(s, c); got != "pass" {
			t.Errorf("%s: %s", c, got)
		}
	}
	if left := serversOf(t, out); len(left) > 0 {
		t.Errorf("servers left after the run: %v", left)
	}
	if dirs := clusterDirs(out); len(dirs) > 0 {
		t.Errorf("cluster stores left after the run: %v", dirs)
	}
}

// TestInterruptAndKillDuringFaults: Ctrl-C while a node is cut off heals
// it, finishes the run and cleans up; SIGKILL while a node is frozen with
// SIGSTOP still takes every server with the harness.
func TestInterruptAndKillDuringFaults(t *testing.T) {
	bin := natsServerBin(t)
	for _, tc := range []struct {
		fault string
		sig   syscall.Signal
	}{{"partition", syscall.SIGINT}, {"pause", syscall.SIGKILL}} {
		t.Run(tc.fault, func(t *testing.T) {
			out := t.TempDir()
			cmd := exec.Command(binPath, "run", "--server-bin", bin, "--faults", tc.fault, "--fault-start", "1s",
				"--fault-interval", "30s", "--fault-duration", "25s", "--duration", "60s", "--quiet", "--out", out)
			var stdout strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stdout
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			// The fault starts 1 s into the workload; wait for the workload
			// (a node that has no routes yet is still starting, not cut
			// off), then for its node to be cut off or frozen.
			deadline := time.Now().Add(60 * time.Second)
			for !workloadRunning(out) || !faultActive(t, out, tc.fault) {
				if time.Now().After(deadline) {
					t.Fatalf("no %s fault began:\n%s", tc.fault, stdout.String())
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			code := waitExit(t, cmd, 2*time.Minute)
			if tc.sig == syscall.SIGINT {
				if code != 4 {
					t.Fatalf("exit %d (want 4: cut short) after SIGINT during a partition:\n%s", code, stdout.String())
				}
				s := readSummary(t, out)
				last := s.Faults[len(s.Faults)-1]
				if last.Kind != "heal" || s.Faults[0].Kind != tc.fault {
					t.Errorf("faults %+v", s.Faults)
				}
				if dirs := clusterDirs(out); len(dirs) > 0 {
					t.Errorf("cluster stores left after Ctrl-C: %v", dirs)
				}
			}
			for time.Now().Before(deadline) && len(serversOf(t, out)) > 0 {
				time.Sleep(100 * time.Millisecond)
			}
			if left := serversOf(t, out); len(left) > 0 {
				t.Fatalf("servers outlived the harness (%s during %s): %v", tc.sig, tc.fault, left)
			}
			if r := runBin(t, time.Minute, "check", filepath.Join(out, "history.jsonl")); r.code != 4 {
				t.Fatalf("check after %s: exit %d\n%s%s", tc.sig, r.code, r.stdout, r.stderr)
			}
		})
	}
}

// faultActive: a spawned node is frozen (pause) or has lost every route
// (partition), seen from outside the harness: the process state, or the
// node's monitoring endpoint.
// workloadRunning: the run's history has client operations.
func workloadRunning(out string) bool {
	b, err := os.ReadFile(filepath.Join(out, "history.jsonl"))
	return err == nil && bytes.Contains(b, []byte(`"kind":"op","client"`))
}

func faultActive(t *testing.T, out, fault string) bool {
	procs := serversOf(t, out)
	if len(procs) < 3 {
		return false
	}
	switch fault {
	case "pause":
		for _, p := range procs {
			pid := strings.Fields(p)[0]
			stat, _ := os.ReadFile("/proc/" + pid + "/stat")
			if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "T" {
				return true
			}
		}
	case "partition":
		// A node's monitoring port (from its config) reports no routes.
		confs, _ := filepath.Glob(filepath.Join(out, "nodes", "kvharness-cluster-*", "n*.conf"))
		for _, conf := range confs {
			b, _ := os.ReadFile(conf)
			m := regexp.MustCompile(`http: (\S+)`).FindSubmatch(b)
			if m == nil {
				continue
			}
			resp, err := http.Get("http://" + string(m[1]) + "/routez")
			if err != nil {
				continue
			}
			var rz struct {
				NumRoutes int `json:"num_routes"`
			}
			err = json.NewDecoder(resp.Body).Decode(&rz)
			resp.Body.Close()
			if err == nil && rz.NumRoutes == 0 {
				return true
			}
		}
	}
	return false
}

// TestCompareCatchesALatencyFault: the upgrade-decision verb on real runs —
// a candidate whose routes were slowed by a latency fault regresses against
// the same scenario without it, and compare names the regression.
func TestCompareCatchesALatencyFault(t *testing.T) {
	bin := natsServerBin(t)
	base, cand := t.TempDir(), t.TempDir()
	common := []string{"run", "single", "--server-bin", bin, "--nodes", "3", "--replicas", "3", "--duration", "4s", "--quiet"}
	if r := runBin(t, 2*time.Minute, append(common, "--out", base)...); r.code != 0 {
		t.Fatalf("base run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := runBin(t, 2*time.Minute, append(common, "--out", cand, "--faults", "latency", "--fault-target", "all",
		"--fault-latency", "25ms", "--fault-start", "10ms", "--fault-interval", "20s", "--fault-duration", "19s")...)
	if r.code != 0 {
		t.Fatalf("candidate run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runBin(t, time.Minute, "compare", base, cand)
	if r.code != 1 || !strings.Contains(r.stdout, "p99 up") || !strings.Contains(r.stdout, "throughput down") {
		t.Fatalf("compare against a latency fault: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestRollingUpgrade: every node restarts in turn onto the newer release
// while the workload runs, and the run reaches a verdict. Which verdict is
// the servers' business: 2.10.27 -> 2.15.2 under load fails here (replicas
// end up holding the same messages at different sequences; rolling
// restarts within either release pass), so the test asserts the
// mechanism, not the outcome.
func TestRollingUpgrade(t *testing.T) {
	t.Parallel() // a run checked for its outcome, not its speed: see TestMain
	newBin := natsServerBin(t)
	oldBin := testenv.ServerBin(t, testenv.NATSServerOld)
	out := t.TempDir()
	// Three restarts, each waiting for the cluster to be healthy, took
	// about 5 s here; a run that ends first cuts the last one short (with
	// 12 s it did, once in CI).
	r := runBin(t, 4*time.Minute, "run", "rolling-upgrade", "--server-bin", oldBin, "--upgrade-bin", newBin,
		"--fault-start", "2s", "--duration", "25s", "--quiet", "--out", out)
	if r.code != 0 && r.code != 1 {
		t.Fatalf("exit %d: no verdict\n%s%s", r.code, r.stdout, r.stderr)
	}
	s := readSummary(t, out)
	if len(s.Faults) != 2 || s.Faults[0].Kind != "rolling-restart" || !strings.Contains(s.Faults[0].Detail, "onto "+filepath.Base(newBin)) {
		t.Fatalf("faults %+v", s.Faults)
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		log, _ := os.ReadFile(filepath.Join(out, "nodes", n+".log"))
		old, upgraded := strings.Index(string(log), "Version:  2.10"), strings.LastIndex(string(log), "Version:  2.15")
		if old < 0 || upgraded < old {
			t.Errorf("%s did not start on 2.10 and come back on 2.15 (log: %d bytes)", n, len(log))
		}
	}
}

// TestFaultPlan: a scenario's plan runs its steps once each, in order, at
// their times — here leader step-downs, which need no spawned servers.
func TestFaultPlan(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	t.Parallel() // a run checked for its outcome, not its speed: see TestMain
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.yaml")
	os.WriteFile(path, []byte(`name: plan
target: {nodes: 3}
bucket: {replicas: 3}
workload: {clients: 4, duration: 10s, keys: 4}
faults:
  plan:
    - {kind: leader-stepdown, at: 1s, duration: 1s}
    - {kind: leader-stepdown, at: 4s, duration: 1s}
`), 0o644)
	out := filepath.Join(dir, "out")
	s := assertGoodRun(t, runBin(t, 2*time.Minute, "run", path, "--quiet", "--out", out), out, "put")
	if len(s.Faults) != 3 || s.Faults[0].Kind != "leader-stepdown" || s.Faults[1].Kind != "leader-stepdown" || s.Faults[2].Kind != "heal" {
		t.Fatalf("faults %+v", s.Faults)
	}
	for _, f := range s.Faults[:2] {
		if !strings.Contains(f.Detail, "->") {
			t.Errorf("step-down without a new leader: %+v", f)
		}
	}
	if s.Target.Mode != "embedded" {
		t.Errorf("a step-down plan spawned servers: %+v", s.Target)
	}
}
