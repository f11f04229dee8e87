package checker

import "slices"

// Check names, as they appear in summary.json and scenario `expect` lists.
const (
	CheckLinearizableWrites = "linearizable-writes"
	CheckLinearizableReads  = "linearizable-reads"
	CheckRevisionsUnique    = "revisions-unique"
	CheckNoLostWrites       = "no-lost-writes"
)

// AllChecks lists the checks this package runs, in report order.
var AllChecks = []string{CheckLinearizableWrites, CheckLinearizableReads, CheckRevisionsUnique, CheckNoLostWrites, CheckReadsValid,
	CheckReplicasConverge, CheckBucketIntact, CheckClusterHeals}

// DefaultRequired is what a scenario requires when it says nothing: on R1
// every check but replicas-converge (one replica has nothing to converge
// with); on replicated buckets reads are reported but not required,
// because direct gets may be answered by a lagging replica.
func DefaultRequired(replicas int) []string {
	if replicas > 1 {
		return []string{CheckLinearizableWrites, CheckRevisionsUnique, CheckNoLostWrites, CheckReadsValid,
			CheckReplicasConverge, CheckBucketIntact, CheckClusterHeals}
	}
	return []string{CheckLinearizableWrites, CheckLinearizableReads, CheckRevisionsUnique, CheckNoLostWrites, CheckReadsValid,
		CheckBucketIntact, CheckClusterHeals}
}

// DefaultRequiredExternal is DefaultRequired for servers the harness did not
// start: replicas-converge is reported, not required, since their nodes may
// not all be reachable one by one (a load balancer, unadvertised servers).
func DefaultRequiredExternal(replicas int) []string {
	return slices.DeleteFunc(DefaultRequired(replicas), func(c string) bool { return c == CheckReplicasConverge })
}

// Status of one check.
type Status string

const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Unknown Status = "unknown"
	Skipped Status = "skipped"
)

// CheckResult is one row of the checks table.
type CheckResult struct {
	Name     string `json:"name"`
	Result   Status `json:"result"`
	Required bool   `json:"required"`
	Detail   string `json:"detail"`
}

// Verdict folds the required checks: any fail is a fail; otherwise any
// unknown is unknown (inconclusive is never a pass).
func Verdict(checks []CheckResult) Status {
	v := Pass
	for _, c := range checks {
		if !c.Required {
			continue
		}
		switch c.Result {
		case Fail:
			return Fail
		case Unknown, Skipped:
			v = Unknown
		}
	}
	return v
}
