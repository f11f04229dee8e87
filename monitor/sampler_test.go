package monitor

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/internal/testenv"
	"github.com/kvharness/kvharness/reports"
)

// sampleUnderLoad publishes to the target while the sampler runs for
// about two seconds, and returns what it saw.
func sampleUnderLoad(t *testing.T, target *cluster.Target) *reports.Resources {
	t.Helper()
	nc, err := nats.Connect(target.URLs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2600*time.Millisecond)
	defer cancel()
	start := time.Now()
	s := &Sampler{Monitors: target.Monitors(), Now: func() int64 { return int64(time.Since(start)) }, Interval: 500 * time.Millisecond}
	done := make(chan *reports.Resources)
	go func() { done <- s.Run(ctx) }()
	for ctx.Err() == nil {
		_ = nc.Publish("load", make([]byte, 128))
		time.Sleep(100 * time.Microsecond)
	}
	return <-done
}

// Embedded servers: read directly; their CPU and memory are this
// process's, which the figures say.
func TestSamplerEmbedded(t *testing.T) {
	target, err := cluster.Up(cluster.TargetConfig{Nodes: 1, LogDir: t.TempDir(), StoreParent: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Down()
	runtime.GC() // so that a collection has marked the live heap before the samples
	r := sampleUnderLoad(t, target)
	if r.Samples < 3 || len(r.Series) != r.Samples || !r.SharedProcess || len(r.Nodes) != 1 {
		t.Fatalf("%d samples, shared %v, nodes %+v", r.Samples, r.SharedProcess, r.Nodes)
	}
	if r.Nodes[0].InMsgsPerSec <= 0 || r.Harness.CPUMeanPct <= 0 || r.Harness.RSSMaxMB <= 0 || r.Cores <= 0 || len(r.Errors) > 0 {
		t.Errorf("figures %+v, harness %+v, errors %v", r.Nodes[0], r.Harness, r.Errors)
	}
	// The Go runtime's own figures: a live heap (the test holds some),
	// under all the runtime has mapped.
	for _, x := range r.Series {
		if x.HarnessHeapLive <= 0 || x.HarnessGoTotal <= x.HarnessHeapLive {
			t.Errorf("second %.0f: live heap %.1f MB, Go total %.1f MB", x.T, x.HarnessHeapLive, x.HarnessGoTotal)
		}
	}
}

// Spawned servers: read over HTTP from each node's monitoring endpoint; a
// node that stops answering (SIGSTOP) leaves gaps and an error, not a hang.
func TestSamplerSpawned(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns servers")
	}
	bin := testenv.ServerBin(t, testenv.NATSServer)
	target, err := cluster.Up(cluster.TargetConfig{Nodes: 3, ServerBin: bin, LogDir: t.TempDir(), StoreParent: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Down()
	if err := target.Processes.Pause(2); err != nil {
		t.Fatal(err)
	}
	r := sampleUnderLoad(t, target)
	_ = target.Processes.Resume(2)
	if r.SharedProcess || len(r.Nodes) != 3 || r.Samples < 3 {
		t.Fatalf("shared %v, nodes %+v, %d samples", r.SharedProcess, r.Nodes, r.Samples)
	}
	if r.Nodes[0].InMsgsPerSec <= 0 || r.Nodes[0].RSSMaxMB <= 0 {
		t.Errorf("n1: %+v", r.Nodes[0])
	}
	if r.Series[0].Nodes[2].OK || len(r.Errors) == 0 {
		t.Errorf("the paused node answered: %+v, errors %v", r.Series[0].Nodes[2], r.Errors)
	}
}
