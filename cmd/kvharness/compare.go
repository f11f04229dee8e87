package main

import (
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/reports"
)

func newCompareCmd() *cobra.Command {
	rules := reports.DefaultCompareRules
	var out string
	var allowDifferent bool
	var p99, drop, minDeltaMS float64
	cmd := &cobra.Command{
		Use:   "compare BASE CAND",
		Short: "Compare two results folders; exit 1 on a regression of the candidate",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, err := reports.LoadSummary(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			cand, err := reports.LoadSummary(args[1])
			if err != nil {
				return usageErr("%v", err)
			}
			if diff := reports.Differences(base, cand); len(diff) > 0 && !allowDifferent {
				return usageErr("%s and %s ran different things (%s): their figures do not compare; --allow-different compares them anyway",
					args[0], args[1], strings.Join(diff, "; "))
			}
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
	cmd.Flags().StringVar(&out, "out", "", "where to write compare.html (default: CAND/compare.html)")
	return cmd
}
