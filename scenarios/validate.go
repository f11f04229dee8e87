package scenarios

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kvharness/kvharness/chaos"
	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/reports"
	"github.com/kvharness/kvharness/workload"
)

// FieldError is a bad value at a YAML path; Parse turns the path into a line.
type FieldError struct {
	Path string // e.g. $.workload.clients
	// MapKey, when set, names a key of the mapping at Path whose keys YAML
	// paths cannot address (thresholds like "put.p99" contain dots).
	MapKey string
	Msg    string
}

func (e *FieldError) Error() string { return e.Msg }

func fieldErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Msg: fmt.Sprintf("%s: ", strings.TrimPrefix(path, "$.")) + fmt.Sprintf(format, args...)}
}

// executable: path (if given) is a file this process may run.
func executable(path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("%s: no such file", path)
	case fi.IsDir():
		return fmt.Errorf("%s is a folder, not a nats-server binary", path)
	case fi.Mode()&0o111 == 0:
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}

// Validate checks values against their ranges. Zero values are allowed
// (they take defaults); call it before and after applying flags.
func (s *Scenario) Validate() error { return s.validate() }

func (s *Scenario) validate() error {
	if s.Target.Nodes < 0 || s.Target.Nodes > 9 {
		return fieldErr("$.target.nodes", "must be between 1 and 9, got %d", s.Target.Nodes)
	}
	if err := cluster.SyncInterval(s.Target.SyncInterval).Validate(); err != nil {
		return fieldErr("$.target.sync_interval", "%v", err)
	}
	if s.Target.SyncInterval != "" && s.Target.SyncInterval != "default" && len(s.Target.Servers) > 0 {
		return fieldErr("$.target.sync_interval", "sets how the servers the harness starts sync their stores; external servers keep their own")
	}
	if len(s.Target.Servers) > 0 && s.Target.ServerBin != "" {
		return fieldErr("$.target.server_bin", "cannot spawn servers and use external ones (servers) at once")
	}
	// Binaries are checked before anything starts: an upgrade binary found
	// missing at the first restart costs the run, and its servers' start.
	if err := executable(s.Target.ServerBin); err != nil {
		return fieldErr("$.target.server_bin", "%v", err)
	}
	if err := executable(s.Faults.UpgradeBin); err != nil {
		return fieldErr("$.faults.upgrade_bin", "%v", err)
	}
	b := s.Bucket
	if b.Replicas < 0 || b.Replicas > 5 {
		return fieldErr("$.bucket.replicas", "must be between 1 and 5, got %d", b.Replicas)
	}
	if len(s.Target.Servers) == 0 && s.Target.Nodes > 0 && b.Replicas > s.Target.Nodes {
		return fieldErr("$.bucket.replicas", "%d replicas need at least %d nodes, target has %d", b.Replicas, b.Replicas, s.Target.Nodes)
	}
	if b.Storage != "" && b.Storage != "file" && b.Storage != "memory" {
		return fieldErr("$.bucket.storage", "must be file or memory, got %q", b.Storage)
	}
	if b.Compression && b.Storage == "memory" {
		return fieldErr("$.bucket.compression", "compresses what a bucket stores on disk: it needs file storage, not memory")
	}
	if b.History < 0 || b.History > history.MaxDepth {
		return fieldErr("$.bucket.history", "must be between 1 and %d, got %d", history.MaxDepth, b.History)
	}
	if b.MaxValueSize < 0 {
		return fieldErr("$.bucket.max_value_size", "must be >= 0, got %d", b.MaxValueSize)
	}
	w := s.Workload
	if w.Clients < 0 || w.Clients > 10000 {
		return fieldErr("$.workload.clients", "must be between 1 and 10000, got %d", w.Clients)
	}
	if w.Duration < 0 {
		return fieldErr("$.workload.duration", "must be positive, got %s", w.Duration)
	}
	if w.Warmup < 0 {
		return fieldErr("$.workload.warmup", "must be >= 0, got %s", w.Warmup)
	}
	if d := max(w.Duration, Duration(w.StagesDuration())); w.Warmup > 0 && d > 0 && w.Warmup >= d {
		return fieldErr("$.workload.warmup", "must be shorter than the run (%s), got %s", d, w.Warmup)
	}
	if w.Ops < 0 {
		return fieldErr("$.workload.ops", "must be >= 0, got %d", w.Ops)
	}
	if w.Rate != 0 && !usableRate(w.Rate) {
		return fieldErr("$.workload.rate", "must be 0 (closed loop) or between 0 and %g ops/s, got %g", maxRate, w.Rate)
	}
	if w.Inflight < 0 || w.Inflight > 100_000 {
		return fieldErr("$.workload.inflight", "must be between 1 and 100000, got %d", w.Inflight)
	}
	if w.Inflight > 1 {
		for op, weight := range w.Mix {
			if op != history.OpPut && op != history.OpUpdate && weight > 0 {
				return fieldErr("$.workload.inflight", "pipelines writes: the mix must be puts and updates only (put=1 or update=1), it has %s", op)
			}
		}
		if w.SharedConnection {
			return fieldErr("$.workload.inflight", "needs a connection per client (no shared_connection)")
		}
	}
	if len(w.Stages) > 0 && w.Rate > 0 {
		return fieldErr("$.workload.stages", "give either rate or stages, not both")
	}
	for i, st := range w.Stages {
		if !usableRate(st.Rate) || st.For <= 0 {
			return fieldErr(fmt.Sprintf("$.workload.stages[%d]", i), "needs rate between 0 and %g ops/s and for > 0, got rate %g for %s", maxRate, st.Rate, st.For)
		}
	}
	if w.Keys < 0 || w.Keys > 1_000_000 {
		return fieldErr("$.workload.keys", "must be between 1 and 1000000, got %d", w.Keys)
	}
	if w.KeyDistribution != "" && w.KeyDistribution != "uniform" && w.KeyDistribution != "zipf" {
		return fieldErr("$.workload.key_distribution", "must be uniform or zipf, got %q", w.KeyDistribution)
	}
	if w.ZipfS != 0 && w.ZipfS <= 1 {
		return fieldErr("$.workload.zipf_s", "must be > 1, got %g", w.ZipfS)
	}
	if w.ValueSize < 0 || w.ValueSize > 8<<20 {
		return fieldErr("$.workload.value_size", "must be between 1 and 8388608 bytes, got %d", w.ValueSize)
	}
	if w.OpTimeout < 0 {
		return fieldErr("$.workload.op_timeout", "must be positive, got %s", w.OpTimeout)
	}
	if len(w.Mix) > 0 {
		if err := workload.Mix(w.Mix).Validate(); err != nil {
			var me *workload.MixError
			if errors.As(err, &me) && me.Op != "" {
				return fieldErr("$.workload.mix."+me.Op, "%v", err)
			}
			return fieldErr("$.workload.mix", "%v", err)
		}
	}
	switch w.Pattern {
	case "", history.PatternCounter, history.PatternSessions:
	case history.PatternLease:
		if w.Keys > 1 {
			return fieldErr("$.workload.keys", "a lease scenario elects on one key, got %d", w.Keys)
		}
	default:
		return fieldErr("$.workload.pattern", "must be counter, lease or sessions, got %q", w.Pattern)
	}
	if w.Pattern != "" && w.Inflight > 1 {
		return fieldErr("$.workload.inflight", "pipelines writes: not with pattern %s", w.Pattern)
	}
	if (w.Pattern == history.PatternLease || w.Pattern == history.PatternSessions) && w.KeyTTL == 0 {
		return fieldErr("$.workload.key_ttl", "pattern %s needs a per-key TTL (like 2s)", w.Pattern)
	}
	// The server keeps TTLs in whole seconds, rounding down: a lease of
	// 1.5s would expire after 1s while its holder relies on 1.5s.
	if w.KeyTTL != 0 && (w.KeyTTL < time.Second || w.KeyTTL%time.Second != 0) {
		return fieldErr("$.workload.key_ttl", "must be whole seconds, at least 1s (the server keeps TTLs in seconds), got %s", w.KeyTTL)
	}
	if w.KeyTTL != 0 && w.Inflight > 1 {
		return fieldErr("$.workload.key_ttl", "not with inflight (pipelined puts carry no TTL)")
	}
	if b.LimitMarkerTTL != 0 && (b.LimitMarkerTTL < time.Second || b.LimitMarkerTTL%time.Second != 0) {
		return fieldErr("$.bucket.limit_marker_ttl", "must be whole seconds, at least 1s, got %s", b.LimitMarkerTTL)
	}
	if w.KeyTTL > 0 && b.LimitMarkerTTL > w.KeyTTL && b.History != 1 {
		return fieldErr("$.bucket.limit_marker_ttl", "%s is longer than key_ttl %s: with history > 1 the server raises every message TTL to at least limit_marker_ttl, so keys would live %s", b.LimitMarkerTTL, w.KeyTTL, b.LimitMarkerTTL)
	}
	switch w.ReadPath {
	case "", history.PathDirect, history.PathLeader, history.PathBoth:
	default:
		return fieldErr("$.workload.read_path", "must be direct, leader or both, got %q", w.ReadPath)
	}
	for i, g := range w.Watchers {
		path := fmt.Sprintf("$.workload.watchers[%d]", i)
		if g.Count < 0 || g.Count > 1000 {
			return fieldErr(path+".count", "must be between 1 and 1000, got %d", g.Count)
		}
		if g.Start < 0 || w.Duration > 0 && g.Start >= w.Duration {
			return fieldErr(path+".start", "must be within the run (0 to %s), got %s", w.Duration, g.Start)
		}
		switch g.Mode {
		case "", history.WatchLatest, history.WatchHistory, history.WatchUpdates:
		default:
			return fieldErr(path+".mode", "must be latest, history or updates, got %q", g.Mode)
		}
		for j, k := range g.Keys {
			if !validKeyFilter(k) {
				return fieldErr(fmt.Sprintf("%s.keys[%d]", path, j), "%q is not a key or a key filter (letters, digits, -_=/. and the wildcards * and >)", k)
			}
		}
	}
	if s.Expect.TTLTolerance < 0 {
		return fieldErr("$.expect.ttl_tolerance", "must be positive, got %s", s.Expect.TTLTolerance)
	}
	for i, c := range s.Expect.Required {
		if !contains(checker.AllChecks, c) {
			return fieldErr(fmt.Sprintf("$.expect.required[%d]", i), "unknown check %q", c)
		}
	}
	for name, expr := range s.Thresholds {
		if _, err := reports.ParseThreshold(name, expr); err != nil {
			return &FieldError{Path: "$.thresholds", MapKey: name, Msg: err.Error()}
		}
	}
	fl := s.Faults
	corrupts := contains(fl.Kinds, "corrupt")
	for _, st := range fl.Plan {
		corrupts = corrupts || st.Kind == "corrupt"
	}
	if corrupts && (s.Bucket.Replicas == 1 || s.Target.Nodes == 1) {
		// On one replica it destroys acknowledged writes by design: every
		// check would fail, and say nothing about the server.
		return fieldErr("$.faults.kinds", "corrupt damages a node's stored files, which only another node's replica can repair: it needs a replicated bucket on several nodes, not one replica")
	}
	if _, err := chaos.ParsePartitionMode(fl.PartitionMode); err != nil {
		return fieldErr("$.faults.partition_mode", "%v", err)
	}
	if fl.Concurrency < 0 || fl.Concurrency > 16 {
		return fieldErr("$.faults.concurrency", "must be 1 to 16 faults at once (0: one at a time), got %d", fl.Concurrency)
	}
	for path, d := range map[string]Duration{"$.faults.start": fl.Start, "$.faults.interval": fl.Interval, "$.faults.duration": fl.Duration,
		"$.faults.latency": fl.Latency, "$.faults.jitter": fl.Jitter, "$.faults.heal_timeout": fl.HealTimeout} {
		if d < 0 {
			return fieldErr(path, "must be positive, got %s", d)
		}
	}
	if s.Expect.CheckTimeout < 0 {
		return fieldErr("$.expect.check_timeout", "must be positive, got %s", s.Expect.CheckTimeout)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// validKeyFilter: a KV key, or a filter over keys with NATS wildcards ('*'
// one token, '>' the rest, last).
func validKeyFilter(f string) bool {
	if f == "" || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") || strings.Contains(f, "..") {
		return false
	}
	tokens := strings.Split(f, ".")
	for i, t := range tokens {
		if t == "*" || t == ">" && i == len(tokens)-1 {
			continue
		}
		for _, r := range t {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=/", r)
			if !ok {
				return false
			}
		}
	}
	return true
}

// maxRate bounds an open-loop rate: far beyond what one machine's clients
// can issue (about 20k ops/s here), and below where the interval between
// arrivals rounds to nothing.
const maxRate = 1e7

// usableRate: an open-loop rate above 0 and at most maxRate (YAML's .nan
// and .inf, and a flag's NaN or Inf, are not).
func usableRate(r float64) bool { return r > 0 && r <= maxRate }
