// Command kvharness drives concurrent traffic against NATS JetStream KV,
// checks the recorded history and reports. This package is the CLI only:
// flags in, calls into the packages below, exit code out.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/internal/secrets"
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
	root.AddCommand(newRunCmd(), newCheckCmd(), newReportCmd(), newCompareCmd(), newABCmd(), newTrendCmd(), newCapacityCmd(), newScenariosCmd(), newServerCmd(), newHistoryCmd(), newWorkerCmd())
	return root
}

func main() {
	os.Exit(execute(os.Args[1:]))
}

// execute runs one command. Everything it prints goes through writers that
// scrub the secrets it was given (see registerArgSecrets): CI keeps stdout
// and stderr.
func execute(args []string) int {
	registerArgSecrets(args)
	stdout, stderr := secrets.NewWriter(os.Stdout), secrets.NewWriter(os.Stderr)
	defer stdout.Flush()
	defer stderr.Flush()
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
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
		fmt.Fprintf(stderr, "kvharness: %s\n", e.msg)
		return e.code
	}
	// Cobra's own errors (unknown command, bad args) are usage errors.
	fmt.Fprintf(stderr, "kvharness: %v\n", err)
	return reports.ExitUsage
}

// secretFlags take a secret as their value.
var secretFlags = map[string]bool{"--token": true, "--password": true, "--control-token": true, "--control-password": true}

// registerArgSecrets registers every secret on the command line before
// anything runs, so no message can quote one, however early it comes: the
// values of --token and --password, credentials in URLs, and the seeds in
// --nkey and --creds files.
func registerArgSecrets(args []string) {
	for i, a := range args {
		name, value, inline := strings.Cut(a, "=")
		if !inline && i+1 < len(args) {
			value = args[i+1]
		}
		switch {
		case secretFlags[name]:
			secrets.Register(value)
		case name == "--nkey" || name == "--creds" || name == "--control-nkey" || name == "--control-creds":
			secrets.RegisterSeedFile(value)
		}
		secrets.RegisterURLsIn(a)
	}
}
