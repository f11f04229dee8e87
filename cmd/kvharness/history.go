package main

import (
	"bufio"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/history"
)

// history: tools for history files.
func newHistoryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Work with history files (plain history.jsonl or compressed history.jsonl.zst)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "cat HISTORY",
		Short: "Print a history as JSONL, decompressed if it is compressed (for jq, grep and people)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := history.OpenFile(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			defer r.Close()
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20)
			if _, err := io.Copy(out, r); err != nil {
				return usageErr("%s: %v", args[0], err)
			}
			if err := out.Flush(); err != nil {
				return usageErr("writing: %v", err)
			}
			if d := r.Damaged(); d != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "kvharness: %s ends in a damaged frame (a killed writer?): %s; printed what came before it\n", args[0], d)
			}
			return nil
		},
	})
	return cmd
}
