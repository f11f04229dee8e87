package checker

import (
	"fmt"
	"sort"
	"time"

	"github.com/kvharness/kvharness/history"
)

// Options tune a check run.
type Options struct {
	// Timeout is the budget of each linearizability check; exceeding it
	// makes that check unknown, never pass.
	Timeout time.Duration
	// VisualizeDir, when set, receives one Porcupine HTML view per key that
	// failed a linearizability check.
	VisualizeDir string
	// Required overrides the history's own list of required checks.
	Required []string
}

// DefaultTimeout is the budget of one linearizability check.
const DefaultTimeout = 2 * time.Minute

// Result is everything the checker found.
type Result struct {
	Verdict    Status                 `json:"verdict"`
	Checks     []CheckResult          `json:"checks"`
	Resolution map[string]*Resolution `json:"resolution"`
	StaleReads StaleReads             `json:"stale_reads"`
	// Visualizations lists the Porcupine views written, relative to VisualizeDir.
	Visualizations []string `json:"visualizations,omitempty"`
	// Notes are short human explanations of violations.
	Notes []string `json:"notes,omitempty"`
}

// Check runs every check over h.
func Check(h *history.History, opts Options) *Result {
	if opts.Timeout <= 0 && h.Meta != nil && h.Meta.CheckTimeoutSec > 0 {
		opts.Timeout = time.Duration(h.Meta.CheckTimeoutSec * float64(time.Second))
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	required := opts.Required
	if required == nil && h.Meta != nil {
		required = h.Meta.Required
	}
	if required == nil {
		replicas := 1
		if h.Meta != nil {
			replicas = h.Meta.Replicas
		}
		required = DefaultRequired(replicas)
	}
	isRequired := map[string]bool{}
	for _, r := range required {
		isRequired[r] = true
	}

	r := resolve(h)
	ops := r.ops
	res := &Result{Resolution: r.counts}

	add := func(c CheckResult, notes []string) {
		c.Required = isRequired[c.Name]
		res.Checks = append(res.Checks, c)
		res.Notes = append(res.Notes, notes...)
	}

	writes := checkLinearizable(CheckLinearizableWrites, r, h.Final, opsFilter{}, opts)
	add(writes.CheckResult, writes.notes)
	res.Visualizations = append(res.Visualizations, writes.views...)

	reads := checkLinearizable(CheckLinearizableReads, r, h.Final, opsFilter{includeGets: true}, opts)
	res.StaleReads = staleReads(ops)
	reads.Detail += "; " + res.StaleReads.String()
	add(reads.CheckResult, reads.notes)
	res.Visualizations = append(res.Visualizations, reads.views...)

	c, notes := checkRevisionsUnique(ops, append(h.Watch[:len(h.Watch):len(h.Watch)], h.Stored...), h.Final)
	add(c, notes)
	c, notes = checkNoLostWrites(ops, h)
	add(c, notes)
	c, notes = checkReadsValid(ops, h.Final, h.Replicas)
	add(c, notes)
	c, notes = checkReplicasConverge(h)
	add(c, notes)
	c, notes = checkBucketIntact(h)
	add(c, notes)
	add(checkClusterHeals(h), nil)

	res.Verdict = Verdict(res.Checks)
	sort.Strings(res.Visualizations)
	return res
}

// ResolutionLine summarizes unknown outcomes for humans.
func (r *Result) ResolutionLine() string {
	var happened, not, still int
	for _, c := range r.Resolution {
		happened += c.Happened
		not += c.NotHappened
		still += c.StillUnknown
	}
	return fmt.Sprintf("unknown writes resolved: %d happened, %d did not happen, %d still unknown", happened, not, still)
}
