package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/harness"
	"github.com/kvharness/kvharness/reports"
)

// trend: many runs of one scenario → figures in date order, shifts flagged.
func newTrendCmd() *cobra.Command {
	rules := reports.DefaultTrendRules
	var out string
	var minEffect float64
	var allowDifferent bool
	cmd := &cobra.Command{
		Use:   "trend DIR...",
		Short: "Many runs of one scenario (nightly jobs) in date order, with the runs where the figures shifted flagged",
		Long: `Each DIR is a results folder or a folder of them. The runs are ordered by when they started;
trend.json and trend.html give each run's throughput, per-op p50/p99/p99.9 and error rates and
its verdict. At each run the --recent runs ending there are compared with the --window runs before
them, with the statistics of kvharness ab (throughput, each op's p99 and error rate judged, the
p-values adjusted for their number by Holm's method): a slow creep that no single night shows is
flagged, one bad night among good ones is not. Exit 1 when the latest runs shifted for the worse or
the latest run failed, 3 with fewer runs than --window + --recent or when so many figures vary that
--recent runs could not show a shift however far apart (raise --recent), 0 otherwise.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case rules.Recent < 1 || rules.Window < 1:
				return usageErr("--recent and --window must be at least 1")
			case rules.Samples.Alpha <= 0 || rules.Samples.Alpha >= 1:
				return usageErr("--alpha must be between 0 and 1, got %g", rules.Samples.Alpha)
			}
			rules.Samples.MinEffect = minEffect / 100
			var runs []*reports.Summary
			var dirs []string
			for _, a := range args {
				rs, ds, err := reports.LoadRuns(a)
				if err != nil {
					return usageErr("%v", err)
				}
				runs, dirs = append(runs, rs...), append(dirs, ds...)
			}
			for i := 1; i < len(runs) && !allowDifferent; i++ {
				if diff := reports.Differences(runs[0], runs[i]); len(diff) > 0 {
					return usageErr("%s and %s ran different things (%s): a trend is one scenario's runs; --allow-different keeps them together anyway",
						dirs[0], dirs[i], strings.Join(diff, "; "))
				}
			}
			t := reports.BuildTrend(runs, dirs, rules)
			dir, _, err := harness.Options{OutDir: out}.ResultsDir("trend-" + t.Scenario)
			if err != nil {
				return usageErr("%v", err)
			}
			t.WriteText(cmd.OutOrStdout())
			for _, write := range []func(string) error{t.WriteJSON, t.WriteHTML} {
				if err := write(dir); err != nil {
					return usageErr("writing the trend: %v", err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "results: %s (trend.html)\n", dir)
			return exitWith(t.ExitCode)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&rules.Recent, "recent", rules.Recent, "the latest runs judged together against the window before them")
	fl.IntVar(&rules.Window, "window", rules.Window, "runs before the recent ones that make the reference")
	fl.Float64Var(&rules.Samples.Alpha, "alpha", rules.Samples.Alpha, "significance level of the U test")
	fl.Float64Var(&minEffect, "min-effect", 100*rules.Samples.MinEffect, "smallest shift, in percent of the reference's median, worth flagging")
	fl.BoolVar(&allowDifferent, "allow-different", false, "keep runs of different scenarios, targets or workloads in one trend")
	fl.StringVar(&out, "out", "", "folder for trend.json and trend.html, empty or new (default: results/<time>-trend-<scenario>)")
	return cmd
}
