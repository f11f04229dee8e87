// Package scenarios holds the scenario schema, its strict loading and
// validation (errors name the line), and the built-in scenarios.
package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kvharness/kvharness/chaos"
	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/internal/secrets"
	"github.com/kvharness/kvharness/workload"
)

// Scenario is one YAML scenario file. Zero values mean "use the default".
// Most fields have a flag of `kvharness run` that overrides them (README,
// "run"); name, description and faults.plan are the file's alone.
type Scenario struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Target      Target   `yaml:"target"`
	Bucket      Bucket   `yaml:"bucket"`
	Workload    Workload `yaml:"workload"`
	Expect      Expect   `yaml:"expect"`
	Faults      Faults   `yaml:"faults"`
	// Thresholds: k6-style limits, e.g. {put.p99: "< 5ms", update.error_rate: "< 1%", throughput: "> 1000"}.
	Thresholds map[string]string `yaml:"thresholds"`
}

// Target says which servers to run against.
type Target struct {
	// Servers: external server URLs; empty means embedded servers.
	Servers []string `yaml:"servers"`
	// Monitors: the external servers' monitoring endpoints
	// (http://host:8222), sampled each second for where the time went.
	Monitors []string `yaml:"monitors"`
	// Nodes: cluster size for embedded or spawned servers.
	Nodes int `yaml:"nodes"`
	// ServerBin: spawn each node as a process of this nats-server binary
	// (any release) instead of embedding the servers.
	ServerBin string `yaml:"server_bin"`
	// SyncInterval: how often the nodes the harness starts fsync their
	// stores: always, or a duration; empty: the server's default (2m).
	SyncInterval string `yaml:"sync_interval"`
}

// Faults is the nemesis schedule: which faults, where, how often, how long.
// With several kinds each fault is one of them at random (a mix).
type Faults struct {
	Kinds    []string `yaml:"kinds"`    // kill, stop, pause, partition, latency, leader-stepdown, corrupt, power-loss, replicas, replace, rolling-restart
	Target   string   `yaml:"target"`   // random (default), leader, minority, majority, all, bridge, or node names n1,n2
	Start    Duration `yaml:"start"`    // first fault (default: one interval in)
	Interval Duration `yaml:"interval"` // between fault starts
	Duration Duration `yaml:"duration"` // how long each lasts
	// Latency and Jitter: what a latency fault adds to each route hop.
	Latency Duration `yaml:"latency"`
	Jitter  Duration `yaml:"jitter"`
	// Concurrency: how many faults may be in progress at once (default 1,
	// one after the other); overlapping faults act on different nodes.
	Concurrency int `yaml:"concurrency"`
	// PartitionMode: reset (default: connections closed, redials refused)
	// or blackhole (bytes held, endpoints find out by their own timeouts).
	PartitionMode string `yaml:"partition_mode"`
	// UpgradeBin: rolling-restart brings every node back on this binary.
	UpgradeBin string `yaml:"upgrade_bin"`
	// HealTimeout bounds the wait for a healthy cluster after the last fault.
	HealTimeout Duration `yaml:"heal_timeout"`
	// Plan, instead of kinds: faults that run once each, in order.
	Plan []FaultStep `yaml:"plan"`
}

// Bucket configures the bucket the run creates for itself.
type Bucket struct {
	Replicas     int    `yaml:"replicas"`
	Storage      string `yaml:"storage"` // file | memory
	History      int    `yaml:"history"` // revisions kept per key, 1..64
	MaxValueSize int    `yaml:"max_value_size"`
	Keep         bool   `yaml:"keep"` // keep the bucket after the run
	// LimitMarkerTTL: how long the bucket keeps the markers of keys whose
	// TTL ran out; > 0 enables per-key TTLs (default with key_ttl: the
	// same). With history > 1 the server raises any message TTL below it
	// to it, so it must not exceed key_ttl.
	LimitMarkerTTL Duration `yaml:"limit_marker_ttl"`
	// Compression: the bucket's stream is stored S2-compressed (file
	// storage only): a store option whose cost a run can measure.
	Compression bool `yaml:"compression"`
}

// Workload is what the clients do.
type Workload struct {
	Clients  int      `yaml:"clients"`
	Duration Duration `yaml:"duration"`
	Ops      int64    `yaml:"ops"` // total ops across clients; 0: run for the duration
	// Warmup: the first part of the duration, run, recorded and checked,
	// but left out of the figures (latency, throughput, error rates,
	// thresholds): fresh connections, a fresh stream and the first
	// leader's caches are not the steady state a rate is judged on.
	Warmup Duration `yaml:"warmup"`
	// Rate: open-loop arrival rate in ops/s across all clients (latency from
	// each op's intended start); 0: closed loop.
	Rate float64 `yaml:"rate"`
	// Stages: open loop at a sequence of rates, e.g.
	// [{rate: 1000, for: 30s}, {rate: 5000, for: 60s}]; instead of rate.
	Stages []RateStage `yaml:"stages"`
	// Inflight > 1: throughput mode, each client keeps this many puts in
	// flight (pipelined, like nats bench); the mix must be puts and updates only.
	Inflight int `yaml:"inflight"`
	// Preload: one put per key before the workload starts, so reads find
	// values from the start (recorded like any op).
	Preload          bool           `yaml:"preload"`
	Keys             int            `yaml:"keys"`
	KeyDistribution  string         `yaml:"key_distribution"` // uniform | zipf
	ZipfS            float64        `yaml:"zipf_s"`           // zipf exponent, > 1
	ValueSize        int            `yaml:"value_size"`
	Mix              map[string]int `yaml:"mix"`
	OpTimeout        Duration       `yaml:"op_timeout"`
	SharedConnection bool           `yaml:"shared_connection"`
	// NoWatcher turns off the recording watcher (one consumer less on the
	// server); unknown writes are then resolved from what the stream holds
	// after the run.
	NoWatcher bool   `yaml:"no_watcher"`
	Seed      uint64 `yaml:"seed"`
	// OwnKeys: client i writes and reads only key i (modulo keys), like
	// workers each publishing their own status.
	OwnKeys bool `yaml:"own_keys"`
	// Pattern: a use case's loop instead of the op mix — counter (get +
	// CAS update, retried on conflict), lease (leader election on the
	// first key), sessions (the mix, every write with key_ttl).
	Pattern string `yaml:"pattern"`
	// KeyTTL: per-message TTL of every write; lease and sessions need it.
	KeyTTL Duration `yaml:"key_ttl"`
	// ReadPath routes gets: direct (default: nats.go's Get, any replica
	// may answer), leader (a message get the stream leader answers), or
	// both (each get one of the two at random, to compare them).
	ReadPath string `yaml:"read_path"`
	// Watchers: groups of watchers, each recording what it receives.
	Watchers []WatcherGroup `yaml:"watchers"`
}

// WatcherGroup, RateStage and FaultStep are the workload's and the
// nemesis's own types: a scenario file lists them as they are consumed.
type (
	WatcherGroup = workload.WatcherGroup
	RateStage    = workload.Stage
	FaultStep    = chaos.Step
)

// StagesDuration is how long the stages last together.
func (w Workload) StagesDuration() time.Duration {
	var d time.Duration
	for _, st := range w.Stages {
		d += st.For
	}
	return d
}

// Expect says what must hold for the run to pass.
type Expect struct {
	// Required check names; empty: the default for the bucket's replicas.
	Required     []string `yaml:"required"`
	CheckTimeout Duration `yaml:"check_timeout"`
	// TTLTolerance: how late after its TTL a key may still be read before
	// ttl-expiry fails (default 1s: the server expires on a timer).
	TTLTolerance Duration `yaml:"ttl_tolerance"`
}

// Duration is written as "15s" in YAML.
type Duration = time.Duration

// Defaults fills every zero field with the project default.
func (s *Scenario) Defaults() {
	if s.Target.Nodes == 0 && !s.External() {
		s.Target.Nodes = 1 // external servers: learnt from them
	}
	b := &s.Bucket
	if b.Replicas == 0 {
		b.Replicas = 1
	}
	if b.Storage == "" {
		b.Storage = "file"
	}
	if b.History == 0 {
		b.History = history.MaxDepth
	}
	w := &s.Workload
	if w.Clients == 0 {
		w.Clients = 4
	}
	if w.Duration == 0 && w.Ops == 0 && len(w.Stages) > 0 {
		w.Duration = w.StagesDuration() // the schedule is the run
	}
	if w.Duration == 0 && w.Ops == 0 {
		w.Duration = 10 * time.Second
	}
	if w.Keys == 0 {
		w.Keys = 16
	}
	if w.KeyDistribution == "" {
		w.KeyDistribution = "uniform"
	}
	if w.ZipfS == 0 {
		w.ZipfS = 1.2
	}
	if w.ValueSize == 0 {
		w.ValueSize = 128
	}
	if len(w.Mix) == 0 {
		w.Mix = map[string]int{"put": 2, "update": 3, "create": 1, "get": 3, "delete": 1}
	}
	if w.OpTimeout == 0 {
		w.OpTimeout = 5 * time.Second
	}
	if w.Seed == 0 {
		w.Seed = 1
	}
	if len(s.Faults.Kinds) > 0 && s.Faults.Interval == 0 {
		s.Faults.Interval = 5 * time.Second
	}
	if len(s.Faults.Kinds) > 0 && s.Faults.Duration == 0 {
		s.Faults.Duration = s.Faults.Interval / 2
	}
	if s.Faults.Latency == 0 {
		s.Faults.Latency = Duration(50 * time.Millisecond)
	}
	if s.Faults.PartitionMode == "" {
		s.Faults.PartitionMode = "reset"
	}
	if s.Faults.HealTimeout == 0 {
		s.Faults.HealTimeout = Duration(60 * time.Second)
	}
	if w.KeyTTL > 0 && b.LimitMarkerTTL == 0 {
		// Not longer: with history > 1 the server raises every message TTL
		// below limit_marker_ttl to it (see validate).
		b.LimitMarkerTTL = w.KeyTTL
	}
	if w.ReadPath == "" {
		w.ReadPath = history.PathDirect
	}
	for i := range w.Watchers {
		if w.Watchers[i].Count == 0 {
			w.Watchers[i].Count = 1
		}
		if w.Watchers[i].Mode == "" {
			w.Watchers[i].Mode = "latest"
		}
	}
	if s.Expect.TTLTolerance == 0 {
		s.Expect.TTLTolerance = Duration(checker.DefaultTTLTolerance)
	}
	if s.Expect.CheckTimeout == 0 {
		s.Expect.CheckTimeout = checker.DefaultTimeout
	}
}

// ParseStages reads the --stages flag: RATE:DURATION pairs, comma-separated,
// e.g. "1000:30s,5000:1m".
func ParseStages(s string) ([]RateStage, error) {
	var stages []RateStage
	for _, part := range strings.Split(s, ",") {
		rate, dur, ok := strings.Cut(strings.TrimSpace(part), ":")
		r, rerr := strconv.ParseFloat(rate, 64)
		d, derr := time.ParseDuration(dur)
		if !ok || rerr != nil || derr != nil || !usableRate(r) || d <= 0 {
			return nil, fmt.Errorf("--stages: %q is not RATE:DURATION with both positive and the rate at most %g (like 1000:30s)", part, maxRate)
		}
		stages = append(stages, RateStage{Rate: r, For: d})
	}
	return stages, nil
}

// CheckShape is what the scenario's default required checks depend on
// (checker.DefaultRequiredFor).
func (s *Scenario) CheckShape() checker.Shape {
	w := s.Workload
	gets := w.Mix["get"] > 0 || w.Pattern == history.PatternCounter
	return checker.Shape{Replicas: s.Bucket.Replicas, External: s.External(),
		Watchers: len(w.Watchers) > 0, Pattern: w.Pattern, TTL: w.KeyTTL > 0,
		LeaderReads:   gets && (w.ReadPath == history.PathLeader || w.ReadPath == history.PathBoth),
		NoDirectReads: gets && w.ReadPath == history.PathLeader}
}

// String says in one line which faults the scenario injects: "" for none.
func (f Faults) String() string {
	if len(f.Plan) > 0 {
		steps := make([]string, len(f.Plan))
		for i, p := range f.Plan {
			steps[i] = fmt.Sprintf("%s@%s", p.Kind, p.At)
			if p.Mode != "" {
				steps[i] += "(" + p.Mode + ")"
			}
		}
		return "plan " + strings.Join(steps, ",") + f.overlapAndMode()
	}
	if len(f.Kinds) == 0 {
		return ""
	}
	s := strings.Join(f.Kinds, ",")
	if f.Target != "" {
		s += " on " + f.Target
	}
	if f.Interval > 0 {
		s += fmt.Sprintf(" every %s", time.Duration(f.Interval))
	}
	return s + f.overlapAndMode()
}

// overlapAndMode: what else makes two fault schedules differ (compare and
// ab name it): faults at once, and how partitions cut.
func (f Faults) overlapAndMode() string {
	var s string
	if f.Concurrency > 1 {
		s += fmt.Sprintf(", up to %d at once", f.Concurrency)
	}
	if f.PartitionMode != "" && f.PartitionMode != "reset" {
		s += ", partitions " + f.PartitionMode
	}
	return s
}

// TargetName says what the scenario runs against: embedded servers, a
// nats-server binary, or external servers (their URLs without credentials:
// this line is printed and kept in result files).
func (s *Scenario) TargetName() string {
	switch {
	case len(s.Target.Servers) > 0:
		return "external servers " + strings.Join(secrets.URLs(s.Target.Servers), ",")
	case s.Target.ServerBin != "":
		return "nats-server " + s.Target.ServerBin
	}
	return "embedded servers"
}

// Describe: the scenario against its target, and a run's length, in one
// line (ab's sides, capacity's target).
func (s *Scenario) Describe() string {
	d := fmt.Sprintf("%s against %s", s.Name, s.TargetName())
	if w := s.Workload; w.Duration > 0 {
		d += fmt.Sprintf(", %s a run", w.Duration)
	}
	return d
}
