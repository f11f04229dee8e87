package workload

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// TestWatcherRecoversFromItsConsumersNode: a scenario watcher whose ordered
// consumer was on a node that died delivers the revisions written since
// within the final phase's wait: nats.go notices the silence only after a
// whole activity window (up to 20 s) and then recreates the consumer.
func TestWatcherRecoversFromItsConsumersNode(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a node and waits for nats.go's heartbeat check")
	}
	emb, err := cluster.StartEmbedded(cluster.EmbeddedConfig{Nodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	_, js := connect(t, emb.ClientURLs())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	kv, err := cluster.CreateBucket(ctx, js, cluster.BucketConfig{Name: "rec", Replicas: 3, Storage: "memory", History: 4})
	if err != nil {
		t.Fatal(err)
	}
	out, err := history.Create(filepath.Join(t.TempDir(), "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	_, wjs := connect(t, emb.ClientURLs())
	wkv, err := wjs.KeyValue(ctx, "rec")
	if err != nil {
		t.Fatal(err)
	}
	w, err := startScenarioWatcher(ctx, wkv, history.WatcherSpec{ID: 1, Mode: history.WatchLatest}, NewClock(), out)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kv.Put(ctx, "k", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	for !w.caughtUp(map[string]uint64{"k": rev}) {
		if ctx.Err() != nil {
			t.Fatal("watcher never delivered the first revision")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Kill the node that holds the watcher's consumer (R1, in memory).
	stream, err := js.Stream(ctx, cluster.StreamName("rec"))
	if err != nil {
		t.Fatal(err)
	}
	var host string
	for ci := range stream.ListConsumers(ctx).Info() {
		if ci.Cluster != nil {
			host = ci.Cluster.Leader
		}
	}
	killed := false
	for _, s := range emb.Servers() {
		if s.Name() == host {
			s.Shutdown()
			killed = true
		}
	}
	if !killed {
		t.Fatalf("no server named %q holds the watcher's consumer", host)
	}
	// One more revision, once the stream has a leader again.
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		rev, err = kv.Put(pctx, "k", []byte("2"))
		pcancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no write after the kill: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	started := time.Now()
	wctx, wcancel := context.WithTimeout(context.Background(), WatcherRecovery)
	defer wcancel()
	final := map[string]uint64{"k": rev}
	for !w.caughtUp(final) && wctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	caught := w.caughtUp(final)
	stopWatchers(wctx, []*ScenarioWatcher{w}, nil)
	if !caught {
		t.Fatalf("watcher did not deliver revision %d within %v after its consumer's node %s died", rev, WatcherRecovery, host)
	}
	t.Logf("consumer on %s: revision %d delivered %v after the write", host, rev, time.Since(started).Round(time.Millisecond))
}
