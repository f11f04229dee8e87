package checker

import (
	"slices"

	"github.com/kvharness/kvharness/history"
)

// Check names, as they appear in summary.json and scenario `expect` lists.
const (
	CheckLinearizableWrites = "linearizable-writes"
	CheckLinearizableReads  = "linearizable-reads"
	CheckRevisionsUnique    = "revisions-unique"
	CheckNoLostWrites       = "no-lost-writes"
	// CheckLinearizableReadsLeader: linearizable-reads for the gets routed
	// to the stream leader (read path "leader") rather than direct gets.
	CheckLinearizableReadsLeader = "linearizable-reads-leader"
)

// coreChecks apply to every run.
var coreChecks = []string{CheckLinearizableWrites, CheckLinearizableReads, CheckRevisionsUnique, CheckRevisionOrder, CheckNoLostWrites, CheckReadsValid, CheckMonotonicReads, CheckReadYourWrites,
	CheckRefusalsDefinite, CheckReplicasConverge, CheckBucketIntact, CheckClusterHeals}

// AllChecks lists the checks this package runs, in report order: the core
// ones, then those of read paths, watchers, History() and the use-case
// patterns, which are skipped where they do not apply.
var AllChecks = append(append(slices.Clone(coreChecks), CheckLinearizableReadsLeader, CheckHistoryMatches), append(WatchChecks,
	CheckCounterExact, CheckMutualExclusion, CheckTTLExpiry)...)

// DefaultRequired is what a scenario requires when it says nothing: on R1
// every check but replicas-converge (one replica has nothing to converge
// with); on replicated buckets reads are reported but not required,
// because direct gets may be answered by a lagging replica.
func DefaultRequired(replicas int) []string {
	if replicas > 1 {
		return []string{CheckLinearizableWrites, CheckRevisionsUnique, CheckRevisionOrder, CheckNoLostWrites, CheckReadsValid, CheckRefusalsDefinite,
			CheckReplicasConverge, CheckBucketIntact, CheckClusterHeals}
	}
	return []string{CheckLinearizableWrites, CheckLinearizableReads, CheckRevisionsUnique, CheckRevisionOrder, CheckNoLostWrites, CheckReadsValid,
		CheckMonotonicReads, CheckReadYourWrites, CheckRefusalsDefinite, CheckBucketIntact, CheckClusterHeals}
}

// Shape is what a run's default required checks depend on.
type Shape struct {
	Replicas int
	External bool   // servers the harness did not start
	Watchers bool   // the scenario has watchers
	Pattern  string // history.Meta.Pattern
	TTL      bool   // writes carry per-key TTLs
	// LeaderReads: gets are routed to the stream leader (some or all);
	// NoDirectReads: all of them.
	LeaderReads, NoDirectReads bool
}

// DefaultRequiredFor is what a scenario requires when it says nothing:
// DefaultRequired (or DefaultRequiredExternal) and History() matching the
// writes, plus the watch checks when it has watchers and its pattern's own
// check. With per-key TTLs, ttl-expiry instead of the linearizability
// checks, which are skipped: the server's expiry removes messages and
// writes markers no client made, which the model does not know.
func DefaultRequiredFor(s Shape) []string {
	req := DefaultRequired(s.Replicas)
	if s.External {
		req = DefaultRequiredExternal(s.Replicas)
	}
	req = append(req, CheckHistoryMatches)
	if s.LeaderReads && s.Replicas <= 1 {
		req = append(req, CheckLinearizableReadsLeader) // as direct reads are on R1
	}
	if s.NoDirectReads {
		req = slices.DeleteFunc(req, func(c string) bool { return c == CheckLinearizableReads })
	}
	if s.Watchers {
		req = append(req, WatchChecks...)
	}
	if s.TTL {
		req = slices.DeleteFunc(req, func(c string) bool {
			return c == CheckLinearizableWrites || c == CheckLinearizableReads || c == CheckLinearizableReadsLeader
		})
		req = append(req, CheckTTLExpiry)
	}
	switch s.Pattern {
	case history.PatternCounter:
		req = append(req, CheckCounterExact)
	case history.PatternLease:
		req = append(req, CheckMutualExclusion)
	}
	return req
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

// shapeOf reads a run's Shape from its history, for one whose meta line
// names no required checks.
func shapeOf(h *history.History, f *facts) Shape {
	s := Shape{Replicas: 1}
	if m := h.Meta; m != nil {
		s = Shape{Replicas: m.Replicas, External: m.Mode == "external", Watchers: len(m.Watchers) > 0, Pattern: m.Pattern}
	}
	s.TTL = f.anyTTL()
	gets := f.gets
	s.LeaderReads, s.NoDirectReads = gets[history.PathLeader] > 0, gets[history.PathLeader] > 0 && gets[history.PathDirect] == 0
	return s
}
