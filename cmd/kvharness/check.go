package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/harness"
	"github.com/kvharness/kvharness/reports"
)

func newCheckCmd() *cobra.Command {
	var timeout time.Duration
	var jsonOut, allViews, quiet bool
	var progressEvery time.Duration
	var spanOps, groupRecords int
	var checkMemory func() (int64, error)
	cmd := &cobra.Command{
		Use:   "check HISTORY",
		Short: "Re-check a recorded history offline (history.jsonl or history.jsonl.zst)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			budget, err := checkMemory()
			if err != nil {
				return err
			}
			_ = harness.LimitCheckMemory(budget) // for the rest of this process: checking is all it does
			// Ctrl-C or SIGTERM stops the check, which removes the
			// history it cut by key into temporary files.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o := checker.FileOptions{
				Options:      checker.Options{Timeout: timeout, VisualizeDir: filepath.Join(filepath.Dir(args[0]), "linearizability"), AllViews: allViews},
				MemoryBudget: budget,
				SpanOps:      spanOps,
				GroupRecords: groupRecords,
			}
			printer := newProgressPrinter(cmd.ErrOrStderr(), isTerminal(os.Stderr), progressEvery)
			if !quiet {
				o.Progress = printer.checking
			}
			s, err := harness.Recheck(ctx, args[0], o)
			printer.done()
			if ctx.Err() != nil {
				return usageErr("check interrupted; its temporary files are removed")
			}
			if err != nil {
				return usageErr("%v", err)
			}
			if jsonOut {
				if err := s.EncodeJSON(cmd.OutOrStdout()); err != nil {
					return err
				}
			} else {
				s.WriteText(cmd.OutOrStdout())
			}
			return exitWith(s.ExitCode)
		},
	}
	cmd.Flags().DurationVar(&timeout, "check-timeout", 0, "budget of each linearizability check; exceeding it makes the check unknown (default: the run's own, else 2m)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the summary as JSON instead of text")
	cmd.Flags().BoolVar(&allViews, "all-views", false, allViewsHelp)
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress on stderr (shown each second on a terminal, elsewhere every --progress-interval, once a check takes that long)")
	cmd.Flags().DurationVar(&progressEvery, "progress-interval", logLineEvery, "how often a progress line goes to stderr when it is not a terminal (CI logs)")
	checkMemory = checkMemoryFlag(cmd.Flags())
	// For proofs (make findings): small spans check every key of a short
	// run in spans, -1 none.
	cmd.Flags().IntVar(&spanOps, "check-span-ops", 0, "operations per span of a long key, checked a stretch of time at a time (0: about 32k; -1: check every key whole)")
	_ = cmd.Flags().MarkHidden("check-span-ops")
	cmd.Flags().IntVar(&groupRecords, "check-group-records", 0, "the most records of a group of keys checked at once (0: 64k)")
	_ = cmd.Flags().MarkHidden("check-group-records")
	return cmd
}

// checkMemoryFlag adds --check-memory (on run and check) and returns what
// reads it: the budget in bytes, or a usage error.
func checkMemoryFlag(fl *pflag.FlagSet) func() (int64, error) {
	mib := fl.Int("check-memory", checker.DefaultMemoryBudget>>20, "MiB that checking one group of keys may take; a longer history is checked a group of keys at a time, and a key too large for it is unknown")
	return func() (int64, error) {
		if *mib <= 0 {
			return 0, usageErr("--check-memory must be positive, got %d", *mib)
		}
		return int64(*mib) << 20, nil
	}
}

const allViewsHelp = "write Porcupine views (linearizability/*.html) for checks that are only reported too, not only for required ones (on R3, stale direct reads fail linearizable-reads on most keys, as NATS allows)"

func exitWith(code int) error {
	if code == reports.ExitPass {
		return nil
	}
	return &verdictExit{code: code}
}
