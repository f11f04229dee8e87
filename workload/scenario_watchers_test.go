package workload

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// kvEnv is one embedded server with a bucket, and a history file.
type kvEnv struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	kv    jetstream.KeyValue
	out   *history.Writer
	path  string
	clock Clock
}

func startKVEnv(t *testing.T, cfg cluster.BucketConfig) *kvEnv {
	t.Helper()
	emb, err := cluster.StartEmbedded(cluster.EmbeddedConfig{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	e := &kvEnv{clock: NewClock(), path: filepath.Join(t.TempDir(), "history.jsonl")}
	e.nc, e.js = connect(t, emb.ClientURLs())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg.Name, cfg.Replicas = "b", 1
	if cfg.Storage == "" {
		cfg.Storage = "memory"
	}
	if e.kv, err = cluster.CreateBucket(ctx, e.js, cfg); err != nil {
		t.Fatal(err)
	}
	if e.out, err = history.Create(e.path); err != nil {
		t.Fatal(err)
	}
	return e
}

// read closes the history and reads it back.
func (e *kvEnv) read(t *testing.T) *history.History {
	t.Helper()
	e.out.Write(&history.Record{Kind: history.KindMeta, Meta: &history.Meta{}})
	if err := e.out.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := history.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestWatcherModes: on a bucket that already holds values, a latest watcher
// gets each key's latest entry first, a history watcher every entry, an
// updates-only watcher only what comes after it began, and a filtered one
// only its keys — as recorded, with receive times.
func TestWatcherModes(t *testing.T) {
	e := startKVEnv(t, cluster.BucketConfig{History: 8})
	ctx := opCtx(t)
	for _, kv := range [][2]string{{"a", "a1"}, {"a", "a2"}, {"b", "b1"}} {
		mustPut(t, e.kv, kv[0], kv[1])
	}
	specs := []history.WatcherSpec{
		{ID: 1, Mode: history.WatchLatest, StartSeq: 3},
		{ID: 2, Mode: history.WatchHistory, StartSeq: 3},
		{ID: 3, Mode: history.WatchUpdates, StartSeq: 3},
		{ID: 4, Mode: history.WatchLatest, Keys: []string{"b"}, StartSeq: 3},
	}
	var ws []*ScenarioWatcher
	for _, spec := range specs {
		w, err := startScenarioWatcher(ctx, e.kv, spec, e.clock, e.out)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	mustPut(t, e.kv, "a", "a3")
	if err := e.kv.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stopWatchers(wctx, ws, map[string]uint64{"a": 4, "b": 5})

	got := map[int][]uint64{}
	for _, d := range e.read(t).Delivered {
		if d.At <= 0 {
			t.Errorf("delivery without a receive time: %+v", d)
		}
		got[d.Watcher] = append(got[d.Watcher], d.Rev)
	}
	want := map[int][]uint64{1: {2, 3, 4, 5}, 2: {1, 2, 3, 4, 5}, 3: {4, 5}, 4: {3, 5}}
	for id, revs := range want {
		if !equalRevs(got[id], revs) {
			t.Errorf("watcher %d (%+v) delivered revisions %v, want %v", id, specs[id-1], got[id], revs)
		}
	}
}

func equalRevs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestKeyHistoriesRecorded: the final phase's History() reads record each
// key's entries in order, markers included, and an empty History as one
// record without a revision.
func TestKeyHistoriesRecorded(t *testing.T) {
	e := startKVEnv(t, cluster.BucketConfig{History: 2})
	ctx := opCtx(t)
	mustPut(t, e.kv, "a", "a1")
	mustPut(t, e.kv, "a", "a2")
	mustPut(t, e.kv, "a", "a3")
	if err := e.kv.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if !ReadKeyHistories(ctx, e.kv, []string{"a", "never"}, e.clock, e.out) {
		t.Fatal("ReadKeyHistories reported a failure")
	}
	var got []string
	recs := e.read(t).KeyHistory
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Key < recs[j].Key }) // keys are read in parallel
	for _, r := range recs {
		got = append(got, r.Key+":"+r.Read+r.Marker)
	}
	want := []string{"a:a3", "a:del", "never:"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("history records %v, want %v (depth 2: the last put and the marker)", got, want)
	}
}

// TestServerTTLFacts pins two behaviours of per-message TTLs that the lease
// and sessions scenarios are built around (nats-server v2.15.2); if a
// release changes them, this fails and the scenarios' constraints can be
// revisited.
func TestServerTTLFacts(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for TTLs to run out")
	}
	t.Run("a TTL below limit_marker_ttl is raised to it when history > 1", func(t *testing.T) {
		e := startKVEnv(t, cluster.BucketConfig{History: 4, LimitMarkerTTL: time.Minute})
		ctx := opCtx(t)
		rev, err := e.kv.Create(ctx, "s", []byte("v"), jetstream.KeyTTL(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.js.Stream(ctx, cluster.StreamName("b"))
		if err != nil {
			t.Fatal(err)
		}
		msg, err := s.GetMsg(ctx, rev)
		if err != nil {
			t.Fatal(err)
		}
		if ttl := msg.Header.Get(jetstream.MsgTTLHeader); ttl != "60" {
			t.Errorf("stored Nats-TTL %q, want the marker TTL 60 (the 2s asked for, raised)", ttl)
		}
	})
	t.Run("when the latest revision expires, history > 1 reveals the one before with no watch event", func(t *testing.T) {
		for _, depth := range []int{1, 4} {
			e := startKVEnv(t, cluster.BucketConfig{History: depth, LimitMarkerTTL: time.Second})
			ctx := opCtx(t)
			mustPut(t, e.kv, "lease", "old")
			if err := e.kv.Delete(ctx, "lease"); err != nil { // a release: a marker without a TTL
				t.Fatal(err)
			}
			if _, err := e.kv.Create(ctx, "lease", []byte("new"), jetstream.KeyTTL(time.Second)); err != nil {
				t.Fatal(err)
			}
			w, err := e.kv.Watch(ctx, "lease", jetstream.UpdatesOnly())
			if err != nil {
				t.Fatal(err)
			}
			var events []jetstream.KeyValueOp
			deadline := time.After(3500 * time.Millisecond)
		collect:
			for {
				select {
				case u := <-w.Updates():
					if u != nil {
						events = append(events, u.Operation())
					}
				case <-deadline:
					break collect
				}
			}
			_ = w.Stop()
			_, getErr := e.kv.Get(ctx, "lease")
			gone := getErr != nil
			switch depth {
			case 1:
				if !gone || len(events) != 1 || events[0] != jetstream.KeyValuePurge {
					t.Errorf("history 1: get err %v, events %v: want the key gone and one purge event (the server's marker)", getErr, events)
				}
			default:
				if !gone || len(events) != 0 {
					t.Errorf("history %d: get err %v, events %v: want the key deleted (the old marker is back) and no event", depth, getErr, events)
				}
			}
		}
	})
}

// TestWatchesOutliveTheSetupBudget: nats.go ends a watch when the context
// it was started with ends. Started with the setup budget's, every watcher
// went quiet a minute into a run and every longer run failed
// watch-complete; here the budget is a second and the run three. A second
// watcher starts mid-run, while clients write.
func TestWatchesOutliveTheSetupBudget(t *testing.T) {
	defer func(d time.Duration) { setupBudget = d }(setupBudget)
	setupBudget = time.Second
	target, err := cluster.Up(cluster.TargetConfig{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(target.Down)
	control, err := target.Connect("test-control")
	if err != nil {
		t.Fatal(err)
	}
	defer control.Close()
	js, err := jetstream.New(control)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cluster.CreateBucket(ctx, js, cluster.BucketConfig{Name: "outlive", Replicas: 1, Storage: "memory", History: 4}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	out, err := history.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	meta := &history.Meta{}
	load, err := Start(context.Background(), Config{
		Clients: 2, Duration: 3 * time.Second, Rate: 50, Keys: NewKeySpace(4, 0), Mix: Mix{"put": 1},
		ValueSize: 16, Seed: 1, OpTimeout: 2 * time.Second,
		Watchers: []WatcherGroup{{Count: 1}, {Count: 1, Start: 1500 * time.Millisecond}},
	}, Env{Target: target, Control: control, Bucket: "outlive", Clock: NewClock(), Out: out, Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	defer load.Close()
	runCtx, endRun := load.cfg.Deadline(context.Background())
	load.Run(runCtx)
	endRun()
	lastSeq, err := SettledLastSeq(ctx, js, cluster.StreamName("outlive"))
	if err != nil {
		t.Fatal(err)
	}
	missed := load.RecordingMissed(ctx, lastSeq)
	load.StopWatchers(ctx, nil)
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lastWatch, lastDelivered int64
	for _, w := range h.Watch {
		lastWatch = max(lastWatch, w.At)
	}
	for _, d := range h.Delivered {
		lastDelivered = max(lastDelivered, d.At)
	}
	if n := len(h.Meta.Watchers); n != 2 || h.Meta.Watchers[1].StartAt < int64(1500*time.Millisecond) {
		t.Errorf("meta watchers %+v: want the second one started 1.5s into the run", h.Meta.Watchers)
	}
	lateGot := 0
	for _, d := range h.Delivered {
		if d.Watcher == 2 {
			lateGot++
		}
	}
	if lateGot == 0 {
		t.Error("the watcher started mid-run delivered nothing")
	}
	if len(missed) > 0 || lastWatch < int64(2*time.Second) || lastDelivered < int64(2*time.Second) {
		t.Errorf("recording watcher missed %v; last entries at %.1fs (recording watcher) and %.1fs (scenario watcher): want none missed, both past the 1s setup budget",
			missed, float64(lastWatch)/1e9, float64(lastDelivered)/1e9)
	}
}
