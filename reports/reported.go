package reports

import (
	"slices"
	"strings"

	"github.com/kvharness/kvharness/checker"
)

// A check that fails but is only reported does not change the verdict; a
// reader who sees it red under a green PASS needs to know why it may fail
// and why that is allowed, in one line, not a screen of notes.

// applicableChecks splits the checks: those that apply to the run, and the
// names of those that do not (skipped and not required), which readers
// see on one line.
func (s *Summary) applicableChecks() (applicable []checker.CheckResult, notApplicable []string) {
	for _, c := range s.Checks {
		if c.Result == checker.Skipped && !c.Required {
			notApplicable = append(notApplicable, c.Name)
		} else {
			applicable = append(applicable, c)
		}
	}
	return applicable, notApplicable
}

// reportedFailure is a failed check the verdict does not count, its notes
// folded into one line.
type reportedFailure struct {
	Name  string
	Why   string
	Notes int
}

// reportedFailures lists the failing checks that are only reported, and
// how many of the summary's notes belong to each.
func (s *Summary) reportedFailures() []reportedFailure {
	var out []reportedFailure
	for _, c := range s.Checks {
		if c.Required || c.Result != checker.Fail {
			continue
		}
		f := reportedFailure{Name: c.Name, Why: s.whyReported(c.Name)}
		for _, n := range s.Notes {
			if ownNote(n, c.Name) {
				f.Notes++
			}
		}
		out = append(out, f)
	}
	return out
}

// ownNote: the note is one of the named check's (checks prefix their notes
// with their name).
func ownNote(note, check string) bool { return strings.HasPrefix(note, check+": ") }

// splitNotes parts the summary's notes: those of the failing checks that
// are only reported (folded away, each check's in one line of its own),
// and the others.
func (s *Summary) splitNotes(reported []reportedFailure) (others, folded []string) {
	for _, n := range s.Notes {
		if slices.ContainsFunc(reported, func(f reportedFailure) bool { return ownNote(n, f.Name) }) {
			folded = append(folded, n)
		} else {
			others = append(others, n)
		}
	}
	return others, folded
}

// whyReported says why a check may fail without failing the run.
func (s *Summary) whyReported(name string) string {
	switch {
	case name == checker.CheckLinearizableReads && s.Target.Replicas > 1:
		return "direct gets may be answered by a replica that is behind the leader; NATS allows such stale reads on replicated buckets (linearizable-reads-leader holds reads through the leader to it; see stale reads)"
	case name == checker.CheckReplicasConverge && s.Target.Mode == "external":
		return "the nodes of external servers may not all be reachable one by one"
	case (name == checker.CheckLinearizableWrites || name == checker.CheckLinearizableReads || name == checker.CheckLinearizableReadsLeader) &&
		s.Workload != nil && s.Workload.KeyTTLMs > 0:
		return "values with a TTL are removed by the server on its own schedule, which the model does not know; ttl-expiry checks them"
	}
	return "the scenario does not require it"
}
