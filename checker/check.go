package checker

import (
	"fmt"
	"slices"
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
	// searchOnly skips the sweep (sweepKey) so tests can compare its
	// verdicts with Porcupine's search alone.
	searchOnly bool
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
		required = DefaultRequiredFor(shapeOf(h))
		if h.End == nil || !h.End.HistoryReads {
			// A history from before History() was read (a run writes its
			// required list into its meta line, so this is an old or
			// hand-built one): not an inconclusive run.
			required = slices.DeleteFunc(required, func(c string) bool { return c == CheckHistoryMatches })
		}
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

	ttl := expiresByTTL(ops)
	linearizable := func(name string, f opsFilter) {
		if ttl {
			add(CheckResult{Name: name, Result: Skipped, Detail: "keys expire by TTL: the server's expiry markers are writes the model does not know"}, nil)
			return
		}
		lr := checkLinearizable(name, r, h.Final, f, opts)
		add(lr.CheckResult, lr.notes)
		res.Visualizations = append(res.Visualizations, lr.views...)
	}
	linearizable(CheckLinearizableWrites, opsFilter{})
	res.StaleReads = staleReads(ops)
	gets := getsByPath(ops)
	for _, path := range []string{history.PathDirect, history.PathLeader} {
		name := CheckLinearizableReads
		if path == history.PathLeader {
			name = CheckLinearizableReadsLeader
		}
		// Without gets of its path the check would only repeat the write
		// check; direct gets keep that for runs with no gets at all.
		if gets[path] == 0 && (path == history.PathLeader || gets[history.PathLeader] > 0) {
			add(CheckResult{Name: name, Result: Skipped, Detail: fmt.Sprintf("no %s gets", path)}, nil)
			continue
		}
		linearizable(name, opsFilter{includeGets: true, path: path})
		if c := &res.Checks[len(res.Checks)-1]; c.Result != Skipped {
			c.Detail += fmt.Sprintf("; %s gets: ", path) + res.StaleReads.forPath(path).String()
		}
	}

	seen := make([]history.Record, 0, len(h.Watch)+len(h.Stored)+len(h.KeyHistory))
	seen = append(append(append(seen, h.Watch...), h.Stored...), h.KeyHistory...)
	c, notes := checkRevisionsUnique(ops, seen, h.Delivered, h.Final)
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
	add(checkHistoryMatches(h, r))
	add(checkWatchOrder(h))
	add(checkWatchComplete(h))
	add(checkWatchNoPhantoms(h))
	add(checkCounterExact(h, ops))
	add(checkMutualExclusion(h))
	add(checkTTLExpiry(h, ops))

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

// expiresByTTL: some write asked for a per-message TTL.
func expiresByTTL(ops []history.Record) bool {
	for _, op := range ops {
		if op.TTL > 0 {
			return true
		}
	}
	return false
}

// getsByPath counts answered gets per read path.
func getsByPath(ops []history.Record) map[string]int {
	n := map[string]int{}
	for _, op := range ops {
		if op.Op == history.OpGet && op.Outcome == history.OK {
			n[history.PathOf(op)]++
		}
	}
	return n
}
