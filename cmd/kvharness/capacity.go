package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/capacity"
	"github.com/kvharness/kvharness/harness"
	"github.com/kvharness/kvharness/reports"
)

// capacity: scenario + SLO → open-loop steps → the highest rate meeting it.
func newCapacityCmd() *cobra.Command {
	cfg := capacity.DefaultConfig
	var opts harness.Options
	var slo string
	var precision float64
	var quiet bool
	cmd := &cobra.Command{
		Use:   "capacity [SCENARIO] --slo TERMS",
		Short: "Find the highest arrival rate that meets an SLO: open-loop steps ramped up, bisected, the boundary repeated",
		Long: `Runs SCENARIO (a file or built-in name; default: default) as a sequence of open-loop steps
(latency from each op's intended start), each --step long with its first --step-warmup left out
of the figures, every step checked for correctness as any run is. A closed-loop step first gives
the maximum a closed loop reaches (what nats bench prints) and the first rate, an eighth of it;
then the rate doubles until the SLO breaks, is bisected between the last rate that met it and the
first that broke it until they are within --precision, and both boundary rates are run --repeats
times. The answer is the highest rate that met the SLO in every one of its runs.

The SLO is comma-separated terms in the thresholds' grammar: put.p99<5ms, update.p99<10ms,
error_rate<0.1% (every op together), get.error_rate<1%, throughput>1000. The scenario's own
thresholds count as terms too; its faults run in every step (the capacity while a node is down).

Writes capacity.json, capacity.html (latency against offered rate, the answer marked), junit.xml
and each step's results folder. Exit codes: 0 a rate meeting the SLO was found, 1 none was (even
the lowest rate broke it) or a required check failed, 2 bad usage, 3 inconclusive (a step could
not run, the step budget ran out), 4 interrupted.`,
		Args: cobra.MaximumNArgs(1),
	}
	ov := scenarioFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&slo, "slo", "", `the terms every step must meet, e.g. "put.p99<5ms,update.p99<10ms,error_rate<0.1%"`)
	fl.DurationVar(&cfg.Step, "step", cfg.Step, "how long each step runs, its warm-up included")
	fl.DurationVar(&cfg.Warmup, "step-warmup", cfg.Warmup, "the first part of each step, checked but left out of its figures")
	fl.Float64Var(&cfg.Start, "start-rate", 0, "the first open-loop rate, ops/s (default: an eighth of the closed-loop maximum)")
	fl.Float64Var(&cfg.Growth, "growth", cfg.Growth, "factor between the ramp's rates")
	fl.Float64Var(&precision, "precision", 100*cfg.Precision, "bisect until the rate that broke the SLO is within this many percent of the one that met it")
	fl.IntVar(&cfg.Repeats, "repeats", cfg.Repeats, "runs of each boundary rate in all")
	fl.IntVar(&cfg.MaxSteps, "max-steps", cfg.MaxSteps, "the most steps the search may take")
	fl.BoolVar(&cfg.NoClosedLoop, "no-closed-loop", false, "skip the closed-loop step (then --start-rate is needed)")
	fl.StringVar(&cfg.Dir, "out", "", "results folder, empty or new (default: results/<time>-capacity-<scenario>); each step's folder goes inside")
	fl.BoolVar(&quiet, "quiet", false, "no line per step")
	authFlags(cmd, &opts.Auth)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		for _, f := range []string{"rate", "stages", "duration", "ops", "warmup-time"} {
			if fl.Changed(f) {
				return usageErr("--%s: capacity sets each step's rate and length (--step, --step-warmup, --start-rate)", f)
			}
		}
		cfg.Precision = precision / 100
		switch {
		case strings.TrimSpace(slo) == "":
			return usageErr(`--slo is required, e.g. --slo "put.p99<5ms,error_rate<0.1%%"`)
		case cfg.Step <= 0 || cfg.Warmup < 0 || cfg.Warmup >= cfg.Step:
			return usageErr("--step must be positive and longer than --step-warmup, got %s and %s", cfg.Step, cfg.Warmup)
		case cfg.Growth <= 1:
			return usageErr("--growth must be above 1, got %g", cfg.Growth)
		case cfg.Precision <= 0 || cfg.Precision >= 1:
			return usageErr("--precision must be between 0 and 100 (percent), got %g", precision)
		case cfg.Repeats < 1 || cfg.MaxSteps < 1:
			return usageErr("--repeats and --max-steps must be at least 1")
		case cfg.Start < 0:
			return usageErr("--start-rate must be positive")
		case cfg.NoClosedLoop && cfg.Start == 0:
			return usageErr("--no-closed-loop needs --start-rate")
		}
		sc, err := ov.load(args)
		if err != nil {
			return usageErr("%v", err)
		}
		if cfg.SLO, err = reports.ParseSLO(slo); err != nil {
			return usageErr("--slo: %v", err)
		} else if len(cfg.SLO) == 0 {
			return usageErr(`--slo has no term, e.g. --slo "put.p99<5ms"`)
		}
		// The scenario's own thresholds are terms too.
		own, err := reports.ParsedThresholds(sc.Thresholds)
		if err != nil {
			return usageErr("%v", err)
		}
		cfg.SLO = append(cfg.SLO, own...)
		// Checked once here (paths, settings) rather than at the first step.
		probe := *sc
		probe.Workload.Duration, probe.Workload.Warmup, probe.Workload.Rate, probe.Workload.Stages, probe.Workload.Ops = cfg.Step, cfg.Warmup, 1, nil, 0
		if _, err := probe.Complete(); err != nil {
			return usageErr("%v", err)
		}
		dir, _, err := harness.Options{OutDir: cfg.Dir}.ResultsDir("capacity-" + sc.Name)
		if err != nil {
			return usageErr("%v", err)
		}
		cfg.Dir = dir
		out := cmd.OutOrStdout()
		if !quiet {
			cfg.Progress = func(line string) { fmt.Fprintln(cmd.ErrOrStderr(), "capacity: "+line) }
		}
		fmt.Fprintf(out, "kvharness capacity: %s, SLO %s, results in %s\n", sc.Name, slo, dir)

		// The first SIGINT/SIGTERM ends the step in progress and the
		// search; what was found is reported.
		ctx, stopSignals := untilInterrupted()
		defer stopSignals()
		rep := capacity.Search(ctx, sc, opts, cfg)
		rep.WriteText(out)
		for _, write := range []func(string) error{rep.WriteJSON, rep.WriteJUnit, rep.WriteHTML} {
			if err := write(dir); err != nil {
				return usageErr("writing the results: %v", err)
			}
		}
		fmt.Fprintf(out, "results: %s (capacity.html)\n", dir)
		return exitWith(rep.ExitCode)
	}
	return cmd
}
