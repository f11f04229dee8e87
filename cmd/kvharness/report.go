package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/harness"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/reports"
)

func newReportCmd() *cobra.Command {
	var checkMemory func() (int64, error)
	cmd := &cobra.Command{
		Use:   "report RUN_DIR",
		Short: "Re-render report.html of a results folder; a folder whose run was killed is checked first",
		Long: `Re-renders report.html from a results folder's summary.json and history.

A folder without summary.json is one whose run was killed (SIGKILL, a crash,
a CI runner gone): report then checks its history as ` + "`check`" + ` does, writes
every result file a finished run writes, removes the server stores the run
left in nodes/, prints the verdict and exits with its code.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			path, err := history.FindIn(dir)
			if err != nil {
				return usageErr("%v", err)
			}
			// Ctrl-C or SIGTERM stops reading, which removes the
			// history it cut by key into temporary files.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := reports.LoadSummary(dir)
			if errors.Is(err, fs.ErrNotExist) {
				budget, err := checkMemory()
				if err != nil {
					return err
				}
				return reportKilledRun(ctx, cmd, dir, budget)
			}
			if err != nil {
				return usageErr("%v", err)
			}
			d, err := reports.DigestFile(ctx, path)
			if ctx.Err() != nil {
				return usageErr("report interrupted; its temporary files are removed")
			}
			if err != nil {
				return usageErr("%v", err)
			}
			s.Redraw(d)
			if err := reports.WriteHTML(dir, s); err != nil {
				return usageErr("writing report.html: %v", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(dir, "report.html"))
			return nil
		},
	}
	checkMemory = checkMemoryFlag(cmd.Flags())
	return cmd
}

// reportKilledRun has harness.FinishKilledRun finish the folder of a run
// that was killed, and prints the verdict.
func reportKilledRun(ctx context.Context, cmd *cobra.Command, dir string, budget int64) error {
	out := cmd.OutOrStdout()
	s, err := harness.FinishKilledRun(ctx, dir, budget, out)
	if ctx.Err() != nil {
		return usageErr("report interrupted; its temporary files are removed")
	}
	if err != nil {
		return usageErr("%v", err)
	}
	s.WriteText(out)
	fmt.Fprintln(out, filepath.Join(dir, "report.html"))
	return exitWith(s.ExitCode)
}
