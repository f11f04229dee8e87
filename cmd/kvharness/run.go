package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/chaos"
	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/reports"
	"github.com/kvharness/kvharness/scenarios"
	"github.com/kvharness/kvharness/workload"
)

// runFlags mirror the scenario fields; only flags the user set override it.
type runFlags struct {
	servers          string
	serverBin        string
	nodes            int
	replicas         int
	storage          string
	historyDepth     int
	maxValueSize     int
	keepBucket       bool
	clients          int
	duration         time.Duration
	ops              int64
	rate             float64
	stages           string
	inflight         int
	noRecord         bool
	preload          bool
	keys             int
	keyDist          string
	zipfS            float64
	valueSize        int
	mix              string
	opTimeout        time.Duration
	sharedConnection bool
	noWatcher        bool
	watchers         int
	readPath         string
	seed             uint64
	require          string
	checkTimeout     time.Duration
	thresholds       []string
	faults           string
	faultInterval    time.Duration
	faultDuration    time.Duration
	faultTarget      string
	faultStart       time.Duration
	faultLatency     time.Duration
	faultJitter      time.Duration
	partitionMode    string
	upgradeBin       string
	out              string
	quiet            bool
	auth             cluster.Auth
}

func newRunCmd() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run [SCENARIO]",
		Short: "Run a scenario (a YAML file or a built-in name; default: the default scenario)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := "default"
			if len(args) == 1 {
				name = args[0]
			}
			return runScenario(cmd, name, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.servers, "server", "", "external servers, comma-separated URLs (default: embedded servers)")
	fl.StringVar(&f.serverBin, "server-bin", "", "spawn each node as a process of this nats-server binary (any release) instead of embedding the servers")
	fl.IntVar(&f.nodes, "nodes", 0, "cluster size for embedded or spawned servers")
	fl.IntVar(&f.replicas, "replicas", 0, "bucket replicas")
	fl.StringVar(&f.storage, "storage", "", "bucket storage: file or memory")
	fl.IntVar(&f.historyDepth, "history", 0, "revisions kept per key (1..64)")
	fl.IntVar(&f.maxValueSize, "max-value-size", 0, "bucket's maximum value size in bytes (0: unlimited)")
	fl.BoolVar(&f.keepBucket, "keep-bucket", false, "keep the bucket after the run")
	fl.IntVar(&f.clients, "clients", 0, "concurrent clients")
	fl.DurationVar(&f.duration, "duration", 0, "how long the workload runs")
	fl.Int64Var(&f.ops, "ops", 0, "total operations across clients (0: run for the duration)")
	fl.Float64Var(&f.rate, "rate", 0, "open-loop arrival rate, ops/s across all clients; latency from each op's intended start (default: closed loop)")
	fl.StringVar(&f.stages, "stages", "", `open loop at a sequence of rates, RATE:DURATION,... e.g. "1000:30s,5000:1m" (the run lasts as long as the stages)`)
	fl.IntVar(&f.inflight, "inflight", 0, "throughput mode: each client keeps up to N puts in flight, pipelined (needs --mix put=1)")
	fl.BoolVar(&f.noRecord, "no-record", false, "benchmark aid: record nothing (no history, histograms, watcher or checks), print the throughput only — what recording costs is the difference")
	fl.BoolVar(&f.preload, "preload", false, "write one value to every key before the workload starts (reads find values from the start)")
	fl.IntVar(&f.keys, "keys", 0, "number of keys")
	fl.StringVar(&f.keyDist, "key-dist", "", "key distribution: uniform or zipf")
	fl.Float64Var(&f.zipfS, "zipf-s", 0, "zipf exponent (> 1; larger is hotter)")
	fl.IntVar(&f.valueSize, "value-size", 0, "value size in bytes")
	fl.StringVar(&f.mix, "mix", "", "op weights, e.g. put=2,update=3,create=1,get=3,delete=1,purge=0")
	fl.DurationVar(&f.opTimeout, "op-timeout", 0, "per-operation timeout; a write that times out has an unknown outcome")
	fl.BoolVar(&f.sharedConnection, "shared-connection", false, "all clients share one connection (default: one each)")
	fl.IntVar(&f.watchers, "watchers", 0, "add N watchers of every key (latest entries, then updates), checked for order, completeness and phantoms")
	fl.StringVar(&f.readPath, "read-path", "", "route gets: direct (nats.go Get, any replica may answer), leader (message get via the stream leader), or both")
	fl.BoolVar(&f.noWatcher, "no-watcher", false, "no recording watcher (one consumer less on the server); resolve unknown writes from the stream after the run")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the op sequence (same seed, same ops)")
	fl.StringVar(&f.require, "require", "", "comma-separated checks that must pass (default: per replicas)")
	fl.DurationVar(&f.checkTimeout, "check-timeout", 0, "budget of each linearizability check")
	fl.StringArrayVar(&f.thresholds, "threshold", nil, `limit that fails the run when crossed, e.g. "put.p99<5ms", "update.error_rate<1%", "throughput>1000" (repeatable)`)
	fl.StringVar(&f.faults, "faults", "", "faults to inject while the workload runs, comma-separated, one at a time at random: "+strings.Join(chaos.Kinds(), ", "))
	fl.StringVar(&f.faultTarget, "fault-target", "", "nodes a fault hits: "+strings.Join(chaos.Targets, ", ")+", or names like n1,n2 (default random)")
	fl.DurationVar(&f.faultStart, "fault-start", 0, "when the first fault starts (default: one interval in)")
	fl.DurationVar(&f.faultInterval, "fault-interval", 0, "time between fault starts (default 5s)")
	fl.DurationVar(&f.faultDuration, "fault-duration", 0, "how long each fault lasts (default half the interval)")
	fl.DurationVar(&f.faultLatency, "fault-latency", 0, "delay a latency fault adds per route hop (default 50ms)")
	fl.DurationVar(&f.faultJitter, "fault-jitter", 0, "random extra delay, up to this, of a latency fault")
	fl.StringVar(&f.partitionMode, "partition-mode", "", "how a partition cuts routes: reset (default) or blackhole")
	fl.StringVar(&f.upgradeBin, "upgrade-bin", "", "rolling-restart brings each node back on this nats-server binary (upgrade validation)")
	fl.StringVar(&f.out, "out", "", "results folder (default: results/<time>-<scenario>)")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress display (default: a live line on a terminal, a line every 10 s otherwise)")
	fl.StringVar(&f.auth.CredsFile, "creds", "", "NATS credentials file")
	fl.StringVar(&f.auth.User, "user", "", "NATS user")
	fl.StringVar(&f.auth.Password, "password", "", "NATS password")
	fl.StringVar(&f.auth.Token, "token", "", "NATS token")
	fl.StringVar(&f.auth.NKeySeedFile, "nkey", "", "NATS nkey seed file")
	fl.StringVar(&f.auth.TLSCA, "tlsca", "", "TLS CA certificate file")
	fl.StringVar(&f.auth.TLSCert, "tlscert", "", "TLS client certificate file")
	fl.StringVar(&f.auth.TLSKey, "tlskey", "", "TLS client key file")
	return cmd
}

// applyFlags overrides scenario fields with the flags that were set.
func applyFlags(s *scenarios.Scenario, f *runFlags, set func(string) bool) error {
	if set("server") {
		s.Target.Servers = splitList(f.servers)
	}
	if set("server-bin") {
		s.Target.ServerBin = f.serverBin
	}
	if set("nodes") {
		s.Target.Nodes = f.nodes
	}
	if set("replicas") {
		s.Bucket.Replicas = f.replicas
	}
	if set("storage") {
		s.Bucket.Storage = f.storage
	}
	if set("history") {
		s.Bucket.History = f.historyDepth
	}
	if set("max-value-size") {
		s.Bucket.MaxValueSize = f.maxValueSize
	}
	if set("keep-bucket") {
		s.Bucket.Keep = f.keepBucket
	}
	w := &s.Workload
	if set("clients") {
		w.Clients = f.clients
	}
	if set("duration") {
		w.Duration = f.duration
	}
	if set("ops") {
		w.Ops = f.ops
		if !set("duration") {
			w.Duration = 0 // an op count alone runs until the count is reached
		}
	}
	if set("keys") {
		w.Keys = f.keys
	}
	if set("preload") {
		w.Preload = f.preload
	}
	if set("inflight") {
		if f.inflight < 1 {
			return fmt.Errorf("--inflight must be positive")
		}
		w.Inflight = f.inflight
	}
	if set("stages") && set("rate") {
		return fmt.Errorf("give either --rate or --stages, not both")
	}
	if set("stages") {
		st, err := scenarios.ParseStages(f.stages)
		if err != nil {
			return err
		}
		w.Stages, w.Rate = st, 0
		if !set("duration") {
			w.Duration = w.StagesDuration()
		}
	}
	if set("rate") {
		if f.rate <= 0 {
			return fmt.Errorf("--rate must be positive (ops/s)")
		}
		w.Rate = f.rate
		w.Stages = nil
	}
	if set("key-dist") {
		w.KeyDistribution = f.keyDist
	}
	if set("zipf-s") {
		w.ZipfS = f.zipfS
	}
	if set("value-size") {
		w.ValueSize = f.valueSize
	}
	if set("mix") {
		m, err := workload.ParseMix(f.mix)
		if err != nil {
			return fmt.Errorf("--mix: %v", err)
		}
		w.Mix = m
	}
	if set("op-timeout") {
		w.OpTimeout = f.opTimeout
	}
	if set("shared-connection") {
		w.SharedConnection = f.sharedConnection
	}
	if set("watchers") {
		if f.watchers < 0 {
			return fmt.Errorf("--watchers must be >= 0")
		}
		if f.watchers > 0 {
			w.Watchers = append(w.Watchers, scenarios.WatcherGroup{Count: f.watchers})
		}
	}
	if set("read-path") {
		w.ReadPath = f.readPath
	}
	if set("no-watcher") {
		w.NoWatcher = f.noWatcher
	}
	if set("seed") {
		w.Seed = f.seed
	}
	if set("require") {
		s.Expect.Required = splitList(f.require)
	}
	if set("threshold") {
		if s.Thresholds == nil {
			s.Thresholds = map[string]string{}
		}
		for _, t := range f.thresholds {
			name, expr, err := scenarios.SplitThreshold(t)
			if err != nil {
				return err
			}
			s.Thresholds[name] = expr
		}
	}
	if set("faults") {
		s.Faults.Kinds = splitList(f.faults)
		s.Faults.Plan = nil // the flag's mix replaces the scenario's faults
	}
	if set("fault-interval") {
		s.Faults.Interval = f.faultInterval
		s.Faults.Start = 0 // the scenario's first fault was timed for its own interval
	}
	if set("fault-duration") {
		s.Faults.Duration = f.faultDuration
	}
	if set("fault-target") {
		s.Faults.Target = f.faultTarget
	}
	if set("fault-start") {
		s.Faults.Start = f.faultStart
	}
	if set("fault-latency") {
		s.Faults.Latency = f.faultLatency
	}
	if set("fault-jitter") {
		s.Faults.Jitter = f.faultJitter
	}
	if set("partition-mode") {
		s.Faults.PartitionMode = f.partitionMode
	}
	if set("upgrade-bin") {
		s.Faults.UpgradeBin = f.upgradeBin
	}
	if set("check-timeout") {
		s.Expect.CheckTimeout = f.checkTimeout
	}
	for _, name := range []string{"nodes", "replicas", "clients", "keys", "value-size", "history"} {
		if set(name) && flagInt(f, name) <= 0 {
			return fmt.Errorf("--%s must be positive", name)
		}
	}
	if set("duration") && f.duration <= 0 {
		return fmt.Errorf("--duration must be positive")
	}
	return nil
}

func flagInt(f *runFlags, name string) int {
	switch name {
	case "nodes":
		return f.nodes
	case "replicas":
		return f.replicas
	case "clients":
		return f.clients
	case "keys":
		return f.keys
	case "value-size":
		return f.valueSize
	case "history":
		return f.historyDepth
	}
	return 1
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func runScenario(cmd *cobra.Command, name string, f *runFlags) error {
	sc, err := scenarios.Load(name)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := applyFlags(sc, f, func(n string) bool { return cmd.Flags().Changed(n) }); err != nil {
		return usageErr("%v", err)
	}
	external := len(sc.Target.Servers) > 0
	sc.Defaults()
	if err := sc.Validate(); err != nil {
		return usageErr("%v", err)
	}
	thresholds, err := scenarios.ParsedThresholds(sc.Thresholds)
	if err != nil {
		return usageErr("%v", err)
	}
	required := sc.Expect.Required
	if len(required) == 0 {
		required = checker.DefaultRequiredFor(sc.CheckShape(external))
	}

	outDir := f.out
	if outDir == "" {
		outDir = filepath.Join("results", time.Now().Format("20060102-150405")+"-"+sc.Name)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return usageErr("results folder: %v", err)
	}

	// A load generator shares the machine with the servers it measures:
	// collect garbage less often (memory stays bounded — histories stream
	// to disk) so more CPU is left for the servers.
	debug.SetGCPercent(400)

	// The first SIGINT/SIGTERM stops the workload; the run then reads the
	// final state and checks. A second one kills the process the default
	// way — the history stays valid up to its last line.
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	go func() {
		<-ctx.Done()
		stopSignals()
	}()

	// Faults that hit processes need spawned servers; with no nats-server
	// binary given, the harness spawns itself (`kvharness server`), so a
	// fault scenario runs on a machine with nothing installed.
	serverBin, selfServe := sc.Target.ServerBin, false
	if serverBin == "" && !external && chaos.NeedProcesses(sc.Faults.FaultKinds()) {
		exe, err := os.Executable()
		if err != nil {
			return usageErr("cannot find this binary to spawn servers: %v", err)
		}
		serverBin, selfServe = exe, true
	}
	nodes := sc.Target.Nodes
	if external && !cmd.Flags().Changed("nodes") {
		nodes = 0
	}
	target, err := cluster.Up(cluster.TargetConfig{
		ServerURLs:  sc.Target.Servers,
		Auth:        f.auth,
		Nodes:       nodes,
		LogDir:      filepath.Join(outDir, "nodes"),
		StoreParent: filepath.Join(outDir, "nodes"),
		ServerBin:   serverBin,
		SelfServe:   selfServe,
	})
	if err != nil {
		return usageErr("%v", err)
	}
	defer target.Down()
	fl := sc.Faults
	schedule := chaos.Schedule{Kinds: fl.Kinds, Target: fl.Target, Start: fl.Start, Interval: fl.Interval, Duration: fl.Duration,
		Latency: fl.Latency, Jitter: fl.Jitter, PartitionMode: cluster.LinkReset, UpgradeBin: fl.UpgradeBin,
		HealTimeout: fl.HealTimeout, Seed: sc.Workload.Seed}
	if fl.PartitionMode == "blackhole" {
		schedule.PartitionMode = cluster.LinkBlackhole
	}
	for _, st := range fl.Plan {
		schedule.Plan = append(schedule.Plan, chaos.Step{Kind: st.Kind, Target: st.Target, At: st.At, Duration: st.Duration})
	}
	if err := schedule.Validate(target); err != nil {
		return usageErr("%v", err)
	}
	var nemesis func(context.Context, workload.NemesisEnv)
	nem := &chaos.Nemesis{Schedule: schedule, Target: target}
	if len(schedule.Kinds) > 0 || len(schedule.Plan) > 0 {
		nemesis = func(ctx context.Context, env workload.NemesisEnv) {
			nem.Stream, nem.Now, nem.Out = env.Stream, env.Now, env.Out
			nem.Run(ctx)
		}
	}

	var progress func(workload.Progress)
	printer := newProgressPrinter(cmd.ErrOrStderr(), isTerminal(os.Stderr))
	if !f.quiet {
		progress = func(p workload.Progress) {
			p.Fault = nem.Current()
			printer.update(p)
		}
	}
	w := sc.Workload
	keyZipf := 0.0
	if w.KeyDistribution == "zipf" {
		keyZipf = w.ZipfS
	}
	historyPath := filepath.Join(outDir, "history.jsonl")
	fmt.Fprintf(cmd.OutOrStdout(), "kvharness: running %s against %s servers (%s), results in %s\n", sc.Name, target.Mode, strings.Join(target.URLs, ","), outDir)
	res, err := workload.Run(ctx, workload.Config{
		Target: target,
		Bucket: cluster.BucketConfig{
			Name:           bucketName(),
			Replicas:       sc.Bucket.Replicas,
			Storage:        sc.Bucket.Storage,
			History:        sc.Bucket.History,
			MaxValueSize:   int32(sc.Bucket.MaxValueSize),
			LimitMarkerTTL: sc.Bucket.LimitMarkerTTL,
		},
		KeepBucket:       sc.Bucket.Keep,
		Clients:          w.Clients,
		SharedConnection: w.SharedConnection,
		Duration:         w.Duration,
		Ops:              w.Ops,
		Rate:             w.Rate,
		Stages:           stages(w.Stages),
		Inflight:         w.Inflight,
		NoRecord:         f.noRecord,
		Preload:          w.Preload,
		Keys:             workload.NewKeySpace(w.Keys, keyZipf),
		Mix:              workload.Mix(w.Mix),
		ValueSize:        w.ValueSize,
		Seed:             w.Seed,
		OpTimeout:        w.OpTimeout,
		NoWatcher:        w.NoWatcher,
		Pattern:          w.Pattern,
		OwnKeys:          w.OwnKeys,
		KeyTTL:           w.KeyTTL,
		ReadPath:         w.ReadPath,
		Watchers:         watcherGroups(w.Watchers),
		HistoryPath:      historyPath,
		Meta: history.Meta{Scenario: sc.Name, Required: required, CheckTimeoutSec: sc.Expect.CheckTimeout.Seconds(), Thresholds: sc.Thresholds,
			Pattern: w.Pattern, TTLToleranceMs: sc.Expect.TTLTolerance.Milliseconds()},
		Progress: progress,
		Nemesis:  nemesis,
	})
	printer.done()
	target.Down()
	if err != nil {
		var se *workload.SetupError
		if errors.As(err, &se) {
			return usageErr("%v", err)
		}
		if res == nil {
			return usageErr("%v", err)
		}
		fmt.Fprintf(os.Stderr, "kvharness: %v\n", err)
	}

	if f.noRecord {
		fmt.Fprintf(cmd.OutOrStdout(), "recording off: %d ops in %.1fs: %.0f ops/s (nothing checked)\n",
			res.Issued, res.Elapsed.Seconds(), float64(res.Issued)/res.Elapsed.Seconds())
		return nil
	}
	limitCheckMemory()
	h, err := history.ReadFile(historyPath)
	if err != nil {
		return usageErr("reading back the history: %v", err)
	}
	result := checker.Check(h, checker.Options{
		Timeout:      sc.Expect.CheckTimeout,
		VisualizeDir: filepath.Join(outDir, "linearizability"),
	})
	summary := reports.Build(reports.Input{
		History:     h,
		Result:      result,
		Latency:     res.Latency,
		Service:     res.Service,
		Late:        res.Late,
		DurationSec: res.Elapsed.Seconds(),
		Pacing:      res.Pacing,
		Clients:     w.Clients,
		Interrupted: res.Interrupted,
		Thresholds:  thresholds,
	})
	if err := summary.WriteFiles(outDir, h); err != nil {
		return usageErr("writing results: %v", err)
	}
	summary.WriteText(cmd.OutOrStdout())
	fmt.Fprintf(cmd.OutOrStdout(), "results: %s\n", outDir)
	return exitWith(summary.ExitCode)
}

// watcherGroups converts the scenario's watchers for the workload.
func watcherGroups(in []scenarios.WatcherGroup) []workload.WatcherGroup {
	var out []workload.WatcherGroup
	for _, g := range in {
		out = append(out, workload.WatcherGroup{Count: g.Count, Keys: g.Keys, Mode: g.Mode, Start: g.Start})
	}
	return out
}

// stages converts the scenario's rate schedule for the workload.
func stages(in []scenarios.RateStage) []workload.Stage {
	var out []workload.Stage
	for _, st := range in {
		out = append(out, workload.Stage{Rate: st.Rate, For: st.For})
	}
	return out
}

// bucketName is unique per run, so concurrent runs against one cluster do
// not collide.
func bucketName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "kvh_" + time.Now().UTC().Format("20060102_150405") + "_" + hex.EncodeToString(b)
}
