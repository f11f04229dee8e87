package workload

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// WatcherGroup is Count watchers alike: what a scenario's services watch.
// A scenario file's workload.watchers lists them.
type WatcherGroup struct {
	Count int      `yaml:"count"`
	Keys  []string `yaml:"keys"` // keys or filters (NATS wildcards allowed); empty: every key
	Mode  string   `yaml:"mode"` // history.WatchLatest (default), WatchHistory or WatchUpdates
	// Start > 0: begin this long into the workload, while clients write
	// (a service starting or restarting); 0: before the clients.
	Start time.Duration `yaml:"start"`
}

// ScenarioWatcher is one watcher of the scenario, as an application would
// run it: its own connection, nats.go's KeyWatcher, every delivered entry
// recorded with its receive time (the checker tests order, completeness and
// provenance; the report measures propagation from it).
type ScenarioWatcher struct {
	Spec  history.WatcherSpec
	w     jetstream.KeyWatcher
	clock Clock
	out   *history.Writer

	mu   sync.Mutex
	last map[string]uint64 // last revision delivered per key (grows with keys, not ops)
	tick chan struct{}
	done chan struct{}
}

// watcherStarter starts the scenario's watchers, each on its own
// connection, numbered from 1 in the order started; they watch until
// stopped or their context ends.
type watcherStarter struct {
	ctx     context.Context // the watches' lifetime
	target  *cluster.Target
	js      jetstream.JetStream
	bucket  string
	clock   Clock
	out     *history.Writer
	started []*ScenarioWatcher
	conns   []*nats.Conn
}

// start starts a group's watchers, retrying each for up to retryFor (a
// fault may leave no leader to create its consumer).
func (s *watcherStarter) start(ctx context.Context, g WatcherGroup, late bool, retryFor time.Duration) error {
	for i := 0; i < g.Count; i++ {
		deadline := time.Now().Add(retryFor)
		for {
			err := s.startOne(ctx, g, late)
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return err
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	return nil
}

// startOne starts one watcher, or nothing. Its start sequence is read
// before and after it begins: equal before the clients run, a range while
// they write (see history.WatcherSpec).
func (s *watcherStarter) startOne(ctx context.Context, g WatcherGroup, late bool) error {
	stream := cluster.StreamName(s.bucket)
	id := len(s.started) + 1
	nc, err := s.target.Connect(fmt.Sprintf("kvharness-watcher-%d", id))
	if err != nil {
		return err
	}
	s.conns = append(s.conns, nc)
	kv, err := bucketHandle(ctx, nc, s.bucket)
	if err != nil {
		return err
	}
	mode := g.Mode
	if mode == "" {
		mode = history.WatchLatest
	}
	spec := history.WatcherSpec{ID: id, Keys: g.Keys, Mode: mode}
	if late {
		spec.StartAt = s.clock.Now()
	}
	if spec.StartSeq, err = StreamLastSeq(ctx, s.js, stream); err != nil {
		return err
	}
	w, err := startScenarioWatcher(s.ctx, kv, spec, s.clock, s.out)
	if err != nil {
		return fmt.Errorf("starting watcher %d: %w", id, err)
	}
	s.started = append(s.started, w)
	switch after, err := StreamLastSeq(ctx, s.js, stream); {
	case err != nil:
		w.Spec.StartedBy = unknownStart // running, since when unknown
	case after != spec.StartSeq:
		w.Spec.StartedBy = after
	}
	return nil
}

// unknownStart: a watcher known to run whose start sequence could not be
// read owes no revision, only the final state (latest mode).
const unknownStart = ^uint64(0) >> 1

// startLate starts the groups that begin mid-run, each at its time after
// begun, until ctx (the workload) ends. A watcher that cannot start within
// 5 s is left out and reported to failed.
func (s *watcherStarter) startLate(ctx context.Context, begun time.Time, groups []WatcherGroup, onStart func(), failed func(WatcherGroup, error)) {
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].Start < groups[j].Start })
	for _, g := range groups {
		t := time.NewTimer(time.Until(begun.Add(g.Start)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.start(sctx, g, true, 5*time.Second)
		cancel()
		if err != nil {
			failed(g, err)
		}
		onStart()
	}
}

func startScenarioWatcher(ctx context.Context, kv jetstream.KeyValue, spec history.WatcherSpec, clock Clock, out *history.Writer) (*ScenarioWatcher, error) {
	var opts []jetstream.WatchOpt
	switch spec.Mode {
	case history.WatchHistory:
		opts = append(opts, jetstream.IncludeHistory())
	case history.WatchUpdates:
		opts = append(opts, jetstream.UpdatesOnly())
	}
	var kw jetstream.KeyWatcher
	var err error
	if len(spec.Keys) == 0 {
		kw, err = kv.WatchAll(ctx, opts...)
	} else {
		// A copy: nats.go rewrites the slice it is given into subjects.
		kw, err = kv.WatchFiltered(ctx, append([]string(nil), spec.Keys...), opts...)
	}
	if err != nil {
		return nil, err
	}
	w := &ScenarioWatcher{Spec: spec, w: kw, clock: clock, out: out, last: map[string]uint64{},
		tick: make(chan struct{}, 1), done: make(chan struct{})}
	go w.loop()
	return w, nil
}

func (w *ScenarioWatcher) loop() {
	defer close(w.done)
	for e := range w.w.Updates() {
		if e == nil {
			continue // end of initial values
		}
		rec := watchRecord(e, w.Spec.ID, w.clock)
		w.out.Write(&rec)
		w.mu.Lock()
		w.last[rec.Key] = rec.Rev
		w.mu.Unlock()
		select {
		case w.tick <- struct{}{}:
		default:
		}
	}
}

// caughtUp: the watcher delivered every key's final revision it watches.
func (w *ScenarioWatcher) caughtUp(final map[string]uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for key, rev := range final {
		if w.Spec.Watches(key) && rev > w.Spec.Began() && w.last[key] < rev {
			return false
		}
	}
	return true
}

// stopWatchers waits, until ctx ends, for every watcher to deliver each
// watched key's final revision, then stops them: a watcher stopped early
// would look like one that missed the last changes.
func stopWatchers(ctx context.Context, ws []*ScenarioWatcher, final map[string]uint64) {
	for _, w := range ws {
		for !w.caughtUp(final) {
			select {
			case <-w.tick:
				continue
			case <-w.done:
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
				continue
			}
			break
		}
	}
	for _, w := range ws {
		_ = w.w.Stop()
		<-w.done
	}
}

// orderedHeartbeat is the idle heartbeat nats.go asks for on the ordered
// consumer behind every KV watcher (js.go orderedHeartbeatsInterval).
const orderedHeartbeat = 5 * time.Second

// WatcherRecovery: how long the final phase waits, after the final reads,
// for the scenario's watchers to deliver the final revisions. A watcher's
// ordered consumer is R1, in memory, on one node; when that node is killed
// nothing tells the client, which only notices the silence: nats.go checks
// every 2 heartbeats (js.go activityCheck, hbcThresh) whether any message or
// heartbeat came since the last check, and recreates the consumer only after
// a whole window without one — up to 4 heartbeats (20 s) after the last
// delivery before the node died. A recreation that fails while the cluster
// still elects leaders (timeout, no JetStream) is retried a window later
// (10 s more). The node died before the final reads, so 30 s after them
// cover both; 15 s did not (watch-complete then failed on a watcher that
// was only late, not incomplete).
const WatcherRecovery = 4*orderedHeartbeat + 2*orderedHeartbeat
