package workload

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// Config is what the clients and watchers of a run do. A scenario produces
// it (scenarios.Scenario.WorkloadConfig); the run it takes part in is given
// apart, as an Env.
type Config struct {
	Clients int
	// FirstClient is the first client's id (0: 1); the clients are
	// FirstClient, FirstClient+1, ... A worker of a run spread over several
	// machines runs its own range, so ids, values and op sequences stay
	// unique across the run.
	FirstClient      int
	SharedConnection bool
	Duration         time.Duration
	// Warmup: the first part of Duration, whose ops are left out of the
	// latency recorders (and, by Meta.MeasureFrom, of the figures).
	Warmup time.Duration
	Ops    int64 // total op budget across clients; 0: duration only
	// Rate, when > 0, paces ops open-loop at this many per second across
	// all clients; Stages, when set, at a sequence of rates; neither is
	// closed loop.
	Rate   float64
	Stages []Stage
	// Preload writes one value to every key before the workload starts.
	Preload bool
	// Inflight > 1 pipelines writes: each client keeps up to this many
	// unacknowledged (the mix must be puts and updates only, connections not
	// shared).
	Inflight  int
	Keys      KeySpace
	Mix       Mix
	ValueSize int
	Seed      uint64
	OpTimeout time.Duration
	// ReadPath routes gets: history.PathDirect (default), PathLeader or PathBoth.
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
	NoWatcher bool
}

// Env is the run a workload takes part in, set up by its owner (the
// harness): the servers, the bucket, the run's clock and its history.
type Env struct {
	Target *cluster.Target
	// Control is the owner's connection: the workload reads stream state
	// through it, and clients that share a connection share this one.
	Control *nats.Conn
	Bucket  string
	Clock   Clock
	// Out is the history; history.Discard() when nothing is recorded.
	Out *history.Writer
	// Meta is the history's meta line, already written; the workload adds
	// the watchers it starts and writes it again (the last one counts).
	Meta *history.Meta
	// NoRecord turns recording off — no histograms, no watchers — to
	// measure what recording costs.
	NoRecord bool
	// Progress keeps each client's latencies of the last second for
	// Load.Progress.
	Progress bool
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

// Pacing names the config's pacing for reports ("closed-loop",
// "open-loop 500/s").
func (cfg Config) Pacing() string { return cfg.newPacer().Kind() }

// Deadline bounds ctx by the workload's duration, if it has one: the
// context a run's workload and everything beside it (nemesis, progress)
// share.
func (cfg Config) Deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if cfg.Duration > 0 {
		return context.WithTimeout(ctx, cfg.Duration)
	}
	return context.WithCancel(ctx)
}
