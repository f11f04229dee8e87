package reports

import "github.com/kvharness/kvharness/checker"

// Exit codes of every verb (docs/DESIGN.md, README): what CI reads.
const (
	ExitPass         = 0 // every required check passed and every threshold held
	ExitFail         = 1 // a required check failed, a threshold was crossed, or compare found a regression
	ExitUsage        = 2 // bad usage, scenario or connection, or the run could not be carried out
	ExitInconclusive = 3 // a required check could not be decided (checker budget, killed run)
	// ExitInterrupted: the run was cut short (SIGINT/SIGTERM, or killed:
	// its history has no end) and what it recorded showed no failure. A CI
	// job stopped by its own timeout must not read as a pass; a distinct
	// code (as k6's for an aborted test) tells it from a checker timeout.
	ExitInterrupted = 4
)

// ExitCode maps a verdict to the process exit code. A failure stands even
// in a run cut short: what was recorded is proof enough.
func ExitCode(v checker.Status, interrupted bool) int {
	switch {
	case v == checker.Fail:
		return ExitFail
	case interrupted:
		return ExitInterrupted
	case v == checker.Pass:
		return ExitPass
	default:
		return ExitInconclusive
	}
}
