package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/internal/testenv"
)

// These tests run the real binary, as a user or CI would: exit codes and
// stderr lines are part of the interface.

var binPath string

// TestMain builds the binary the tests run (with the race detector when
// the tests have it). Most of this package's time is runs that last their
// duration whatever the machine does, so the longest runs whose assertions
// are about outcomes (verdicts, faults made, nothing left behind) call
// t.Parallel: two at a time on two cores. Tests that measure speed
// (capacity, ab, compare), time signals against a run, or set the
// environment (t.Setenv: the fleet tests) stay sequential; Go runs them
// first, alone in this package.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kvharness-bin-")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "kvharness")
	args := []string{"build", "-o", binPath}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building kvharness: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code   int
	stdout string
	stderr string
}

func runBin(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("kvharness %v did not finish within %s\nstdout:\n%s\nstderr:\n%s", args, timeout, stdout.String(), stderr.String())
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// wantUsageError: exit 2 and exactly one line on stderr containing want.
func wantUsageError(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.code != 2 {
		t.Fatalf("exit code %d, want 2\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	line := strings.TrimRight(r.stderr, "\n")
	if strings.Contains(line, "\n") || line == "" {
		t.Fatalf("want one line on stderr, got %q", r.stderr)
	}
	if strings.Contains(line, "goroutine") || strings.Contains(line, "panic") {
		t.Fatalf("stack trace on stderr: %q", line)
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("stderr %q does not mention %q", line, w)
		}
	}
}

func TestBadScenarioFiles(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown-field", "name: x\nworkload:\n  clientz: 3\n", []string{"line 3", "clientz"}},
		{"bad-type", "name: x\nworkload:\n  clients: many\n", []string{"line 3"}},
		{"bad-range", "name: x\nworkload:\n  keys: 4\n  clients: -2\n", []string{"line 4", "clients"}},
		{"bad-mix-op", "name: x\nworkload:\n  mix:\n    put: 1\n    increment: 2\n", []string{"line 5", "increment"}},
		{"bad-check", "name: x\nexpect:\n  required: [linearizable-writes, no-such-check]\n", []string{"line 3", "no-such-check"}},
		{"replicas-over-nodes", "target:\n  nodes: 1\nbucket:\n  replicas: 3\n", []string{"line 4", "replicas"}},
		{"not-yaml", "workload: [unclosed\n", []string{"line 1"}},
		{"missing-upgrade-bin", "faults:\n  kinds: [rolling-restart]\n  upgrade_bin: /path/to/nats-server\n", []string{"upgrade_bin", "/path/to/nats-server: no such file"}},
		{"server-bin-a-folder", "target:\n  server_bin: /tmp\n", []string{"server_bin", "is a folder"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			r := runBin(t, 30*time.Second, "run", path, "--out", t.TempDir())
			wantUsageError(t, r, append(c.want, path)...)
		})
	}
	t.Run("missing-file", func(t *testing.T) {
		wantUsageError(t, runBin(t, 30*time.Second, "run", filepath.Join(dir, "nope.yaml")), "nope.yaml")
	})
}

func TestBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "single", "--clients", "abc"}, "--clients"},
		{[]string{"run", "single", "--clients", "0"}, "--clients must be positive"},
		{[]string{"run", "single", "--mix", "put=x"}, "put=x"},
		{[]string{"run", "single", "--mix", "frobnicate=1"}, "frobnicate"},
		{[]string{"run", "single", "--duration", "-3s"}, "--duration must be positive"},
		{[]string{"run", "single", "--key-dist", "pareto"}, "pareto"},
		{[]string{"run", "single", "--rate", "100", "--stages", "10:1s"}, "not both"},
		{[]string{"run", "single", "--partition-mode", "shred"}, "shred"},
		{[]string{"run", "single", "--pattern", "juggle"}, "juggle"},
		{[]string{"run", "single", "--no-such-flag"}, "no-such-flag"},
		{[]string{"check"}, "arg(s)"},
		{[]string{"nosuchverb"}, "unknown command"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, "_"), func(t *testing.T) {
			args := c.args
			if args[0] == "run" {
				args = append(args, "--out", t.TempDir())
			}
			wantUsageError(t, runBin(t, 30*time.Second, args...), c.want)
		})
	}
}

func TestUnreachableServer(t *testing.T) {
	ports, err := cluster.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("nats://127.0.0.1:%d", ports[0])
	start := time.Now()
	r := runBin(t, 60*time.Second, "run", "single", "--server", url, "--out", t.TempDir())
	wantUsageError(t, r, url)
	if time.Since(start) > 30*time.Second {
		t.Errorf("took %s to give up on an unreachable server", time.Since(start))
	}
}

func TestCheckBadHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	os.WriteFile(path, []byte("not json\n{\"kind\":\"op\"}\n"), 0o644)
	wantUsageError(t, runBin(t, 30*time.Second, "check", path), "line 1")
}

func TestScenariosList(t *testing.T) {
	r := runBin(t, 30*time.Second, "scenarios")
	if r.code != 0 || !strings.Contains(r.stdout, "default") || !strings.Contains(r.stdout, "single") {
		t.Fatalf("scenarios: code %d, stdout %q", r.code, r.stdout)
	}
}

// summary is the part of summary.json the tests read.
type summary struct {
	Verdict string `json:"verdict"`
	Checks  []struct {
		Name, Result, Detail string
		Required             bool
	} `json:"checks"`
	Propagation *struct{ Deliveries, Watchers int } `json:"watch_propagation"`
	Ops         map[string]struct {
		OK, Fail, Unknown int
		LatencyUS         struct{ P50, P99, Max float64 } `json:"latency_us"`
	} `json:"ops"`
	Throughput  float64 `json:"throughput_ops_per_sec"`
	Interrupted bool    `json:"interrupted"`
	ExitCode    int     `json:"exit_code"`
	Target      struct {
		Mode          string `json:"mode"`
		Nodes         int    `json:"nodes"`
		Replicas      int    `json:"replicas"`
		ServerVersion string `json:"server_version"`
		SyncInterval  string `json:"sync_interval"`
	} `json:"target"`
	Faults     []struct{ Kind, Target, Detail string } `json:"faults"`
	Leadership *struct {
		Stretches     []struct{ Leader string } `json:"stretches"`
		LeaderChanges int                       `json:"leader_changes"`
	} `json:"stream_leadership"`
	Workers []struct {
		Name          string  `json:"name"`
		Clients       int     `json:"clients"`
		Ops           int64   `json:"ops"`
		ClockOffsetUS float64 `json:"clock_offset_us"`
		ClockBoundUS  float64 `json:"clock_bound_us"`
		Lost          string  `json:"lost"`
	} `json:"workers"`
}

func readSummary(t *testing.T, dir string) summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func checkResult(s summary, name string) string {
	for _, c := range s.Checks {
		if c.Name == name {
			return c.Result
		}
	}
	return "missing"
}

// assertGoodRun: exit 0, every op of the mix succeeded at least once, the
// write checks passed, and `check` reaches the same verdict offline.
func assertGoodRun(t *testing.T, r result, out string, ops ...string) summary {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	s := readSummary(t, out)
	if s.Verdict != "pass" {
		t.Fatalf("verdict %q", s.Verdict)
	}
	for _, op := range ops {
		if s.Ops[op].OK == 0 {
			t.Errorf("no successful %s in %+v", op, s.Ops)
		}
	}
	for _, c := range []string{"linearizable-writes", "revisions-unique", "no-lost-writes"} {
		if got := checkResult(s, c); got != "pass" {
			t.Errorf("%s: %s", c, got)
		}
	}
	if s.Faults == nil {
		t.Error("summary.json has no faults list")
	}
	rc := runBin(t, 2*time.Minute, "check", filepath.Join(out, "history.jsonl"))
	if rc.code != r.code || !strings.Contains(rc.stdout, "verdict: PASS") {
		t.Fatalf("offline check: exit %d\n%s%s", rc.code, rc.stdout, rc.stderr)
	}
	return s
}

func TestRunSingleEmbedded(t *testing.T) {
	out := t.TempDir()
	r := runBin(t, 2*time.Minute, "run", "single", "--ops", "3000", "--quiet", "--out", out)
	s := assertGoodRun(t, r, out, "put", "update", "create", "get", "delete")
	if got := checkResult(s, "linearizable-reads"); got != "pass" {
		t.Errorf("linearizable-reads on R1: %s", got)
	}
	if s.Target.Mode != "embedded" || s.Target.Nodes != 1 || s.Target.Replicas != 1 || s.Target.ServerVersion == "" {
		t.Errorf("target %+v", s.Target)
	}
}

func TestRunDefaultEmbeddedCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("3-node cluster run")
	}
	out := t.TempDir()
	r := runBin(t, 3*time.Minute, "run", "--duration", "4s", "--quiet", "--out", out)
	s := assertGoodRun(t, r, out, "put", "update", "create", "get", "delete")
	if s.Target.Nodes != 3 || s.Target.Replicas != 3 {
		t.Errorf("target %+v", s.Target)
	}
}

// TestRunExternalProcesses runs against 3 separate nats-server processes of
// the current release and of an older one (binaries built by `make tools`).
func TestRunExternalProcesses(t *testing.T) {
	t.Parallel() // a run checked for its outcome, not its speed: see TestMain
	for _, env := range testenv.Releases {
		t.Run(env, func(t *testing.T) {
			bin := testenv.ServerBin(t, env)
			procs, err := cluster.StartProcesses(cluster.ProcessConfig{Bin: bin, Nodes: 3, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(procs.Stop)
			out := t.TempDir()
			r := runBin(t, 3*time.Minute, "run", "--server", strings.Join(procs.URLs(), ","), "--replicas", "3",
				"--ops", "3000", "--clients", "6", "--keys", "6", "--quiet", "--out", out)
			s := assertGoodRun(t, r, out, "put", "update", "create", "get", "delete")
			if s.Target.Mode != "external" || s.Target.Replicas != 3 || s.Target.ServerVersion == "" {
				t.Errorf("target %+v", s.Target)
			}
			t.Logf("server %s: %.0f ops/s", s.Target.ServerVersion, s.Throughput)
		})
	}
}

// startRun starts a long run and waits until its history has operations
// (a plain one: 500 lines; a compressed one: 50 kB of frames).
func startRun(t *testing.T, out string, extra ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"run", "single", "--duration", "60s", "--quiet", "--out", out}, extra...)...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(out, "history.jsonl")); err == nil && bytes.Count(b, []byte("\n")) > 500 {
			return cmd, &stdout
		}
		if fi, err := os.Stat(filepath.Join(out, "history.jsonl.zst")); err == nil && fi.Size() > 50_000 {
			return cmd, &stdout
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run did not record operations in time:\n%s", stdout.String())
	return nil, nil
}

func waitExit(t *testing.T, cmd *exec.Cmd, timeout time.Duration) int {
	t.Helper()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("did not exit within %s", timeout)
		return -1
	}
}

func TestInterruptStopsCleanly(t *testing.T) {
	out := t.TempDir()
	cmd, stdout := startRun(t, out)
	start := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	// Checked and reported, but never exit 0: a CI job stopped by its
	// timeout must not read as a pass.
	code := waitExit(t, cmd, 60*time.Second)
	if code != 4 {
		t.Fatalf("exit %d after SIGINT, want 4:\n%s", code, stdout.String())
	}
	t.Logf("stopped %s after SIGINT", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(stdout.String(), "verdict: PASS — the run was cut short") {
		t.Errorf("the verdict line does not say the run was cut short:\n%s", stdout.String())
	}
	s := readSummary(t, out)
	if !s.Interrupted || s.Verdict != "pass" || s.ExitCode != 4 {
		t.Errorf("interrupted=%v verdict=%s exit_code=%d", s.Interrupted, s.Verdict, s.ExitCode)
	}
	junit, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil || !strings.Contains(string(junit), `name="run-complete"`) || !strings.Contains(string(junit), `<error message="interrupted"`) {
		t.Errorf("junit.xml does not say the run was cut short (%v):\n%s", err, junit)
	}
	if r := runBin(t, time.Minute, "check", filepath.Join(out, "history.jsonl")); r.code != 4 {
		t.Fatalf("check after SIGINT: %d, want 4\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestKilledRunLeavesCheckableHistory(t *testing.T) {
	out := t.TempDir()
	cmd, _ := startRun(t, out)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	waitExit(t, cmd, 30*time.Second)
	r := runBin(t, time.Minute, "check", filepath.Join(out, "history.jsonl"))
	// Without final reads no-lost-writes cannot be decided: a run cut
	// short, never a pass, a usage error or a false violation.
	if r.code != 4 {
		t.Fatalf("check of a killed run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "no end record") {
		t.Errorf("check does not say the run was killed:\n%s", r.stdout)
	}
}

// report on the folder of a run killed with SIGKILL checks its history,
// writes what a finished run writes and removes the stores its servers
// left; while the run still goes it refuses.
func TestReportOnAKilledRun(t *testing.T) {
	out := t.TempDir()
	cmd, _ := startRun(t, out)
	if r := runBin(t, time.Minute, "report", out); r.code != 2 || !strings.Contains(r.stderr, "still going") {
		t.Fatalf("report on a live run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if stores, _ := filepath.Glob(filepath.Join(out, "nodes", "kvharness-store-*")); len(stores) == 0 {
		t.Fatal("the running server keeps no store in nodes/: the test below would prove nothing")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	waitExit(t, cmd, 30*time.Second)
	r := runBin(t, 2*time.Minute, "report", out)
	if r.code != 4 || !strings.Contains(r.stdout, "did not finish") || !strings.Contains(r.stdout, "removed the server store") {
		t.Fatalf("report on a killed run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, f := range []string{"summary.json", "report.html", "junit.xml", "timeseries.csv"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("report on a killed run: %v", err)
		}
	}
	if s := readSummary(t, out); !s.Interrupted || s.ExitCode != 4 {
		t.Errorf("summary of a killed run: interrupted=%v exit_code=%d", s.Interrupted, s.ExitCode)
	}
	if stores, _ := filepath.Glob(filepath.Join(out, "nodes", "kvharness-store-*")); len(stores) > 0 {
		t.Errorf("stores left after report: %v", stores)
	}
	// Now a results folder like any: report re-renders it.
	if r := runBin(t, time.Minute, "report", out); r.code != 0 {
		t.Fatalf("second report: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A compressed history (--compress-history) is checked, re-rendered and
// printed as a plain one is, and a run killed mid-frame leaves one that
// check accepts up to its last whole frame.
func TestCompressedHistory(t *testing.T) {
	out := t.TempDir()
	r := runBin(t, 2*time.Minute, "run", "single", "--ops", "3000", "--compress-history", "--quiet", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	zst := filepath.Join(out, "history.jsonl.zst")
	if _, err := os.Stat(filepath.Join(out, "history.jsonl")); err == nil {
		t.Error("a plain history.jsonl beside the compressed one")
	}
	if rc := runBin(t, time.Minute, "check", zst); rc.code != 0 || !strings.Contains(rc.stdout, "verdict: PASS") {
		t.Fatalf("check: exit %d\n%s%s", rc.code, rc.stdout, rc.stderr)
	}
	if rr := runBin(t, time.Minute, "report", out); rr.code != 0 {
		t.Fatalf("report: exit %d\n%s", rr.code, rr.stderr)
	}
	cat := runBin(t, time.Minute, "history", "cat", zst)
	lines := strings.Split(strings.TrimSpace(cat.stdout), "\n")
	if cat.code != 0 || !strings.HasPrefix(lines[0], `{"kind":"meta"`) || !strings.HasPrefix(lines[len(lines)-1], `{"kind":"end"`) {
		t.Fatalf("history cat: exit %d, %d lines, first %.60q", cat.code, len(lines), lines[0])
	}
	var plain int64
	for _, l := range lines {
		plain += int64(len(l)) + 1
	}
	fi, _ := os.Stat(zst)
	t.Logf("3000 ops: %d bytes compressed, %d plain (%.1fx)", fi.Size(), plain, float64(plain)/float64(fi.Size()))
	if fi.Size()*4 > plain {
		t.Errorf("compressed %d bytes of %d plain: want at least 4x smaller", fi.Size(), plain)
	}

	killed := t.TempDir()
	cmd, _ := startRun(t, killed, "--compress-history")
	_ = cmd.Process.Signal(syscall.SIGKILL)
	waitExit(t, cmd, 30*time.Second)
	if rk := runBin(t, time.Minute, "check", filepath.Join(killed, "history.jsonl.zst")); rk.code != 4 || !strings.Contains(rk.stdout, "no end record") {
		t.Fatalf("check of a killed compressed run: exit %d\n%s%s", rk.code, rk.stdout, rk.stderr)
	}
}

// TestUnknownOutcomesResolved forces most writes past a tiny op timeout, so
// their outcome is unknown though the server applied them, and expects the
// checker to resolve them from the recording watcher and still pass. Deletes
// are left out: they carry no value, so unknown ones cannot be resolved and,
// by the hundred, make the check exponential (see README).
func TestUnknownOutcomesResolved(t *testing.T) {
	out := t.TempDir()
	r := runBin(t, 3*time.Minute, "run", "single", "--ops", "3000", "--op-timeout", "300us",
		"--mix", "put=2,update=3,create=1,get=2", "--quiet", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	var s struct {
		Ops        map[string]struct{ Unknown int }
		Resolution map[string]struct {
			Happened, NotHappened, StillUnknown int
		} `json:"unknown_resolution"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	// Puts take 0.3 ms at the median here and far more at p99: none of
	// a thousand timing out at 300 µs means the op timeout was ignored.
	if s.Ops["put"].Unknown == 0 {
		t.Fatalf("no put timed out at 300µs: is --op-timeout applied? %+v", s.Ops)
	}
	put := s.Resolution["put"]
	if put.Happened == 0 || put.StillUnknown != 0 {
		t.Fatalf("unknown puts not resolved from the watcher: %+v", s.Resolution)
	}
	t.Logf("resolution: %+v", s.Resolution)
}

// TestThresholdsFailTheRun: a crossed threshold is exit 1 in the run and in
// the offline re-check, and a failed test case in junit.xml; every op has
// its .hgrm.
func TestThresholdsFailTheRun(t *testing.T) {
	out := t.TempDir()
	r := runBin(t, 2*time.Minute, "run", "single", "--ops", "1500", "--quiet", "--out", out,
		"--threshold", "put.p99<10s", "--threshold", "throughput>100000000")
	if r.code != 1 || !strings.Contains(r.stdout, "throughput >100000000") {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	junit, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil || !strings.Contains(string(junit), `failures="1"`) || !strings.Contains(string(junit), "threshold crossed") {
		t.Fatalf("junit.xml: %v\n%s", err, junit)
	}
	for _, op := range []string{"put", "update", "get"} {
		b, err := os.ReadFile(filepath.Join(out, "latency", op+".hgrm"))
		if err != nil || !strings.Contains(string(b), "Percentile") {
			t.Errorf("%s.hgrm: %v", op, err)
		}
	}
	if rc := runBin(t, time.Minute, "check", filepath.Join(out, "history.jsonl")); rc.code != 1 {
		t.Fatalf("offline check of a run that crossed a threshold: exit %d\n%s", rc.code, rc.stdout)
	}
	wantUsageError(t, runBin(t, 30*time.Second, "run", "single", "--threshold", "put.p77<5ms", "--out", t.TempDir()), "put.p77")
}

// TestCompare: a run against itself and against another run of the same
// scenario is no regression; a candidate whose latency tripled and whose
// throughput halved is, and the regressions are named.
func TestCompare(t *testing.T) {
	base := t.TempDir()
	if r := runBin(t, 2*time.Minute, "run", "single", "--duration", "3s", "--quiet", "--out", base); r.code != 0 {
		t.Fatalf("run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runBin(t, time.Minute, "compare", base, base); r.code != 0 || !strings.Contains(r.stdout, "no regression") || !strings.Contains(r.stdout, "no estimate of significance") {
		t.Fatalf("run vs itself: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A candidate within the default tolerances (20 %): 10 % slower, p99s
	// 10 % up. Made from the base, not run again: two runs on a shared
	// 2-core machine differ by more than any tolerance a test can rely on.
	cand := t.TempDir()
	writeScaledSummary(t, base, cand, 0.9, 1.1)
	if r := runBin(t, time.Minute, "compare", base, cand); r.code != 0 || !strings.Contains(r.stdout, "no regression") {
		t.Fatalf("candidate within tolerance: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(cand, "compare.html")); err != nil {
		t.Fatalf("no compare.html: %v", err)
	}

	slow := t.TempDir()
	editSummary(t, base, slow, func(s map[string]any) {
		s["throughput_ops_per_sec"] = s["throughput_ops_per_sec"].(float64) / 2
		put := s["ops"].(map[string]any)["put"].(map[string]any)["latency_us"].(map[string]any)
		put["p99"] = put["p99"].(float64)*3 + 5000
	})
	r := runBin(t, time.Minute, "compare", base, slow)
	if r.code != 1 || !strings.Contains(r.stdout, "put p99 up") || !strings.Contains(r.stdout, "throughput down") {
		t.Fatalf("slow candidate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantUsageError(t, runBin(t, time.Minute, "compare", base, filepath.Join(base, "nope")), "nope")

	// Folders of several runs a side: the statistics of ab. Five runs a
	// side, made from the base's summary with a spread of a few percent;
	// the candidate's throughput 20 % lower is a regression, found
	// significant, and 1 % lower is not.
	runs := func(scale float64) string {
		dir := t.TempDir()
		for i, jitter := range []float64{1, 1.02, 0.98, 1.01, 0.99} {
			sub := filepath.Join(dir, fmt.Sprintf("night-%02d", i))
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			writeScaledSummary(t, base, sub, scale*jitter, 1)
		}
		return dir
	}
	bases := runs(1)
	r = runBin(t, time.Minute, "compare", bases, runs(0.8))
	if r.code != 1 || !strings.Contains(r.stdout, "throughput slower") || !strings.Contains(r.stdout, "p=0.008") {
		t.Fatalf("five runs a side, 20%% slower: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	same := runs(0.99)
	r = runBin(t, time.Minute, "compare", bases, same)
	if r.code != 0 || !strings.Contains(r.stdout, "verdict: NO REGRESSION") {
		t.Fatalf("five runs a side, 1%% apart: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(same, "ab.html")); err != nil {
		t.Errorf("no ab.html beside the candidate's runs: %v", err)
	}

	// A required check that passed and is now unknown is a regression.
	undecided := t.TempDir()
	editSummary(t, base, undecided, func(s map[string]any) {
		for _, c := range s["checks"].([]any) {
			if c := c.(map[string]any); c["name"] == "linearizable-writes" {
				c["result"], c["detail"] = "unknown", "search budget spent"
			}
		}
		s["verdict"] = "unknown"
	})
	if r := runBin(t, time.Minute, "compare", base, undecided); r.code != 1 || !strings.Contains(r.stdout, "linearizable-writes: pass → unknown") {
		t.Fatalf("candidate with a required check unknown: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Runs of different things are refused, or compared on request with
	// the differences printed.
	other := t.TempDir()
	editSummary(t, base, other, func(s map[string]any) {
		s["target"].(map[string]any)["replicas"] = 3
		s["workload"].(map[string]any)["value_size"] = 4096
	})
	wantUsageError(t, runBin(t, time.Minute, "compare", base, other), "ran different things", "replicas: 1 vs 3", "value size: 128 vs 4096")
	if r := runBin(t, time.Minute, "compare", "--allow-different", base, other); r.code != 0 || !strings.Contains(r.stdout, "compared although they ran different things: replicas: 1 vs 3") {
		t.Fatalf("--allow-different: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// editSummary writes into dir the summary.json of the results folder from,
// changed by edit.
func editSummary(t *testing.T, from, dir string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(from, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	edit(s)
	if b, err = json.Marshal(s); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeScaledSummary writes into dir the summary.json of the results folder
// from, its throughput multiplied by throughput and every op's p99 by p99.
func writeScaledSummary(t *testing.T, from, dir string, throughput, p99 float64) {
	t.Helper()
	editSummary(t, from, dir, func(s map[string]any) {
		s["throughput_ops_per_sec"] = s["throughput_ops_per_sec"].(float64) * throughput
		for _, op := range s["ops"].(map[string]any) {
			if lat, ok := op.(map[string]any)["latency_us"].(map[string]any); ok {
				lat["p99"] = lat["p99"].(float64) * p99
			}
		}
	})
}

// TestOpenLoopRun: --rate paces the run; the summary says open-loop, keeps
// the service time beside the corrected latency and counts late ops.
func TestOpenLoopRun(t *testing.T) {
	out := t.TempDir()
	r := runBin(t, 2*time.Minute, "run", "single", "--rate", "400", "--duration", "2s", "--quiet", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	var s struct {
		Pacing     string  `json:"pacing"`
		Throughput float64 `json:"throughput_ops_per_sec"`
		LateOps    *int64  `json:"late_ops"`
		Ops        map[string]struct {
			Service *struct{ P99 float64 } `json:"service_latency_us"`
		}
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Pacing != "open-loop 400/s" || s.LateOps == nil || s.Ops["put"].Service == nil {
		t.Fatalf("summary: %+v", s)
	}
	if s.Throughput < 300 || s.Throughput > 440 {
		t.Errorf("throughput %.0f ops/s at --rate 400", s.Throughput)
	}

	// Stages: the run lasts as long as they do, at their rates.
	staged := t.TempDir()
	r = runBin(t, 2*time.Minute, "run", "single", "--stages", "100:1s,400:1s", "--quiet", "--out", staged)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	sum := readSummary(t, staged)
	total := 0
	for _, o := range sum.Ops {
		total += o.OK + o.Fail + o.Unknown
	}
	if !strings.Contains(r.stdout, "open-loop 100/s 1s, 400/s 1s") || total != 500 {
		t.Errorf("staged run: %d ops (want 100 + 400)\n%s", total, r.stdout)
	}
	wantUsageError(t, runBin(t, time.Minute, "run", "single", "--stages", "100:1s", "--rate", "5", "--out", t.TempDir()), "--stages")
}

// serversOf lists server processes whose config lives under dir: spawned
// nats-server releases and kvharness serving itself (`kvharness server -c`)
// alike, but not the harness, whose command line names dir with --out.
func serversOf(t *testing.T, dir string) []string {
	out, _ := exec.Command("pgrep", "-af", dir).Output()
	var procs []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(l, " -c ") && strings.Contains(l, ".conf") {
			procs = append(procs, l)
		}
	}
	return procs
}

// TestSpawnedServers: --server-bin runs each node as its own process of the
// given release (here the older one), logs land in nodes/, and no server
// outlives the harness — neither a normal run nor one killed with SIGKILL.
func TestSpawnedServers(t *testing.T) {
	bin := testenv.ServerBin(t, testenv.NATSServerOld)
	out := t.TempDir()
	r := runBin(t, 3*time.Minute, "run", "--server-bin", bin, "--ops", "2000", "--quiet", "--out", out)
	s := assertGoodRun(t, r, out, "put", "update", "get")
	if s.Target.Mode != "process" || s.Target.Nodes != 3 || s.Target.ServerVersion != "2.10.27" {
		t.Errorf("target %+v", s.Target)
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if fi, err := os.Stat(filepath.Join(out, "nodes", n+".log")); err != nil || fi.Size() == 0 {
			t.Errorf("no log for %s: %v", n, err)
		}
	}
	if left := serversOf(t, out); len(left) > 0 {
		t.Fatalf("servers left after the run: %v", left)
	}

	killed := t.TempDir()
	cmd := exec.Command(binPath, "run", "--server-bin", bin, "--duration", "60s", "--quiet", "--out", killed)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(serversOf(t, killed)) < 3 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(serversOf(t, killed)); n < 3 {
		_ = cmd.Process.Kill()
		t.Fatalf("%d servers running, want 3", n)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	for time.Now().Before(deadline) && len(serversOf(t, killed)) > 0 {
		time.Sleep(100 * time.Millisecond)
	}
	if left := serversOf(t, killed); len(left) > 0 {
		t.Fatalf("servers outlived a SIGKILLed harness: %v", left)
	}
}

// TestKillFaults: with spawned servers, kill faults really kill a node (its
// log shows a fresh start after each), are listed with their windows, and
// the R3 bucket keeps every acknowledged write.
func TestKillFaults(t *testing.T) {
	t.Parallel() // a run checked for its outcome, not its speed: see TestMain
	bin := testenv.ServerBin(t, testenv.NATSServer)
	wantUsageError(t, runBin(t, time.Minute, "run", "--server-bin", bin, "--faults", "explode", "--out", t.TempDir()), "explode")

	out := t.TempDir()
	r := runBin(t, 4*time.Minute, "run", "--server-bin", bin, "--faults", "kill", "--fault-interval", "3s",
		"--fault-duration", "1s", "--duration", "8s", "--quiet", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	var s struct {
		Faults []struct {
			Kind, Target string
			Start        float64 `json:"start_sec"`
			End          float64 `json:"end_sec"`
		} `json:"faults"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Faults) < 2 {
		t.Fatalf("faults: %+v", s.Faults)
	}
	starts := 0
	for _, n := range []string{"n1", "n2", "n3"} {
		log, _ := os.ReadFile(filepath.Join(out, "nodes", n+".log"))
		starts += strings.Count(string(log), "Starting nats-server")
	}
	kills := 0
	for i, f := range s.Faults {
		if i == len(s.Faults)-1 {
			if f.Kind != "heal" {
				t.Errorf("last fault %+v, want the heal", f)
			}
			continue
		}
		kills++
		// The last kill may be cut short by the end of the workload.
		if f.Kind != "kill" || f.Start < 2.9 || (f.End-f.Start < 0.9 && i < len(s.Faults)-2) {
			t.Errorf("fault %+v", f)
		}
	}
	if starts < 3+kills {
		t.Errorf("%d server starts in the logs for %d kills: the kills did not restart nodes", starts, kills)
	}
	if left := serversOf(t, out); len(left) > 0 {
		t.Fatalf("servers left after the run: %v", left)
	}
}

// TestSelfSpawnedServers: faults without --server-bin run the harness itself
// as the server processes (`kvharness server`), so they need nothing installed.
func TestSelfSpawnedServers(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a 3-node cluster")
	}
	t.Parallel() // a run checked for its outcome, not its speed: see TestMain
	out := t.TempDir()
	r := runBin(t, 3*time.Minute, "run", "--faults", "kill", "--fault-interval", "2s", "--fault-duration", "500ms",
		"--duration", "3s", "--quiet", "--out", out)
	s := assertGoodRun(t, r, out, "put", "get")
	if s.Target.Mode != "process" || len(s.Faults) != 2 || s.Faults[0].Kind != "kill" || s.Faults[1].Kind != "heal" {
		t.Fatalf("target %+v, faults %v", s.Target, s.Faults)
	}
	if log, _ := os.ReadFile(filepath.Join(out, "nodes", "n1.log")); !strings.Contains(string(log), "Starting nats-server") {
		t.Fatalf("n1.log: %q", log)
	}
	if left := serversOf(t, out); len(left) > 0 {
		t.Fatalf("servers left after the run: %v", left)
	}
}

// TestThroughputMode: --inflight pipelines puts; the run is recorded and
// checked like any other, and a mix with other ops is refused.
func TestThroughputMode(t *testing.T) {
	out := t.TempDir()
	s := assertGoodRun(t, runBin(t, 2*time.Minute, "run", "single", "--mix", "put=1", "--inflight", "32", "--duration", "2s", "--quiet", "--out", out), out, "put")
	if s.Ops["put"].OK < 1000 {
		t.Errorf("%d puts in 2 s of throughput mode", s.Ops["put"].OK)
	}
	wantUsageError(t, runBin(t, time.Minute, "run", "single", "--inflight", "32", "--out", t.TempDir()), "inflight")
}

// TestCheckInterruptRemovesTempFiles: `check` cuts the history by key into
// temporary files; Ctrl-C while it checks removes them, as finishing does.
func TestCheckInterruptRemovesTempFiles(t *testing.T) {
	out := t.TempDir()
	if r := runBin(t, 2*time.Minute, "run", "single", "--duration", "3s", "--quiet", "--out", out); r.code != 0 {
		t.Fatalf("run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	tmp := t.TempDir()
	cmd := exec.Command(binPath, "check", filepath.Join(out, "history.jsonl"))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(tmp, "kvharness-spill-*")); len(m) > 0 {
			break
		}
	}
	cmd.Process.Signal(os.Interrupt)
	code := waitExit(t, cmd, time.Minute)
	if m, _ := filepath.Glob(filepath.Join(tmp, "*")); len(m) > 0 {
		t.Fatalf("left behind after exit %d: %v\n%s", code, m, stderr.String())
	}
	if strings.Contains(stderr.String(), "interrupted") && code != 2 {
		t.Fatalf("interrupted check: exit %d, want 2", code)
	}
	t.Logf("exit %d: %s", code, strings.TrimSpace(stderr.String()))
}
