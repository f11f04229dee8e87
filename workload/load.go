package workload

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
)

// Load is a workload ready to run in its Env: clients connected, the
// recording watcher and the scenario's first watchers watching. It
// generates load and records it; the run's life cycle (target, bucket,
// faults, final phase, checks) belongs to its owner.
type Load struct {
	cfg     Config
	env     Env
	clients []*Client
	conns   []*nats.Conn // the workload's own connections, closed by Close
	// clientConns: the clients' own connections (not a shared one), also
	// in conns; CloseClients closes them as soon as the clients stop.
	clientConns []*nats.Conn
	watcher     *RecordingWatcher
	starter     *watcherStarter
	late        []WatcherGroup // scenario watchers that start mid-run
	// endWatches ends every watch: nats.go ends a watch when the context
	// it was started with ends, so watches get one of their own.
	endWatches context.CancelFunc
	closeOnce  sync.Once

	mu       sync.Mutex // guards the pacer and the progress state below
	pacer    Pacer      // set when Run starts: an open loop's schedule starts with it
	started  time.Time
	lastOps  int64
	lastTick time.Time
	second   *hdrhistogram.Histogram
}

// Stats is what the workload measured; the history holds the rest.
type Stats struct {
	Latency  latency.Set   // from each op's intended start (open loop) or actual start
	Service  latency.Set   // open loop: service time, from the actual start; nil otherwise
	Late     int64         // open loop: ops that started behind schedule
	Issued   int64         // ops started, all outcomes
	Unknowns int64         // ops whose outcome was never learned
	Elapsed  time.Duration // the workload phase, excluding setup and final reads
	Warmup   time.Duration // the part of Elapsed left out of the figures
	Pacing   string
}

// setupBudget bounds connecting the clients and starting the watchers (a
// variable so a test can show watches outlive it).
var setupBudget = 60 * time.Second

// Start connects the clients, starts the recording watcher, preloads the
// keys (until ctx ends) and starts the scenario's watchers due before the
// clients. On error it has closed whatever it opened.
func Start(ctx context.Context, cfg Config, env Env) (*Load, error) {
	setup, cancel := context.WithTimeout(context.Background(), setupBudget)
	defer cancel()
	if env.NoRecord {
		cfg.NoWatcher, cfg.Watchers = true, nil
	}
	watchCtx, endWatches := context.WithCancel(context.Background())
	l := &Load{cfg: cfg, env: env, endWatches: endWatches}
	l.starter = &watcherStarter{ctx: watchCtx, target: env.Target, bucket: env.Bucket, clock: env.Clock, out: env.Out}
	if err := l.start(ctx, setup, watchCtx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Load) start(ctx, setup, watchCtx context.Context) error {
	env := l.env
	js, err := jetstream.New(env.Control)
	if err != nil {
		return err
	}
	l.starter.js = js
	if !l.cfg.NoWatcher {
		nc, err := env.Target.Connect("kvharness-watcher")
		if err != nil {
			return err
		}
		l.conns = append(l.conns, nc)
		kv, err := bucketHandle(setup, nc, env.Bucket)
		if err != nil {
			return err
		}
		if l.watcher, err = StartWatcher(watchCtx, kv, 0, env.Clock, env.Out); err != nil {
			return fmt.Errorf("starting the recording watcher: %w", err)
		}
	}
	if err := l.makeClients(setup); err != nil {
		return err
	}
	if l.cfg.Preload {
		// One put per key before the workload's clock starts, recorded like
		// any op: reads then find values from the first request.
		for _, key := range l.cfg.Keys.Keys {
			if ctx.Err() != nil {
				break
			}
			l.clients[0].do(Planned{Op: history.OpPut, Key: key}, time.Now())
		}
	}
	// The scenario's watchers: those of start 0 now, before any client
	// writes; the others while the workload runs.
	for _, g := range l.cfg.Watchers {
		if g.Start > 0 {
			l.late = append(l.late, g)
		} else if err := l.starter.start(setup, g, false, 0); err != nil {
			return fmt.Errorf("starting the scenario's watchers: %w", err)
		}
	}
	if len(l.starter.started) > 0 {
		l.writeMeta()
	}
	return nil
}

// Run drives the clients until the op budget is spent or ctx ends — the
// caller bounds the run's duration (Deadline), since what runs beside the
// workload ends with it — starting the mid-run watchers on time, and
// returns what it measured. Watchers keep watching until the final phase
// stops them.
func (l *Load) Run(runCtx context.Context) Stats {
	pacer := l.cfg.newPacer()
	l.markWarmup()
	started := time.Now()
	if l.cfg.Warmup > 0 {
		for _, c := range l.clients {
			c.measureFrom = started.Add(l.cfg.Warmup)
		}
	}
	l.mu.Lock()
	l.pacer, l.started, l.lastTick = pacer, started, started
	l.mu.Unlock()
	// The clients stop together: at the end of the run, or when one of
	// them panics (re-raised below, where the run's owner recovers it).
	clientsCtx, stopClients := context.WithCancel(runCtx)
	defer stopClients()
	var wg sync.WaitGroup
	var panicOnce sync.Once
	var panicked any
	for _, c := range l.clients {
		wg.Add(1)
		go func(c *Client) {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					panicOnce.Do(func() { panicked = fmt.Sprintf("client %d: %v\n%s", c.ID, p, debug.Stack()) })
					stopClients()
				}
			}()
			c.Run(clientsCtx, pacer)
		}(c)
	}
	lateDone := l.startLateWatchers(clientsCtx, started)
	wg.Wait()
	elapsed := time.Since(started)
	stopClients()
	<-lateDone
	if panicked != nil {
		panic(panicked)
	}
	return l.stats(pacer, elapsed)
}

// markWarmup: with a warm-up, the meta line says when it ends before any
// client's first op, so a reader of the history knows it at every op.
func (l *Load) markWarmup() {
	if l.cfg.Warmup > 0 {
		l.env.Meta.MeasureFrom = l.env.Clock.Now() + int64(l.cfg.Warmup)
		l.writeMeta()
	}
}

// startLateWatchers starts the mid-run watchers on time while the clients
// run (until ctx ends), and no longer: a watcher due after the last op (an
// op budget spent early) is not waited for. The channel closes when it is
// done.
func (l *Load) startLateWatchers(ctx context.Context, started time.Time) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if len(l.late) == 0 {
			return
		}
		// Each start rewrites the meta line with every watcher so far;
		// nothing else touches the meta meanwhile.
		l.starter.startLate(ctx, started, l.late, l.writeMeta, func(g WatcherGroup, err error) {
			l.env.Meta.WatchersNotStarted = append(l.env.Meta.WatchersNotStarted,
				fmt.Sprintf("%d %s watcher(s) due at %s: %v", g.Count, g.Mode, g.Start, err))
		})
	}()
	return done
}

// RunElsewhere is Run for clients that run elsewhere (on a run's workers):
// clients runs them and returns their stats; meanwhile this Load marks the
// warm-up and starts its mid-run watchers on time, as Run does.
func (l *Load) RunElsewhere(ctx context.Context, clients func(context.Context) (Stats, error)) (Stats, error) {
	l.markWarmup()
	watchersCtx, stop := context.WithCancel(ctx)
	lateDone := l.startLateWatchers(watchersCtx, time.Now())
	st, err := clients(ctx)
	stop()
	<-lateDone
	return st, err
}

func (l *Load) stats(pacer Pacer, elapsed time.Duration) Stats {
	st := Stats{Elapsed: elapsed, Pacing: pacer.Kind(), Late: pacer.Late(), Issued: pacer.Issued(), Warmup: min(l.cfg.Warmup, elapsed)}
	recorders := make([]*latency.Recorder, 0, len(l.clients))
	var service []*latency.Recorder
	for _, c := range l.clients {
		recorders = append(recorders, c.lat)
		if c.svc != nil {
			service = append(service, c.svc)
		}
		st.Unknowns += c.unknowns.Load()
	}
	st.Latency = latency.Merge(recorders...)
	if service != nil {
		st.Service = latency.Merge(service...)
	}
	return st
}

// writeMeta writes the meta line again with the watchers started so far.
func (l *Load) writeMeta() {
	specs := make([]history.WatcherSpec, len(l.starter.started))
	for i, w := range l.starter.started {
		specs[i] = w.Spec
	}
	l.env.Meta.Watchers = specs
	l.env.Out.Write(&history.Record{Kind: history.KindMeta, Meta: l.env.Meta})
}

// RecordingMissed waits (until ctx ends, or the stream holds nothing more
// for it) for the recording watcher to deliver sequence lastSeq, stops it, and returns the sequences up to
// lastSeq it did not deliver: all of them without a recording watcher.
func (l *Load) RecordingMissed(ctx context.Context, lastSeq uint64) []SeqRange {
	if l.watcher == nil {
		return []SeqRange{{1, lastSeq}}
	}
	defer l.watcher.Stop()
	return l.watcher.WaitFor(ctx, lastSeq, func(ctx context.Context, from uint64) bool {
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		held, err := HoldsFrom(hctx, l.env.Control, l.env.Bucket, from)
		return held || err != nil // not knowing is no reason to stop waiting
	})
}

// HasWatchers: some of the scenario's watchers started.
func (l *Load) HasWatchers() bool { return len(l.starter.started) > 0 }

// StopWatchers waits (until ctx ends) for every scenario watcher to deliver
// each watched key's final revision, then stops them.
func (l *Load) StopWatchers(ctx context.Context, final map[string]uint64) {
	stopWatchers(ctx, l.starter.started, final)
}

// CloseClients closes the clients' own connections once they have stopped,
// before the final phase reads the bucket: a publish still in nats.go's
// reconnect buffer would otherwise go out when the connection comes back,
// after the stream's last sequence was settled, and be stored past the end
// the checks rely on. Closing drops it: it stays an unknown that did not
// happen. (Clients sharing the control connection cannot be cut off so.)
func (l *Load) CloseClients() {
	for _, nc := range l.clientConns {
		nc.Close()
	}
}

// Close stops whatever still watches and closes the workload's
// connections. Safe to call more than once, and after a failed Start.
func (l *Load) Close() {
	l.closeOnce.Do(func() {
		if l.watcher != nil {
			l.watcher.Stop()
		}
		stopWatchers(context.Background(), l.starter.started, nil)
		l.endWatches()
		for _, nc := range append(l.conns, l.starter.conns...) {
			nc.Close()
		}
	})
}

// Progress is a snapshot of a running workload, for live display.
type Progress struct {
	Elapsed, Total time.Duration // Total is 0 when the run is bounded by op count
	Ops            int64         // ops started so far
	OpsPerSec      float64       // since the previous snapshot
	Errors         int64         // definite failures other than CAS conflicts
	Unknown        int64         // outcomes never learned
	Late           int64         // open loop: ops started behind schedule
	P99            time.Duration // of the ops completed since the previous snapshot, from their intended start
	Fault          string        // the fault in progress, if any (set by whoever runs the nemesis)
}

// Progress takes a snapshot; rates and the p99 cover the time since the
// previous one. It needs Env.Progress; call it from one goroutine.
func (l *Load) Progress() Progress {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	pr := Progress{Total: l.cfg.Duration}
	if l.pacer == nil {
		return pr // not started yet
	}
	pr.Elapsed, pr.Ops, pr.Late = now.Sub(l.started), l.pacer.Issued(), l.pacer.Late()
	if l.second == nil {
		l.second = latency.NewHistogram()
	}
	l.second.Reset()
	for _, c := range l.clients {
		pr.Errors += c.errors.Load()
		pr.Unknown += c.unknowns.Load()
		if c.recent != nil {
			c.recent.DrainInto(l.second)
		}
	}
	if l.second.TotalCount() > 0 {
		pr.P99 = time.Duration(l.second.ValueAtQuantile(99)) * time.Microsecond
	}
	if secs := now.Sub(l.lastTick).Seconds(); secs > 0 {
		pr.OpsPerSec = float64(pr.Ops-l.lastOps) / secs
	}
	l.lastOps, l.lastTick = pr.Ops, now
	return pr
}

func bucketHandle(ctx context.Context, nc *nats.Conn, bucket string) (jetstream.KeyValue, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return js.KeyValue(ctx, bucket)
}

// makeClients gives each client its own connection unless the scenario
// shares one (the control connection): separate connections are how
// independent services behave.
func (l *Load) makeClients(ctx context.Context) error {
	cfg, env := l.cfg, l.env
	shared, err := bucketHandle(ctx, env.Control, env.Bucket)
	if err != nil {
		return err
	}
	l.clients = make([]*Client, 0, cfg.Clients)
	first := max(cfg.FirstClient, 1)
	for i := 0; i < cfg.Clients; i++ {
		id := first + i
		kv, nc := shared, env.Control
		var js jetstream.JetStream
		if !cfg.SharedConnection {
			if nc, err = env.Target.Connect(fmt.Sprintf("kvharness-client-%d", id)); err != nil {
				return err
			}
			l.conns = append(l.conns, nc)
			l.clientConns = append(l.clientConns, nc)
			if kv, err = bucketHandle(ctx, nc, env.Bucket); err != nil {
				return err
			}
			if cfg.Inflight > 1 {
				// The client's own window: its pending acks are bounded by
				// the JetStream context of its own connection.
				if js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(cfg.Inflight),
					jetstream.WithPublishAsyncTimeout(cfg.OpTimeout)); err != nil {
					return err
				}
			}
		}
		if js == nil {
			if js, err = jetstream.New(nc); err != nil {
				return err
			}
		}
		gen := NewGenerator(cfg.Seed, id, cfg.Mix, cfg.Keys, cfg.ValueSize)
		gen.path = cfg.ReadPath
		if cfg.OwnKeys {
			gen.own = cfg.Keys.Keys[(id-1)%len(cfg.Keys.Keys)]
		}
		c := &Client{
			js:        js,
			bucket:    env.Bucket,
			inflight:  cfg.Inflight,
			ID:        id,
			kv:        kv,
			gen:       gen,
			nc:        nc,
			clock:     env.Clock,
			out:       env.Out,
			lat:       l.recorder(),
			opTimeout: cfg.OpTimeout,
			keyTTL:    cfg.KeyTTL,
			pattern:   cfg.Pattern,
			lastRev:   map[string]uint64{},
		}
		if cfg.openLoop() {
			c.svc = l.recorder()
		}
		if env.Progress {
			c.recent = latency.NewWindow() // before the client starts: it records into it
		}
		l.clients = append(l.clients, c)
	}
	return nil
}

// recorder is a client's latency recorder; nil (records nothing) with
// recording off.
func (l *Load) recorder() *latency.Recorder {
	if l.env.NoRecord {
		return nil
	}
	return latency.NewRecorder()
}
