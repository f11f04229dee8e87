// Command kvharness drives concurrent traffic against NATS JetStream KV,
// checks the recorded history and reports. This package is the CLI only:
// flags in, calls into the packages below, exit code out.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/reports"
)

// exitError carries an exit code and one line for stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &exitError{code: reports.ExitUsage, msg: fmt.Sprintf(format, args...)}
}

// verdictExit ends a command whose output is already printed with a code.
type verdictExit struct{ code int }

func (v *verdictExit) Error() string { return fmt.Sprintf("exit %d", v.code) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "kvharness",
		Short:         "Load and linearizability harness for NATS JetStream Key-Value stores",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	root.AddCommand(newRunCmd(), newCheckCmd(), newReportCmd(), newCompareCmd(), newABCmd(), newTrendCmd(), newCapacityCmd(), newScenariosCmd(), newServerCmd(), newHistoryCmd())
	return root
}

func main() {
	os.Exit(execute(os.Args[1:]))
}

func execute(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return reports.ExitPass
	}
	var v *verdictExit
	if errors.As(err, &v) {
		return v.code
	}
	var e *exitError
	if errors.As(err, &e) {
		fmt.Fprintf(os.Stderr, "kvharness: %s\n", e.msg)
		return e.code
	}
	// Cobra's own errors (unknown command, bad args) are usage errors.
	fmt.Fprintf(os.Stderr, "kvharness: %v\n", err)
	return reports.ExitUsage
}
