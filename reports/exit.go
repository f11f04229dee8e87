package reports

import "github.com/kvharness/kvharness/checker"

// Exit codes of every verb (docs/DESIGN.md, README): what CI reads.
const (
	ExitPass         = 0 // every required check passed and every threshold held
	ExitFail         = 1 // a required check failed, a threshold was crossed, or compare found a regression
	ExitUsage        = 2 // bad usage, scenario or connection, or the run could not be carried out
	ExitInconclusive = 3 // a required check could not be decided (checker budget, killed run)
)

// ExitCode maps a verdict to the process exit code.
func ExitCode(v checker.Status) int {
	switch v {
	case checker.Pass:
		return ExitPass
	case checker.Fail:
		return ExitFail
	default:
		return ExitInconclusive
	}
}
