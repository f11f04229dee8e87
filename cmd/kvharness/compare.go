package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/reports"
)

func newCompareCmd() *cobra.Command {
	rules := reports.DefaultCompareRules
	var out string
	var allowDifferent bool
	var p99, drop, minDeltaMS, minEffect float64
	samples := reports.DefaultSampleRules
	cmd := &cobra.Command{
		Use:   "compare BASE CAND",
		Short: "Compare two results folders (or two folders of several runs each, with significance); exit 1 on a regression of the candidate",
		Long: `BASE and CAND are results folders, or folders of results folders (several runs of each side,
for example nightly runs, or the round-NN-<side> folders of an ab session moved apart).

One run a side: the figures side by side, a regression at fixed tolerances (--max-p99-increase,
--max-throughput-drop) — one run against one run has no estimate of significance, so short runs on
a busy machine differ by more than any tolerance; say so with several runs, or use kvharness ab.
Several runs a side: each side's median with its interval, the Mann–Whitney U test and a verdict per
metric, as kvharness ab decides (--alpha, --min-effect).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if samples.Alpha <= 0 || samples.Alpha >= 1 {
				return usageErr("--alpha must be between 0 and 1, got %g", samples.Alpha)
			}
			bases, _, err := reports.LoadRuns(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			cands, _, err := reports.LoadRuns(args[1])
			if err != nil {
				return usageErr("%v", err)
			}
			base, cand := bases[0], cands[0]
			if diff := reports.Differences(base, cand); len(diff) > 0 && !allowDifferent {
				return usageErr("%s and %s ran different things (%s): their figures do not compare; --allow-different compares them anyway",
					args[0], args[1], strings.Join(diff, "; "))
			}
			if len(bases) > 1 || len(cands) > 1 {
				samples.MinEffect = minEffect / 100
				r := reports.CompareFolders(bases, cands, args[0], args[1], samples)
				r.WriteText(cmd.OutOrStdout())
				dir := out
				if dir == "" {
					dir = args[1]
				}
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return usageErr("%v", err)
				}
				for _, write := range []func(string) error{r.WriteJSON, r.WriteHTML} {
					if err := write(dir); err != nil {
						return usageErr("writing the comparison: %v", err)
					}
				}
				return exitWith(r.ExitCode)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "one run a side: the differences below have no estimate of significance (give folders of several runs, or use kvharness ab)")
			rules.MaxP99Increase, rules.MaxThroughputDrop, rules.MinP99DeltaUS = p99/100, drop/100, minDeltaMS*1000
			c := reports.Compare(args[0], args[1], base, cand, rules)
			c.WriteText(cmd.OutOrStdout())
			if out == "" {
				out = filepath.Join(args[1], "compare.html")
			}
			if err := c.WriteHTML(out); err != nil {
				return usageErr("writing %s: %v", out, err)
			}
			if len(c.Regressions) > 0 {
				return exitWith(reports.ExitFail)
			}
			return nil
		},
	}
	cmd.Flags().Float64Var(&p99, "max-p99-increase", 100*rules.MaxP99Increase, "percent an op's p99 may grow")
	cmd.Flags().Float64Var(&minDeltaMS, "min-p99-delta-ms", rules.MinP99DeltaUS/1000, "p99 growth below this many ms is noise, never a regression")
	cmd.Flags().Float64Var(&drop, "max-throughput-drop", 100*rules.MaxThroughputDrop, "percent throughput may fall")
	cmd.Flags().BoolVar(&allowDifferent, "allow-different", false, "compare runs of different scenarios, targets, buckets or workloads (the differences are printed); the server version and the faults may always differ")
	cmd.Flags().StringVar(&out, "out", "", "where to write compare.html (default: CAND/compare.html); with several runs a side, the folder for ab.json and ab.html (default: CAND)")
	cmd.Flags().Float64Var(&samples.Alpha, "alpha", samples.Alpha, "several runs a side: significance level of the U test")
	cmd.Flags().Float64Var(&minEffect, "min-effect", 100*samples.MinEffect, "several runs a side: smallest difference, in percent of the base's median, worth calling")
	return cmd
}
