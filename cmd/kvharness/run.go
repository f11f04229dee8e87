package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/chaos"
	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/harness"
	"github.com/kvharness/kvharness/internal/secrets"
	"github.com/kvharness/kvharness/reports"
	"github.com/kvharness/kvharness/scenarios"
	"github.com/kvharness/kvharness/workload"
)

// run: flags → scenario → harness.Run → exit code.
func newRunCmd() *cobra.Command {
	var opts harness.Options
	var quiet bool
	var progressEvery time.Duration
	cmd := &cobra.Command{
		Use:   "run [SCENARIO]",
		Short: "Run a scenario (a YAML file or a built-in name; default: the default scenario)",
		Args:  cobra.MaximumNArgs(1),
	}
	ov := scenarioFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&opts.NoRecord, "no-record", false, "benchmark aid: record nothing (no history, histograms, watcher or checks), print the throughput only — what recording costs is the difference")
	fl.StringVar(&opts.OutDir, "out", "", "results folder, empty or new (default: results/<time>-<scenario>, never shared)")
	fl.BoolVar(&opts.Replace, "replace", false, "let --out name a folder holding a previous run, whose files are removed first")
	fl.BoolVar(&opts.CompressHistory, "compress-history", false, "write the history compressed, as history.jsonl.zst (zstd, about an eighth of the size; `kvharness history cat` prints it)")
	checkMemory := checkMemoryFlag(fl)
	fl.BoolVar(&opts.AllViews, "all-views", false, allViewsHelp)
	fl.BoolVar(&quiet, "quiet", false, "no progress display (default: a live line on a terminal, a line every 10 s otherwise)")
	fl.DurationVar(&progressEvery, "progress-interval", logLineEvery, "how often a progress line goes to stderr when it is not a terminal (CI logs)")
	authFlags(cmd, &opts.Auth)
	var fleetOpts harness.FleetOptions
	fl.IntVar(&fleetOpts.Workers, "workers", 0, "run the clients on this many workers (`kvharness worker` on any machine), coordinated over NATS; this process runs the rest of the run")
	fl.StringVar(&fleetOpts.Control, "control", "", "the control plane's NATS server for --workers (default: one started here, on --control-listen)")
	fl.StringVar(&fleetOpts.Listen, "control-listen", "127.0.0.1:0", "where the control server started here listens: an address the workers can reach (port 0: any free one)")
	fl.DurationVar(&fleetOpts.Await, "await-workers", 60*time.Second, "how long to wait for the workers to register")
	secretFile := fl.String("fleet-secret-file", "", "a file holding the fleet's secret (default: $KVHARNESS_FLEET_SECRET), which signs every command to the workers")
	controlAuthFlags(cmd, &fleetOpts.ControlAuth)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		sc, err := ov.load(args)
		if err != nil {
			return usageErr("%v", err)
		}
		if fleetOpts.Workers < 0 {
			return usageErr("--workers must be at least 1")
		}
		if fleetOpts.Workers > 0 {
			if fleetOpts.Secret, err = fleetSecret(*secretFile); err != nil {
				return err
			}
			opts.Fleet = &fleetOpts
		}
		if opts.CheckMemory, err = checkMemory(); err != nil {
			return err
		}
		printer := newProgressPrinter(cmd.ErrOrStderr(), isTerminal(os.Stderr), progressEvery)
		if !quiet {
			opts.Progress, opts.CheckProgress = printer.update, printer.checking
		}
		opts.Log = cmd.OutOrStdout()

		ctx, stopSignals := untilInterrupted()
		defer stopSignals()
		res, err := harness.Run(ctx, sc, opts)
		printer.done()
		if err != nil {
			return usageErr("%v", err)
		}
		if opts.NoRecord {
			fmt.Fprintf(cmd.OutOrStdout(), "recording off: %d ops in %.1fs: %.0f ops/s (nothing checked)\n",
				res.Stats.Issued, res.Stats.Elapsed.Seconds(), float64(res.Stats.Issued)/res.Stats.Elapsed.Seconds())
			return nil
		}
		res.Summary.WriteText(cmd.OutOrStdout())
		fmt.Fprintf(cmd.OutOrStdout(), "results: %s\n", res.Dir)
		return exitWith(res.ExitCode)
	}
	return cmd
}

// scenarioFlags declares the flags that override scenario fields.
func scenarioFlags(cmd *cobra.Command) *overrides {
	o := newOverrides(cmd.Flags())
	type S = scenarios.Scenario
	o.parsed("server", "external servers, comma-separated URLs (default: embedded servers)", func(s *S, v string) error {
		s.Target.Servers = splitList(v)
		if !o.set("nodes") {
			s.Target.Nodes = 0 // the scenario's cluster size was for servers it starts: learn it from these
		}
		return nil
	})
	o.parsed("monitor", "external servers' monitoring endpoints, comma-separated (http://host:8222): their CPU, memory and JetStream figures each second", func(s *S, v string) error {
		s.Target.Monitors = splitList(v)
		return nil
	})
	o.stringField("server-bin", "spawn each node as a process of this nats-server binary (any release) instead of embedding the servers", func(s *S) *string { return &s.Target.ServerBin })
	o.countField("nodes", "cluster size for embedded or spawned servers", func(s *S) *int { return &s.Target.Nodes })
	o.stringField("sync-interval", "how often embedded or spawned servers fsync their stores: always, a duration like 1s, or default (the server's, 2m — writes are acknowledged before they are on disk)", func(s *S) *string { return &s.Target.SyncInterval })

	o.countField("replicas", "bucket replicas", func(s *S) *int { return &s.Bucket.Replicas })
	o.stringField("storage", "bucket storage: file or memory", func(s *S) *string { return &s.Bucket.Storage })
	o.countField("history", "revisions kept per key (1..64)", func(s *S) *int { return &s.Bucket.History })
	o.intField("max-value-size", "bucket's maximum value size in bytes (0: unlimited)", func(s *S) *int { return &s.Bucket.MaxValueSize })
	o.durationField("limit-marker-ttl", "how long the bucket keeps the markers of keys whose TTL ran out (whole seconds; enables per-key TTLs)", func(s *S) *time.Duration { return &s.Bucket.LimitMarkerTTL })
	o.boolField("keep-bucket", "keep the bucket after the run", func(s *S) *bool { return &s.Bucket.Keep })
	o.boolField("compression", "store the bucket's stream S2-compressed (file storage): what compression costs, against a run without", func(s *S) *bool { return &s.Bucket.Compression })

	o.countField("clients", "concurrent clients", func(s *S) *int { return &s.Workload.Clients })
	o.durationField("duration", "how long the workload runs", func(s *S) *time.Duration { return &s.Workload.Duration })
	o.add("duration", func(s *S) error { return positive("duration", s.Workload.Duration) })
	o.durationField("warmup-time", "the first part of the run, recorded and checked but left out of latency, throughput, error rates and thresholds", func(s *S) *time.Duration { return &s.Workload.Warmup })
	ops := cmd.Flags().Int64("ops", 0, "total operations across clients (0: run for the duration)")
	o.add("ops", func(s *S) error {
		s.Workload.Ops = *ops
		if !o.set("duration") {
			s.Workload.Duration = 0 // an op count alone runs until the count is reached
		}
		return nil
	})
	rate := cmd.Flags().Float64("rate", 0, "open-loop arrival rate, ops/s across all clients; latency from each op's intended start (default: closed loop)")
	o.add("rate", func(s *S) error {
		if o.set("stages") {
			return fmt.Errorf("give either --rate or --stages, not both")
		}
		s.Workload.Rate, s.Workload.Stages = *rate, nil
		return positive("rate", *rate)
	})
	o.parsed("stages", `open loop at a sequence of rates, RATE:DURATION,... e.g. "1000:30s,5000:1m" (the run lasts as long as the stages)`, func(s *S, v string) error {
		st, err := scenarios.ParseStages(v)
		if err != nil {
			return err
		}
		s.Workload.Stages, s.Workload.Rate = st, 0
		if !o.set("duration") {
			s.Workload.Duration = s.Workload.StagesDuration()
		}
		return nil
	})
	o.countField("inflight", "throughput mode: each client keeps up to N writes in flight, pipelined (the mix: puts and updates only)", func(s *S) *int { return &s.Workload.Inflight })
	o.boolField("preload", "write one value to every key before the workload starts (reads find values from the start)", func(s *S) *bool { return &s.Workload.Preload })
	o.countField("keys", "number of keys", func(s *S) *int { return &s.Workload.Keys })
	o.stringField("key-dist", "key distribution: uniform or zipf", func(s *S) *string { return &s.Workload.KeyDistribution })
	o.floatField("zipf-s", "zipf exponent (> 1; larger is hotter)", func(s *S) *float64 { return &s.Workload.ZipfS })
	o.countField("value-size", "value size in bytes", func(s *S) *int { return &s.Workload.ValueSize })
	o.parsed("mix", "op weights, e.g. put=2,update=3,create=1,get=3,delete=1,purge=0", func(s *S, v string) error {
		m, err := workload.ParseMix(v)
		if err != nil {
			return fmt.Errorf("--mix: %v", err)
		}
		s.Workload.Mix = m
		return nil
	})
	o.durationField("op-timeout", "per-operation timeout; a write that times out has an unknown outcome", func(s *S) *time.Duration { return &s.Workload.OpTimeout })
	o.boolField("shared-connection", "all clients share one connection (default: one each)", func(s *S) *bool { return &s.Workload.SharedConnection })
	watchers := cmd.Flags().Int("watchers", 0, "add N watchers of every key (latest entries, then updates), checked for order, completeness and phantoms")
	o.add("watchers", func(s *S) error {
		if *watchers < 0 {
			return fmt.Errorf("--watchers must be >= 0")
		}
		if *watchers > 0 {
			s.Workload.Watchers = append(s.Workload.Watchers, scenarios.WatcherGroup{Count: *watchers})
		}
		return nil
	})
	o.stringField("read-path", "route gets: direct (nats.go Get, any replica may answer), leader (message get via the stream leader), or both", func(s *S) *string { return &s.Workload.ReadPath })
	o.boolField("no-watcher", "no recording watcher (one consumer less on the server); resolve unknown writes from the stream after the run", func(s *S) *bool { return &s.Workload.NoWatcher })
	seed := cmd.Flags().Uint64("seed", 0, "seed of the op sequence (same seed, same ops)")
	o.add("seed", func(s *S) error { s.Workload.Seed = *seed; return nil })
	o.stringField("pattern", "a use case's loop instead of the op mix: counter, lease or sessions", func(s *S) *string { return &s.Workload.Pattern })
	o.durationField("key-ttl", "per-key TTL of every write, whole seconds (lease and sessions need one)", func(s *S) *time.Duration { return &s.Workload.KeyTTL })
	o.boolField("own-keys", "client i touches only key i (modulo the keys), like services publishing their own status", func(s *S) *bool { return &s.Workload.OwnKeys })

	o.parsed("require", "comma-separated checks that must pass (default: per replicas)", func(s *S, v string) error {
		s.Expect.Required = splitList(v)
		return nil
	})
	o.durationField("check-timeout", "budget of each linearizability check", func(s *S) *time.Duration { return &s.Expect.CheckTimeout })
	o.durationField("ttl-tolerance", "how late after its TTL a key may still be read before ttl-expiry fails (default 1s)", func(s *S) *time.Duration { return &s.Expect.TTLTolerance })
	thresholds := cmd.Flags().StringArray("threshold", nil, `limit that fails the run when crossed, e.g. "put.p99<5ms", "update.error_rate<1%", "throughput>1000" (repeatable)`)
	o.add("threshold", func(s *S) error {
		if s.Thresholds == nil {
			s.Thresholds = map[string]string{}
		}
		for _, t := range *thresholds {
			name, expr, err := reports.SplitThreshold(t)
			if err != nil {
				return err
			}
			s.Thresholds[name] = expr
		}
		return nil
	})

	o.parsed("faults", "faults to inject while the workload runs, comma-separated, one at a time at random: "+strings.Join(chaos.Kinds(), ", "), func(s *S, v string) error {
		s.Faults.Kinds = splitList(v)
		s.Faults.Plan = nil // the flag's mix replaces the scenario's faults
		return nil
	})
	o.durationField("fault-interval", "time between fault starts (default 5s)", func(s *S) *time.Duration { return &s.Faults.Interval })
	o.add("fault-interval", func(s *S) error {
		s.Faults.Start = 0 // the scenario's first fault was timed for its own interval
		return nil
	})
	o.durationField("fault-duration", "how long each fault lasts (default half the interval)", func(s *S) *time.Duration { return &s.Faults.Duration })
	o.stringField("fault-target", "nodes a fault hits: "+strings.Join(chaos.Targets, ", ")+", or names like n1,n2 (default random)", func(s *S) *string { return &s.Faults.Target })
	o.durationField("fault-start", "when the first fault starts (default: one interval in)", func(s *S) *time.Duration { return &s.Faults.Start })
	o.durationField("fault-latency", "delay a latency fault adds per route hop (default 50ms)", func(s *S) *time.Duration { return &s.Faults.Latency })
	o.durationField("fault-jitter", "random extra delay, up to this, of a latency fault", func(s *S) *time.Duration { return &s.Faults.Jitter })
	o.stringField("partition-mode", "how a partition cuts routes: reset (default) or blackhole, both ways; mute (the targets are not heard) or deaf (they do not hear), one way", func(s *S) *string { return &s.Faults.PartitionMode })
	o.intField("fault-concurrency", "how many faults may be in progress at once, on different nodes (default 1: one after the other)", func(s *S) *int { return &s.Faults.Concurrency })
	o.stringField("upgrade-bin", "rolling-restart brings each node back on this nats-server binary (upgrade validation)", func(s *S) *string { return &s.Faults.UpgradeBin })
	o.durationField("heal-timeout", "how long to wait for a healthy cluster after the last fault (default 60s)", func(s *S) *time.Duration { return &s.Faults.HealTimeout })
	return o
}

// authFlags: credentials for external servers.
func authFlags(cmd *cobra.Command, a *cluster.Auth) { prefixedAuthFlags(cmd, a, "", "") }

// controlAuthFlags: credentials on the control server of a run spread over
// workers (--control-token, ...).
func controlAuthFlags(cmd *cobra.Command, a *cluster.Auth) {
	prefixedAuthFlags(cmd, a, "control-", " on the control server")
}

func prefixedAuthFlags(cmd *cobra.Command, a *cluster.Auth, prefix, where string) {
	fl := cmd.Flags()
	fl.StringVar(&a.CredsFile, prefix+"creds", "", "NATS credentials file"+where)
	fl.StringVar(&a.User, prefix+"user", "", "NATS user"+where)
	fl.StringVar(&a.Password, prefix+"password", "", "NATS password"+where)
	fl.StringVar(&a.Token, prefix+"token", "", "NATS token"+where)
	fl.StringVar(&a.NKeySeedFile, prefix+"nkey", "", "NATS nkey seed file"+where)
	fl.StringVar(&a.TLSCA, prefix+"tlsca", "", "TLS CA certificate file"+where)
	fl.StringVar(&a.TLSCert, prefix+"tlscert", "", "TLS client certificate file"+where)
	fl.StringVar(&a.TLSKey, prefix+"tlskey", "", "TLS client key file"+where)
}

// fleetSecret is the fleet's shared secret: KVHARNESS_FLEET_SECRET, or the
// file --fleet-secret-file names (a mounted secret); never a flag's value,
// which any user of the machine sees in the process list.
func fleetSecret(file string) (string, error) {
	s := os.Getenv("KVHARNESS_FLEET_SECRET")
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usageErr("--fleet-secret-file: %v", err)
		}
		s = strings.TrimSpace(string(b))
	}
	if s == "" {
		return "", usageErr("the workers' commands are signed with the fleet's secret: set KVHARNESS_FLEET_SECRET (or --fleet-secret-file), the same for the coordinator and its workers")
	}
	secrets.Register(s)
	return s, nil
}
