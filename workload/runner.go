package workload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
)

// Config is one workload run against a target.
type Config struct {
	Target           *cluster.Target
	Bucket           cluster.BucketConfig
	KeepBucket       bool
	Clients          int
	SharedConnection bool
	Duration         time.Duration
	Ops              int64 // total op budget across clients; 0: duration only
	// Rate, when > 0, paces ops open-loop at this many per second across
	// all clients; Stages, when set, at a sequence of rates; neither is
	// closed loop.
	Rate   float64
	Stages []Stage
	// Preload writes one value to every key before the workload starts.
	Preload bool
	// NoRecord turns recording off — no history, no histograms, no
	// watcher, no final phase — to measure what recording costs; such a
	// run cannot be checked.
	NoRecord bool
	// Inflight > 1 pipelines puts: each client keeps up to this many
	// unacknowledged (the mix must be puts only, connections not shared).
	Inflight  int
	Keys      KeySpace
	Mix       Mix
	ValueSize int
	Seed      uint64
	OpTimeout time.Duration
	// ReadPath routes gets: history.ReadPathDirect (default), ReadPathLeader or ReadPathBoth.
	ReadPath string
	// OwnKeys: client i touches only key i (modulo the keys), as workers
	// publishing their own status do.
	OwnKeys bool
	// Pattern, when set, replaces the op mix with a use case's loop
	// (history.PatternCounter, PatternLease, PatternSessions).
	Pattern string
	// KeyTTL: per-message TTL of every write (lease, sessions); the bucket
	// must allow it (cluster.BucketConfig.LimitMarkerTTL).
	KeyTTL time.Duration
	// Watchers: the scenario's watchers, started after the preload and
	// before the clients, or mid-run (WatcherGroup.Start).
	Watchers []WatcherGroup
	// NoWatcher turns the recording watcher off: one consumer less on the
	// server (for throughput comparisons). Unknown writes are then resolved
	// from the messages the stream still holds after the run.
	NoWatcher   bool
	HistoryPath string
	// Meta is written as the history's first line; Run fills in the
	// bucket, keys, target and server version.
	Meta history.Meta
	// Progress, when set, is called about once a second while the workload runs.
	Progress func(Progress)
	// Nemesis, when set, runs beside the clients until the workload stops
	// and must return with the cluster healed. It gets the run's clock and
	// the history, to record its faults.
	Nemesis func(ctx context.Context, env NemesisEnv)
}

// Result is what the run measured; the history file holds the rest.
type Result struct {
	Latency       latency.Set   // from each op's intended start (open loop) or actual start
	Service       latency.Set   // open loop: service time, from the actual start; nil otherwise
	Late          int64         // open loop: ops that started behind schedule
	Issued        int64         // ops started, all outcomes
	Elapsed       time.Duration // the workload phase, excluding setup and final reads
	Interrupted   bool
	ServerVersion string
	Pacing        string
	FinalReads    bool
	WatchComplete bool
}

// setupBudget bounds connecting, creating the bucket and starting clients
// and watchers (a variable so a test can show watches outlive it).
var setupBudget = 60 * time.Second

// SetupError marks failures before any operation ran (bad target, bucket
// cannot be created): the CLI reports them as usage/connection errors.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// Run drives the workload until the duration passes, the op budget is spent
// or ctx is canceled (SIGINT), then reads the final state and closes the
// history. A canceled ctx is an interruption, not an error: the history it
// leaves is complete and checkable.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	setup, cancelSetup := context.WithTimeout(context.Background(), setupBudget)
	defer cancelSetup()

	control, err := cfg.Target.Connect("kvharness-control")
	if err != nil {
		return nil, &SetupError{err}
	}
	defer control.Close()
	if err := cluster.WaitJetStream(setup, control); err != nil {
		return nil, &SetupError{err}
	}
	js, err := jetstream.New(control)
	if err != nil {
		return nil, &SetupError{err}
	}
	kv, err := cluster.CreateBucket(setup, js, cfg.Bucket)
	if err != nil {
		return nil, &SetupError{err}
	}
	if !cfg.KeepBucket {
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			_ = cluster.DeleteBucket(dctx, js, cfg.Bucket.Name)
		}()
	}

	out := history.Discard()
	if cfg.NoRecord {
		cfg.NoWatcher = true
	} else if out, err = history.Create(cfg.HistoryPath); err != nil {
		return nil, &SetupError{err}
	}
	res := &Result{ServerVersion: control.ConnectedServerVersion(), Pacing: cfg.newPacer().Kind()}
	meta := cfg.Meta
	meta.Bucket = cfg.Bucket.Name
	meta.Replicas = cfg.Bucket.Replicas
	meta.History = cfg.Bucket.History
	meta.Keys = cfg.Keys.Keys
	meta.Seed = cfg.Seed
	meta.Mode = string(cfg.Target.Mode)
	meta.Nodes = cfg.Target.Nodes
	meta.ServerVersion = res.ServerVersion
	meta.Clients = cfg.Clients
	meta.Pacing = res.Pacing
	clock := NewClock()
	meta.StartedAt = clock.Start().UTC().Format(time.RFC3339Nano)
	out.Write(&history.Record{Kind: history.KindMeta, Meta: &meta})

	closeAll := []func(){}
	defer func() {
		for _, f := range closeAll {
			f()
		}
	}()

	// Watches live for the whole run: nats.go ends a watch when the
	// context it was started with ends, so not the setup budget's.
	watchCtx, endWatches := context.WithCancel(context.Background())
	defer endWatches()
	var watcher *RecordingWatcher
	if !cfg.NoWatcher {
		watchConn, err := cfg.Target.Connect("kvharness-watcher")
		if err != nil {
			out.Close()
			return nil, &SetupError{err}
		}
		closeAll = append(closeAll, watchConn.Close)
		watchKV, err := bucketHandle(setup, watchConn, cfg.Bucket.Name)
		if err != nil {
			out.Close()
			return nil, &SetupError{err}
		}
		if watcher, err = StartWatcher(watchCtx, watchKV, 0, clock, out); err != nil {
			out.Close()
			return nil, &SetupError{fmt.Errorf("starting the recording watcher: %w", err)}
		}
	}

	clients, conns, err := makeClients(setup, cfg, control, kv, clock, out)
	for _, nc := range conns {
		closeAll = append(closeAll, nc.Close)
	}
	if err != nil {
		if watcher != nil {
			watcher.Stop()
		}
		out.Close()
		return nil, &SetupError{err}
	}

	if cfg.Preload {
		// One put per key before the workload's clock starts, recorded like
		// any op: reads then find values from the first request.
		for _, key := range cfg.Keys.Keys {
			if ctx.Err() != nil {
				break
			}
			clients[0].do(Planned{Op: history.OpPut, Key: key}, time.Now())
		}
	}
	// The scenario's watchers: those of start 0 now, before any client
	// writes; the others while the workload runs (startLate).
	starter := &watcherStarter{ctx: watchCtx, target: cfg.Target, js: js, bucket: cfg.Bucket.Name, clock: clock, out: out}
	var late []WatcherGroup
	if !cfg.NoRecord {
		var err error
		for _, g := range cfg.Watchers {
			if g.Start > 0 {
				late = append(late, g)
			} else if err = starter.start(setup, g, false, 0); err != nil {
				break
			}
		}
		if err != nil {
			if watcher != nil {
				watcher.Stop()
			}
			stopWatchers(ctx, starter.started, nil)
			for _, nc := range starter.conns {
				nc.Close()
			}
			out.Close()
			return nil, &SetupError{fmt.Errorf("starting the scenario's watchers: %w", err)}
		}
		if len(starter.started) > 0 {
			meta.Watchers = watcherSpecs(starter.started)
			out.Write(&history.Record{Kind: history.KindMeta, Meta: &meta})
		}
	}
	if cfg.Progress != nil {
		for _, c := range clients { // before they start: they record into it
			c.recent = latency.NewWindow()
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	if cfg.Duration > 0 {
		runCtx, stop = context.WithTimeout(ctx, cfg.Duration)
	}
	defer stop()
	pacer := cfg.newPacer()
	started := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func(c *Client) {
			defer wg.Done()
			c.Run(runCtx, pacer)
		}(c)
	}
	lateDone := make(chan struct{})
	if len(late) > 0 {
		go func() {
			defer close(lateDone)
			// Each start rewrites the meta line with every watcher so far
			// (the last one counts); nothing else touches meta meanwhile.
			starter.startLate(runCtx, started, late, func() {
				meta.Watchers = watcherSpecs(starter.started)
				out.Write(&history.Record{Kind: history.KindMeta, Meta: &meta})
			}, func(g WatcherGroup, err error) {
				meta.WatchersNotStarted = append(meta.WatchersNotStarted,
					fmt.Sprintf("%d %s watcher(s) due at %s: %v", g.Count, g.Mode, g.Start, err))
			})
		}()
	} else {
		close(lateDone)
	}
	nemesisDone := make(chan struct{})
	if cfg.Nemesis != nil {
		go func() {
			defer close(nemesisDone)
			cfg.Nemesis(runCtx, NemesisEnv{Stream: cluster.StreamName(cfg.Bucket.Name), Now: clock.Now, Out: out})
		}()
	} else {
		close(nemesisDone)
	}
	progressDone := make(chan struct{})
	if cfg.Progress != nil {
		go reportProgress(runCtx, progressDone, started, cfg.Duration, pacer, clients, cfg.Progress)
	} else {
		close(progressDone)
	}
	wg.Wait()
	stop()
	<-lateDone
	watchers := starter.started
	for _, nc := range starter.conns {
		closeAll = append(closeAll, nc.Close)
	}
	<-progressDone
	<-nemesisDone // healed: every node is back before the final phase
	res.Elapsed = time.Since(started)
	res.Interrupted = ctx.Err() != nil

	recorders := make([]*latency.Recorder, 0, len(clients))
	var service []*latency.Recorder
	var unknowns int64
	for _, c := range clients {
		recorders = append(recorders, c.lat)
		if c.svc != nil {
			service = append(service, c.svc)
		}
		unknowns += c.unknowns.Load()
	}
	res.Latency = latency.Merge(recorders...)
	if service != nil {
		res.Service = latency.Merge(service...)
	}
	res.Late = pacer.Late()
	res.Issued = pacer.Issued()
	if cfg.NoRecord {
		return res, nil
	}

	end := finalPhase(control, js, cfg, watcher, watchers, unknowns > 0, clock, out)
	end.Interrupted = res.Interrupted
	res.FinalReads, res.WatchComplete = end.FinalReads, end.WatchComplete
	out.Write(&history.Record{Kind: history.KindEnd, End: &end})
	if err := out.Close(); err != nil {
		return res, fmt.Errorf("writing history: %w", err)
	}
	return res, nil
}

// recorder is a client's latency recorder; nil (records nothing) with
// recording off.
func recorder(cfg Config) *latency.Recorder {
	if cfg.NoRecord {
		return nil
	}
	return latency.NewRecorder()
}

func (cfg Config) openLoop() bool { return cfg.Rate > 0 || len(cfg.Stages) > 0 }

// newPacer starts the run's schedule.
func (cfg Config) newPacer() Pacer {
	switch {
	case len(cfg.Stages) > 0:
		return NewStagedLoop(cfg.Stages, cfg.Ops)
	case cfg.Rate > 0:
		return NewOpenLoop(cfg.Rate, cfg.Ops)
	}
	return &ClosedLoop{Ops: cfg.Ops}
}

// NemesisEnv is what a nemesis needs from the run it breaks.
type NemesisEnv struct {
	Stream string       // the bucket's stream
	Now    func() int64 // the run's clock, ns since start
	Out    *history.Writer
}

// Progress is a snapshot of a running workload, for live display.
type Progress struct {
	Elapsed, Total time.Duration // Total is 0 when the run is bounded by op count
	Ops            int64         // ops started so far
	OpsPerSec      float64       // over the last interval
	Errors         int64         // definite failures other than CAS conflicts
	Unknown        int64         // outcomes never learned
	Late           int64         // open loop: ops started behind schedule
	P99            time.Duration // of the ops completed in the last interval, from their intended start
	Fault          string        // the fault in progress, if any (set by the caller that runs the nemesis)
}

func reportProgress(ctx context.Context, done chan struct{}, started time.Time, total time.Duration, p Pacer, clients []*Client, f func(Progress)) {
	defer close(done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastOps int64
	last := started
	second := latency.NewHistogram()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			pr := Progress{Elapsed: now.Sub(started), Total: total, Ops: p.Issued(), Late: p.Late()}
			second.Reset()
			for _, c := range clients {
				pr.Errors += c.errors.Load()
				pr.Unknown += c.unknowns.Load()
				c.recent.DrainInto(second)
			}
			if second.TotalCount() > 0 {
				pr.P99 = time.Duration(second.ValueAtQuantile(99)) * time.Microsecond
			}
			pr.OpsPerSec = float64(pr.Ops-lastOps) / now.Sub(last).Seconds()
			lastOps, last = pr.Ops, now
			f(pr)
		}
	}
}

func bucketHandle(ctx context.Context, nc *nats.Conn, bucket string) (jetstream.KeyValue, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return js.KeyValue(ctx, bucket)
}

// makeClients gives each client its own connection unless the scenario
// shares one: separate connections are how independent services behave.
func makeClients(ctx context.Context, cfg Config, sharedConn *nats.Conn, shared jetstream.KeyValue, clock Clock, out *history.Writer) ([]*Client, []*nats.Conn, error) {
	var conns []*nats.Conn
	clients := make([]*Client, 0, cfg.Clients)
	for i := 0; i < cfg.Clients; i++ {
		kv := shared
		nc := sharedConn
		var js jetstream.JetStream
		if !cfg.SharedConnection {
			var err error
			nc, err = cfg.Target.Connect(fmt.Sprintf("kvharness-client-%d", i+1))
			if err != nil {
				return nil, conns, err
			}
			conns = append(conns, nc)
			if kv, err = bucketHandle(ctx, nc, cfg.Bucket.Name); err != nil {
				return nil, conns, err
			}
			if cfg.Inflight > 1 {
				// The client's own window: its pending acks are bounded by
				// the JetStream context of its own connection.
				if js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(cfg.Inflight),
					jetstream.WithPublishAsyncTimeout(cfg.OpTimeout)); err != nil {
					return nil, conns, err
				}
			}
		}
		if js == nil {
			var err error
			if js, err = jetstream.New(nc); err != nil {
				return nil, conns, err
			}
		}
		gen := NewGenerator(cfg.Seed, i+1, cfg.Mix, cfg.Keys, cfg.ValueSize)
		gen.path = cfg.ReadPath
		if cfg.OwnKeys {
			gen.own = cfg.Keys.Keys[i%len(cfg.Keys.Keys)]
		}
		clients = append(clients, &Client{
			js:        js,
			bucket:    cfg.Bucket.Name,
			inflight:  cfg.Inflight,
			ID:        i + 1,
			kv:        kv,
			gen:       gen,
			nc:        nc,
			clock:     clock,
			out:       out,
			lat:       recorder(cfg),
			opTimeout: cfg.OpTimeout,
			keyTTL:    cfg.KeyTTL,
			pattern:   cfg.Pattern,
			lastRev:   map[string]uint64{},
		})
		if cfg.openLoop() {
			clients[len(clients)-1].svc = recorder(cfg)
		}
	}
	return clients, conns, nil
}

// finalPhase waits (bounded) for the watcher to catch up with the stream,
// reads every key's last message through the stream leader and, where the
// watcher missed sequences or some write's outcome is unknown, records the
// messages the stream still holds.
func finalPhase(nc *nats.Conn, js jetstream.JetStream, cfg Config, w *RecordingWatcher, watchers []*ScenarioWatcher, anyUnknown bool, clock Clock, out *history.Writer) history.End {
	end := history.End{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lastSeq, err := settledLastSeq(ctx, js, cluster.StreamName(cfg.Bucket.Name))
	missed := []SeqRange{{1, lastSeq}}
	if w != nil {
		if err == nil {
			wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
			missed = w.WaitFor(wctx, lastSeq)
			wcancel()
		}
		w.Stop()
	}
	end.LastSeq = lastSeq
	end.BucketMissing = errors.Is(err, jetstream.ErrStreamNotFound)

	var finals map[string]uint64
	end.FinalReads, finals = finalReads(ctx, nc, cfg.Bucket.Name, cfg.Keys.Keys, clock, out)
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	stopWatchers(wctx, watchers, finals)
	wcancel()
	if err == nil {
		var stored map[uint64]bool
		// The scenario's watchers are checked against what the bucket
		// holds at the end: record it.
		if len(missed) > 0 && lastSeq > 0 || anyUnknown || len(watchers) > 0 {
			stored, end.StoredComplete, _ = RecordStored(ctx, js, cfg.Bucket.Name, lastSeq, clock, out)
		}
		end.WatchComplete = covered(missed, stored)
	}
	if kv, err := js.KeyValue(ctx, cfg.Bucket.Name); err == nil {
		hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
		end.HistoryReads = readKeyHistories(hctx, kv, historyKeys(cfg.Keys.Keys), clock, out)
		hcancel()
	}
	if cfg.Bucket.Replicas > 1 {
		// Last, on a budget of its own: what resolves unknowns comes first.
		rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
		end.ReplicaNodes = readReplicas(rctx, cfg.Target, nc, cfg.Bucket.Name, cfg.Keys.Keys, clock, out)
		rcancel()
	}
	end.At = clock.Now()
	return end
}

// finalReads reads every key's last message, a few keys at a time so a
// large key space fits the final phase's budget. It reports whether every
// key was read, and each key's last revision.
func finalReads(ctx context.Context, nc *nats.Conn, bucket string, keys []string, clock Clock, out *history.Writer) (bool, map[string]uint64) {
	var mu sync.Mutex
	last := make(map[string]uint64, len(keys))
	ok := forEachKey(keys, 16, func(key string) bool {
		rec, err := readLastRetrying(ctx, nc, bucket, key, clock)
		if err != nil {
			return false
		}
		out.Write(&rec)
		mu.Lock()
		last[key] = rec.Rev
		mu.Unlock()
		return true
	})
	return ok, last
}

// forEachKey runs read for every key, parallel at a time, and reports
// whether every one succeeded.
func forEachKey(keys []string, parallel int, read func(key string) bool) bool {
	var wg sync.WaitGroup
	var failed atomic.Bool
	next := make(chan string)
	for i := 0; i < parallel; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range next {
				if !read(key) {
					failed.Store(true)
				}
			}
		}()
	}
	for _, key := range keys {
		next <- key
	}
	close(next)
	wg.Wait()
	return !failed.Load()
}

func readLastRetrying(ctx context.Context, nc *nats.Conn, bucket, key string, clock Clock) (history.Record, error) {
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		invoke := clock.Now()
		rec, err := ReadLast(rctx, nc, bucket, key)
		cancel()
		if err == nil {
			rec.Invoke, rec.Complete = invoke, clock.Now()
			return rec, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return history.Record{}, errors.Join(fmt.Errorf("final read of %q failed", key), last)
}

// settledLastSeq waits (bounded) until the stream's last sequence stops
// moving: writes whose clients gave up (timeouts) may still be queued at the
// server and land after the workload stopped. Reading the final state before
// they land would leave the watcher and the final reads out of step.
func settledLastSeq(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	last, err := streamLastSeq(ctx, js, stream)
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return last, nil
		case <-time.After(250 * time.Millisecond):
		}
		now, err := streamLastSeq(ctx, js, stream)
		if err != nil || now == last {
			return last, nil
		}
		last = now
	}
	return last, nil
}

// streamLastSeq asks the stream leader for its last sequence, retrying
// while a cluster that just had faults elects leaders again.
func streamLastSeq(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	var last error
	for ctx.Err() == nil {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		s, err := js.Stream(actx, stream)
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = s.Info(actx); err == nil {
				cancel()
				return info.State.LastSeq, nil
			}
		}
		cancel()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return 0, err // gone, not electing: waiting will not bring it back
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	return 0, last
}

// watcherSpecs lists the watchers' specs for the meta line.
func watcherSpecs(ws []*ScenarioWatcher) []history.WatcherSpec {
	specs := make([]history.WatcherSpec, len(ws))
	for i, w := range ws {
		specs[i] = w.Spec
	}
	return specs
}
