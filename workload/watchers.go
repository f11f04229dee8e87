package workload

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// WatcherGroup is Count watchers alike: what a scenario's services watch.
type WatcherGroup struct {
	Count int
	Keys  []string // filters (NATS wildcards allowed); empty: every key
	Mode  string   // history.WatchLatest (default), WatchHistory or WatchUpdates
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

// startWatchers starts every watcher of the groups, numbered from 1, each
// on its own connection; they watch until stopped or ctx ends. startSeq is
// the stream's last sequence now: no client runs yet, so it is exact.
func startWatchers(ctx context.Context, t *cluster.Target, bucket string, groups []WatcherGroup, startSeq uint64, clock Clock, out *history.Writer) ([]*ScenarioWatcher, []*nats.Conn, error) {
	var ws []*ScenarioWatcher
	var conns []*nats.Conn
	for _, g := range groups {
		for i := 0; i < g.Count; i++ {
			id := len(ws) + 1
			nc, err := t.Connect(fmt.Sprintf("kvharness-watcher-%d", id))
			if err != nil {
				return ws, conns, err
			}
			conns = append(conns, nc)
			kv, err := bucketHandle(ctx, nc, bucket)
			if err != nil {
				return ws, conns, err
			}
			mode := g.Mode
			if mode == "" {
				mode = history.WatchLatest
			}
			spec := history.WatcherSpec{ID: id, Keys: g.Keys, Mode: mode, StartSeq: startSeq}
			w, err := startScenarioWatcher(ctx, kv, spec, clock, out)
			if err != nil {
				return ws, conns, fmt.Errorf("starting watcher %d: %w", id, err)
			}
			ws = append(ws, w)
		}
	}
	return ws, conns, nil
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
		if w.Spec.Watches(key) && rev > w.Spec.StartSeq && w.last[key] < rev {
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
