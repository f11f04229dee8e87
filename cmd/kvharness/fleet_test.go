package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/internal/testenv"
)

// controlPort is a free port for a coordinator's control server, so that
// its workers can be started first.
func controlPort(t *testing.T) int {
	t.Helper()
	ports, err := cluster.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

// workerProc is a `kvharness worker` process; exited closes when it ends.
type workerProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// startWorker starts `kvharness worker` on the control server at port; it
// is killed when the test ends (and dies with the test process).
func startWorker(t *testing.T, port int, name string, extra ...string) *workerProc {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"worker", "--control", fmt.Sprintf("nats://127.0.0.1:%d", port), "--name", name}, extra...)...)
	var log testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &workerProc{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(w.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-w.exited
		if t.Failed() {
			t.Logf("worker %s:\n%s", name, log.String())
		}
	})
	return w
}

// fleetSecret: what the tests' coordinators and workers share.
const testFleetSecret = "fleet-secret-for-tests"

func fleetArgs(port, workers int) []string {
	return []string{"--workers", fmt.Sprint(workers), "--control-listen", fmt.Sprintf("127.0.0.1:%d", port), "--await-workers", "30s", "--quiet"}
}

// A coordinator and three worker processes against the default scenario's
// three embedded nodes: one history, every required check passing, each
// worker named with its share. Two of the workers' clocks are skewed by
// ±50 ms: the estimate finds the skew within its bound, and no check is
// fooled by it.
func TestWorkersShareARun(t *testing.T) {
	t.Setenv("KVHARNESS_FLEET_SECRET", testFleetSecret)
	if testing.Short() {
		t.Skip("a coordinator and three worker processes")
	}
	port := controlPort(t)
	skews := map[string]float64{"w1": 0, "w2": 50_000, "w3": -50_000} // µs
	procs := map[string]*workerProc{}
	for name, skew := range skews {
		runs := "0" // until stopped
		if name == "w1" {
			runs = "1" // one run, then exit, as a Kubernetes Job's pod does
		}
		procs[name] = startWorker(t, port, name, "--clock-skew", fmt.Sprintf("%gus", skew), "--runs", runs)
	}
	out := t.TempDir()
	r := runBin(t, 3*time.Minute, append([]string{"run", "--duration", "4s", "--clients", "6", "--out", out}, fleetArgs(port, 3)...)...)
	s := assertGoodRun(t, r, out, "put", "update", "create", "get", "delete")
	if len(s.Workers) != 3 {
		t.Fatalf("workers in summary.json: %+v", s.Workers)
	}
	var ops int64
	for _, w := range s.Workers {
		ops += w.Ops
		if w.Clients != 2 || w.Ops == 0 || w.Lost != "" {
			t.Errorf("worker %+v", w)
		}
		// One machine, one wall clock: the true offset is the skew (and
		// the time between reading the wall clock and the monotonic one).
		if d := math.Abs(w.ClockOffsetUS - skews[w.Name]); d > w.ClockBoundUS+100 {
			t.Errorf("worker %s: offset %.0f µs ± %.0f, injected %.0f", w.Name, w.ClockOffsetUS, w.ClockBoundUS, skews[w.Name])
		}
		if !strings.Contains(r.stdout, w.Name) {
			t.Errorf("the text summary does not name %s", w.Name)
		}
	}
	var total int
	for _, o := range s.Ops {
		total += o.OK + o.Fail + o.Unknown
	}
	if int64(total) != ops {
		t.Errorf("the workers made %d ops, the summary counts %d", ops, total)
	}
	select {
	case <-procs["w1"].exited:
		if code := procs["w1"].cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("w1 (--runs 1) exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Error("w1 (--runs 1) did not exit after its run")
	}
	select {
	case <-procs["w2"].exited:
		t.Error("w2 (--runs 0) exited after the run")
	default:
	}
}

// Three workers against a spawned three-node cluster of a release, as
// external servers.
func TestWorkersAgainstSpawnedServers(t *testing.T) {
	t.Setenv("KVHARNESS_FLEET_SECRET", testFleetSecret)
	bin := testenv.ServerBin(t, testenv.NATSServer)
	if testing.Short() {
		t.Skip("worker processes against spawned servers")
	}
	procs, err := cluster.StartProcesses(cluster.ProcessConfig{Bin: bin, Nodes: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(procs.Stop)
	port := controlPort(t)
	for _, name := range []string{"a", "b", "c"} {
		startWorker(t, port, name)
	}
	out := t.TempDir()
	r := runBin(t, 3*time.Minute, append([]string{"run", "--server", strings.Join(procs.URLs(), ","), "--replicas", "3",
		"--ops", "4000", "--clients", "6", "--keys", "6", "--out", out}, fleetArgs(port, 3)...)...)
	s := assertGoodRun(t, r, out, "put", "update", "get")
	var ops int64
	for _, w := range s.Workers {
		ops += w.Ops
	}
	if len(s.Workers) != 3 || ops != 4000 {
		t.Errorf("workers %+v", s.Workers)
	}
}

// A worker killed with SIGKILL mid-run: the run is inconclusive (exit 3)
// and names it; what the other worker did is checked.
func TestWorkerKilledMidRun(t *testing.T) {
	t.Setenv("KVHARNESS_FLEET_SECRET", testFleetSecret)
	if testing.Short() {
		t.Skip("kills a worker process")
	}
	port := controlPort(t)
	startWorker(t, port, "stays")
	victim := startWorker(t, port, "killed")
	out := t.TempDir()
	done := make(chan result, 1)
	go func() {
		done <- runBin(t, 3*time.Minute, append([]string{"run", "single", "--duration", "8s", "--clients", "4", "--out", out}, fleetArgs(port, 2)...)...)
	}()
	waitForOps(t, out, 500)
	_ = victim.cmd.Process.Signal(syscall.SIGKILL)
	r := <-done
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "killed") || !strings.Contains(r.stdout, "lost") {
		t.Errorf("the output does not name the lost worker:\n%s", r.stdout)
	}
	s := readSummary(t, out)
	for _, w := range s.Workers {
		switch {
		case w.Name == "killed" && w.Lost == "":
			t.Errorf("the killed worker is not marked lost: %+v", w)
		case w.Name == "stays" && (w.Lost != "" || w.Ops == 0):
			t.Errorf("the other worker: %+v", w)
		}
	}
	for _, c := range s.Checks {
		if c.Result == "pass" || c.Result == "fail" {
			t.Errorf("%s decided (%s) though a worker's last records are missing", c.Name, c.Result)
		}
	}
}

// waitForOps waits until the run writing its history in dir has recorded
// n lines (the coordinator's own: watch deliveries of the workers' writes).
func waitForOps(t *testing.T, dir string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(dir, "history.jsonl")); err == nil && bytes.Count(b, []byte("\n")) >= n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the run in %s recorded fewer than %d lines", dir, n)
}

// A real violation is still found through workers: the test loses
// acknowledged writes (it purges the bucket's stream mid-run, as a broken
// server might), with the clients on two workers, and no-lost-writes fails
// on the merged history.
func TestWorkersFindLostWrites(t *testing.T) {
	t.Setenv("KVHARNESS_FLEET_SECRET", testFleetSecret)
	if testing.Short() {
		t.Skip("worker processes")
	}
	e, err := cluster.StartEmbedded(cluster.EmbeddedConfig{Nodes: 1, StoreParent: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	port := controlPort(t)
	startWorker(t, port, "w1")
	startWorker(t, port, "w2")
	out := t.TempDir()
	done := make(chan result, 1)
	go func() {
		// Many keys, few writes: a key written before the purge is mostly
		// not written again.
		done <- runBin(t, 3*time.Minute, append([]string{"run", "single", "--server", strings.Join(e.ClientURLs(), ","),
			"--mix", "put=1", "--keys", "3000", "--rate", "300", "--duration", "5s", "--clients", "4", "--out", out}, fleetArgs(port, 2)...)...)
	}()
	waitForOps(t, out, 300)
	nc, err := nats.Connect(strings.Join(e.ClientURLs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	purged := false
	for name := range js.StreamNames(ctx).Name() {
		if strings.HasPrefix(name, "KV_kvh_") {
			st, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Purge(ctx); err != nil {
				t.Fatal(err)
			}
			purged = true
		}
	}
	if !purged {
		t.Fatal("found no bucket stream to purge")
	}
	r := <-done
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (a lost write found)\n%s%s", r.code, r.stdout, r.stderr)
	}
	s := readSummary(t, out)
	if got := checkResult(s, "no-lost-writes"); got != "fail" {
		t.Errorf("no-lost-writes: %s", got)
	}
	if len(s.Workers) != 2 || s.Workers[0].Ops == 0 || s.Workers[1].Ops == 0 {
		t.Errorf("workers %+v", s.Workers)
	}
}

// A control server that would listen beyond this machine needs a token;
// a run with workers needs the fleet's secret.
func TestFleetSettingsRefused(t *testing.T) {
	t.Setenv("KVHARNESS_FLEET_SECRET", "")
	r := runBin(t, time.Minute, "run", "single", "--workers", "1", "--out", t.TempDir())
	wantUsageError(t, r, "KVHARNESS_FLEET_SECRET")
	t.Setenv("KVHARNESS_FLEET_SECRET", testFleetSecret)
	r = runBin(t, time.Minute, "run", "single", "--workers", "1", "--control-listen", "0.0.0.0:0", "--out", t.TempDir())
	wantUsageError(t, r, "--control-token")
	r = runBin(t, time.Minute, "worker", "--control", "nats://127.0.0.1:1", "--name", "a.b")
	wantUsageError(t, r, "--name")
}
