package scenarios

import (
	"slices"

	"github.com/kvharness/kvharness/chaos"
	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/workload"
)

// A scenario produces what the packages of a run consume, so no caller
// translates it field by field: the workload's Config, the nemesis's
// Schedule, the bucket's config, the history's meta line, the checks it
// requires.

// Complete returns a copy with every default filled in, validated: what a
// run runs. The scenario itself is left as it is, so it can be run again
// (or changed and run, as A/B rounds do).
func (s *Scenario) Complete() (*Scenario, error) {
	c := s.clone()
	c.Defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Scenario) clone() *Scenario {
	c := *s
	c.Target.Servers = slices.Clone(s.Target.Servers)
	c.Workload.Stages = slices.Clone(s.Workload.Stages)
	c.Workload.Watchers = slices.Clone(s.Workload.Watchers)
	for i := range c.Workload.Watchers {
		c.Workload.Watchers[i].Keys = slices.Clone(c.Workload.Watchers[i].Keys)
	}
	c.Workload.Mix = cloneMap(s.Workload.Mix)
	c.Expect.Required = slices.Clone(s.Expect.Required)
	c.Thresholds = cloneMap(s.Thresholds)
	c.Faults.Kinds = slices.Clone(s.Faults.Kinds)
	c.Faults.Plan = slices.Clone(s.Faults.Plan)
	return &c
}

func cloneMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return nil
	}
	c := make(map[string]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// External: the scenario runs against servers the harness did not start.
func (s *Scenario) External() bool { return len(s.Target.Servers) > 0 }

// WorkloadConfig is what the clients and watchers do.
func (s *Scenario) WorkloadConfig() workload.Config {
	w := s.Workload
	zipf := 0.0
	if w.KeyDistribution == "zipf" {
		zipf = w.ZipfS
	}
	return workload.Config{
		Clients:          w.Clients,
		SharedConnection: w.SharedConnection,
		Duration:         w.Duration,
		Warmup:           w.Warmup,
		Ops:              w.Ops,
		Rate:             w.Rate,
		Stages:           w.Stages,
		Preload:          w.Preload,
		Inflight:         w.Inflight,
		Keys:             workload.NewKeySpace(w.Keys, zipf),
		Mix:              workload.Mix(w.Mix),
		ValueSize:        w.ValueSize,
		Seed:             w.Seed,
		OpTimeout:        w.OpTimeout,
		ReadPath:         w.ReadPath,
		OwnKeys:          w.OwnKeys,
		Pattern:          w.Pattern,
		KeyTTL:           w.KeyTTL,
		Watchers:         w.Watchers,
		NoWatcher:        w.NoWatcher,
	}
}

// Schedule is the nemesis's: the faults, drawn with the workload's seed.
// The partition mode was validated with the scenario.
func (s *Scenario) Schedule() chaos.Schedule {
	f := s.Faults
	mode, _ := chaos.ParsePartitionMode(f.PartitionMode)
	return chaos.Schedule{Kinds: f.Kinds, Plan: f.Plan, Target: f.Target, Start: f.Start, Interval: f.Interval,
		Duration: f.Duration, Latency: f.Latency, Jitter: f.Jitter, PartitionMode: mode, UpgradeBin: f.UpgradeBin,
		HealTimeout: f.HealTimeout, Concurrency: f.Concurrency, Seed: s.Workload.Seed}
}

// BucketConfig is the bucket the run creates, under the given name.
func (s *Scenario) BucketConfig(name string) cluster.BucketConfig {
	b := s.Bucket
	return cluster.BucketConfig{Name: name, Replicas: b.Replicas, Storage: b.Storage, History: b.History,
		MaxValueSize: int32(b.MaxValueSize), LimitMarkerTTL: b.LimitMarkerTTL, Compression: b.Compression}
}

// RequiredChecks: the scenario's own list, or the default for its shape.
func (s *Scenario) RequiredChecks() []string {
	if len(s.Expect.Required) > 0 {
		return s.Expect.Required
	}
	return checker.DefaultRequiredFor(s.CheckShape())
}

// Meta is the history's meta line as far as the scenario knows it; the
// run adds the bucket, target and start time.
func (s *Scenario) Meta() history.Meta {
	wc := s.WorkloadConfig()
	w := s.Workload
	return history.Meta{Keys: wc.Keys.Keys, Scenario: s.Name, Required: s.RequiredChecks(), CheckTimeoutSec: s.Expect.CheckTimeout.Seconds(),
		Thresholds: s.Thresholds, Pattern: w.Pattern, TTLToleranceMs: s.Expect.TTLTolerance.Milliseconds(),
		Replicas: s.Bucket.Replicas, History: s.Bucket.History, Seed: w.Seed, Clients: w.Clients,
		Pacing: wc.Pacing(), Demoted: s.DemotedChecks(), SyncInterval: s.syncReported(),
		Workload: &history.Workload{Storage: s.Bucket.Storage, Compression: s.Bucket.Compression, Mix: w.Mix, Keys: w.Keys, KeyDistribution: w.KeyDistribution,
			ValueSize: w.ValueSize, OpTimeoutMs: w.OpTimeout.Milliseconds(), KeyTTLMs: w.KeyTTL.Milliseconds(),
			ReadPath: w.ReadPath, Inflight: w.Inflight, Faults: s.Faults.String(), WarmupMs: w.Warmup.Milliseconds()}}
}

// DemotedChecks: the checks the default for the scenario's shape requires
// and its own required list leaves out. A scenario may mean it (R3 direct
// reads), but a user who copied a list should see what it costs.
func (s *Scenario) DemotedChecks() []string {
	if len(s.Expect.Required) == 0 {
		return nil
	}
	var out []string
	for _, c := range checker.DefaultRequiredFor(s.CheckShape()) {
		if !slices.Contains(s.Expect.Required, c) {
			out = append(out, c)
		}
	}
	return out
}

// syncReported: how the run's servers synced their stores, as the meta line
// and summary.json say it ("" for external servers, whose setting the run
// does not know).
func (s *Scenario) syncReported() string {
	if s.External() {
		return ""
	}
	return cluster.SyncInterval(s.Target.SyncInterval).String()
}
