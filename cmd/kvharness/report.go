package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/reports"
)

func newReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report RUN_DIR",
		Short: "Re-render report.html of a results folder (its summary.json and history)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := reports.LoadSummary(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			path, err := history.FindIn(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			// Ctrl-C or SIGTERM stops reading, which removes the
			// history it cut by key into temporary files.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			d, err := reports.DigestFile(ctx, path)
			if ctx.Err() != nil {
				return usageErr("report interrupted; its temporary files are removed")
			}
			if err != nil {
				return usageErr("%v", err)
			}
			s.Redraw(d)
			if err := reports.WriteHTML(args[0], s); err != nil {
				return usageErr("writing report.html: %v", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(args[0], "report.html"))
			return nil
		},
	}
}
