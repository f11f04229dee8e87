package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/ab"
	"github.com/kvharness/kvharness/harness"
	"github.com/kvharness/kvharness/reports"
)

// ab: two sides → rounds in ABBA order → statistics → verdict and exit code.
func newABCmd() *cobra.Command {
	var cfg ab.Config
	rules := reports.DefaultSampleRules
	var opts harness.Options
	var baseBin, candBin, baseServer, candServer string
	var minEffect, confidence float64
	var quiet bool
	cmd := &cobra.Command{
		Use:   "ab [BASE] [CAND]",
		Short: "Decide whether a candidate is worse than a base: both run alternately for several rounds, compared with benchstat's statistics",
		Long: `Runs BASE and CAND (scenario files or built-in names; CAND defaults to BASE) alternately,
--rounds rounds in ABBA order after --warmup discarded rounds, each run checked as any run is.
The sides differ by their scenarios and by --base-bin/--cand-bin (two nats-server releases:
the upgrade question) or --base-server/--cand-server (two external clusters); every other flag
applies to both. For throughput and each op's p50, p99, p99.9 and error rate it gives each
side's median with its confidence interval, the difference, the Mann–Whitney U test's p-value
and a verdict: slower, faster, no significant difference, or not enough rounds. A required
check that fails on the candidate in some round and on the base in none, or that passed in
every base run and was undecided (unknown) in a candidate run, is a regression whatever the
figures say. A run cut short (Ctrl-C) does not count; a second Ctrl-C kills the session.

Exit codes: 0 no regression, 1 regression, 2 bad usage or a side that cannot run,
3 inconclusive (not enough rounds, a round that could not run), 4 interrupted.`,
		Args: cobra.MaximumNArgs(2),
	}
	ov := scenarioFlags(cmd)
	fl := cmd.Flags()
	fl.IntVar(&cfg.Rounds, "rounds", 6, "rounds counted, each one run of each side (with some twenty figures tested at 5%, at least 6; about 14 find a 20% difference on a noisy machine)")
	fl.IntVar(&cfg.Warmup, "warmup", 1, "rounds run first and discarded (servers, caches and the machine settle)")
	fl.StringVar(&baseBin, "base-bin", "", "the base's nodes run this nats-server binary (spawned)")
	fl.StringVar(&candBin, "cand-bin", "", "the candidate's nodes run this nats-server binary (spawned)")
	fl.StringVar(&baseServer, "base-server", "", "the base runs against these external servers (comma-separated URLs)")
	fl.StringVar(&candServer, "cand-server", "", "the candidate runs against these external servers (comma-separated URLs)")
	fl.Float64Var(&rules.Alpha, "alpha", rules.Alpha, "significance level of the U test")
	fl.Float64Var(&minEffect, "min-effect", 100*rules.MinEffect, "smallest difference, in percent of the base's median, worth calling slower or faster")
	fl.Float64Var(&confidence, "confidence", 100*rules.Confidence, "confidence of the intervals of the median, in percent")
	fl.StringVar(&cfg.Dir, "out", "", "results folder, empty or new (default: results/<time>-ab-<scenario>); each run's folder goes inside")
	fl.BoolVar(&quiet, "quiet", false, "no line per run")
	authFlags(cmd, &opts.Auth)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		names := append(args, "default", "default")[:2]
		if len(args) == 1 {
			names[1] = args[0]
		}
		switch {
		case cfg.Rounds < 1:
			return usageErr("--rounds must be at least 1")
		case cfg.Warmup < 0:
			return usageErr("--warmup must be 0 or more")
		case rules.Alpha <= 0 || rules.Alpha >= 1:
			return usageErr("--alpha must be between 0 and 1, got %g", rules.Alpha)
		case minEffect < 0:
			return usageErr("--min-effect must be 0 or more")
		case confidence <= 0 || confidence >= 100:
			return usageErr("--confidence must be between 0 and 100, got %g", confidence)
		}
		rules.MinEffect, rules.Confidence = minEffect/100, confidence/100
		side := func(name, label, bin, servers string) (ab.Side, error) {
			sc, err := ov.load([]string{name})
			if err != nil {
				return ab.Side{}, err
			}
			switch {
			case bin != "" && servers != "":
				return ab.Side{}, fmt.Errorf("--%s-bin and --%s-server: give one", label, label)
			case bin != "":
				sc.Target.ServerBin, sc.Target.Servers = bin, nil
			case servers != "":
				sc.Target.Servers, sc.Target.ServerBin = splitList(servers), ""
				sc.Target.Nodes = 0
			}
			// Every path and setting checked before the first round
			// starts, not when the candidate's first run does.
			if _, err := sc.Complete(); err != nil {
				return ab.Side{}, err
			}
			return ab.Side{Name: label, Scenario: sc, Options: opts}, nil
		}
		base, err := side(names[0], "base", baseBin, baseServer)
		if err != nil {
			return usageErr("base: %v", err)
		}
		cand, err := side(names[1], "cand", candBin, candServer)
		if err != nil {
			return usageErr("cand: %v", err)
		}
		dir, _, err := harness.Options{OutDir: cfg.Dir}.ResultsDir("ab-" + base.Scenario.Name)
		if err != nil {
			return usageErr("%v", err)
		}
		cfg.Dir = dir
		out := cmd.OutOrStdout()
		if !quiet {
			cfg.Progress = func(line string) { fmt.Fprintln(cmd.ErrOrStderr(), "ab: "+line) }
		}
		fmt.Fprintf(out, "kvharness ab: %d rounds (+%d warm-up) of %s vs %s, results in %s\n", cfg.Rounds, cfg.Warmup, names[0], names[1], dir)

		// The first SIGINT/SIGTERM ends the run in progress and the
		// session; what was done is decided on.
		ctx, stopSignals := untilInterrupted()
		defer stopSignals()
		runs, interrupted := ab.Rounds(ctx, base, cand, cfg)
		report := ab.Decide(base, cand, runs, interrupted, cfg, rules)
		report.WriteText(out)
		for _, write := range []func(string) error{report.WriteJSON, report.WriteJUnit, report.WriteHTML} {
			if err := write(dir); err != nil {
				return usageErr("writing the results: %v", err)
			}
		}
		fmt.Fprintf(out, "results: %s (ab.html)\n", filepath.Join(dir))
		return exitWith(report.ExitCode)
	}
	return cmd
}
