package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/harness"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/reports"
)

func newCheckCmd() *cobra.Command {
	var timeout time.Duration
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "check HISTORY",
		Short: "Re-check a recorded history offline (history.jsonl or history.jsonl.zst)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_ = harness.LimitCheckMemory() // for the rest of this process: checking is all it does
			h, err := history.ReadFile(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			res := checker.Check(h, checker.Options{
				Timeout:      timeout,
				VisualizeDir: filepath.Join(filepath.Dir(args[0]), "linearizability"),
			})
			s := reports.Build(reports.Input{History: h, Result: res, Interrupted: h.End == nil || h.End.Interrupted})
			if jsonOut {
				if err := s.EncodeJSON(os.Stdout); err != nil {
					return err
				}
			} else {
				if h.End == nil {
					fmt.Fprintln(cmd.OutOrStdout(), "note: history has no end record (the run was killed); checking what it has")
				}
				if h.DamagedTail != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "note: the compressed history ends in a damaged frame (%s); checking the frames before it\n", h.DamagedTail)
				}
				s.WriteText(cmd.OutOrStdout())
			}
			return exitWith(s.ExitCode)
		},
	}
	cmd.Flags().DurationVar(&timeout, "check-timeout", 0, "budget of each linearizability check; exceeding it makes the check unknown (default: the run's own, else 2m)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the summary as JSON instead of text")
	return cmd
}

func exitWith(code int) error {
	if code == reports.ExitPass {
		return nil
	}
	return &verdictExit{code: code}
}
