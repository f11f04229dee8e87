package checker

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kvharness/kvharness/history"
)

// Options tune a check run.
type Options struct {
	// Timeout is the budget of each linearizability check's searches
	// (Porcupine, on keys the sweep cannot decide; the sweep itself is
	// linear and not counted); exceeding it makes that check unknown,
	// never pass.
	Timeout time.Duration
	// VisualizeDir, when set, receives one Porcupine HTML view per key that
	// failed a required linearizability check (of every one with AllViews).
	VisualizeDir string
	// AllViews draws the keys of checks that are only reported too: on R3,
	// stale direct reads fail linearizable-reads on most keys, as NATS
	// allows, and their views took more disk than the history.
	AllViews bool
	// Required overrides the history's own list of required checks.
	Required []string
	// searchOnly skips the sweep (sweepKey) so tests can compare its
	// verdicts with Porcupine's search alone.
	searchOnly bool
	// eachAlone keeps a read check from settling the write check (see
	// linearizable.impliedBy), so tests can compare the write check's own
	// sweep and search.
	eachAlone bool
	// memoryBudget bounds a search's memory too (see searchLimit); set by
	// CheckFile, DefaultMemoryBudget otherwise.
	memoryBudget int64
}

// DefaultTimeout is the budget of one linearizability check's searches
// (Porcupine, on the keys the sweep leaves).
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
	// Groups: how many groups of keys the history was checked in, one at a
	// time: small groups check faster, and none exceeds the memory budget
	// (see CheckFile).
	Groups int `json:"groups,omitempty"`
	// SpannedKeys: keys too long to hold whole, checked a stretch of time
	// at a time, in Spans spans (see spans.go).
	SpannedKeys int `json:"spanned_keys,omitempty"`
	Spans       int `json:"spans,omitempty"`
	// LongKeysWhole: keys as long but checked whole all the same (their
	// memory grows with the run), each with why ("k0001: no sound cut").
	LongKeysWhole []string `json:"long_keys_whole,omitempty"`
}

// Check runs every check over h. The operations of a worker's clients (see
// history.Worker) are widened by its clock bound first, in h itself.
func Check(h *history.History, opts Options) *Result {
	if h.Meta != nil {
		for i := range h.Ops {
			h.Meta.WidenForClock(&h.Ops[i])
		}
	}
	f := factsOf(h)
	return checkGroups(h, &f, func(yield func(*history.History, *keySpan) error) error { return yield(h, nil) }, opts)
}

// keyGroup is some of a history's keys with everything recorded about them
// (see history.Spill), resolved, and the facts of the whole history. A
// history small enough to check at once is one group of all its keys.
type keyGroup struct {
	h *history.History
	r resolved
	f *facts
	// writes indexes the resolved writes by value, for the checks that
	// look up the write a read names (built once per group).
	writes map[string]*history.Record
	// sessions: the operations the session guarantees look at, by client,
	// key and invocation (built once per group, by sessionOrder).
	sessions []*history.Record
	// span: the group is one stretch of time of one key (see keySpan);
	// nil when it holds its keys whole.
	span *keySpan
}

// isContext: op is the write a span starts from, which an earlier span
// holds and counts (see keySpan).
func (g *keyGroup) isContext(op *history.Record) bool {
	return g.laterSpan() && op == g.span.context
}

// laterSpan: the group is a span after its key's first, which starts from
// a context and whose key an earlier span already counted.
func (g *keyGroup) laterSpan() bool {
	return g.span != nil && g.span.index > 0
}

// finals are the final reads of the group's keys: a span's History holds
// them only in the key's last span, for the checks of the bucket as the
// run left it; every span's writes are held to them.
func (g *keyGroup) finals() []history.Record {
	if g.span != nil {
		return g.span.final
	}
	return g.h.Final
}

// groupCheck is one check, fed a group of keys at a time; result is its
// verdict over every group it was given.
type groupCheck interface {
	add(g *keyGroup)
	result() (CheckResult, []string)
}

// eachGroup hands every group of keys to yield, one at a time, and stops at
// the first error; a key too long to hold whole comes as its spans, in
// time order (span not nil).
type eachGroup func(yield func(*history.History, *keySpan) error) error

// checkGroups runs every check over the groups; whole is the history's
// meta line, end and faults (with no per-key records, or all of them).
func checkGroups(whole *history.History, f *facts, groups eachGroup, opts Options) *Result {
	if opts.Timeout <= 0 && whole.Meta != nil && whole.Meta.CheckTimeoutSec > 0 {
		opts.Timeout = time.Duration(whole.Meta.CheckTimeoutSec * float64(time.Second))
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if lostWorkers(whole.Meta) != "" {
		// Nothing will be decided (see lostWorkers), and the values a lost
		// worker wrote unrecorded leave keys to the search, which would
		// spend its whole budget proving what the verdict cannot use.
		opts.Timeout = min(opts.Timeout, lostWorkerSearch)
	}
	required := opts.Required
	if required == nil && whole.Meta != nil {
		required = whole.Meta.Required
	}
	if required == nil {
		required = DefaultRequiredFor(shapeOf(whole, f))
		if whole.End == nil || !whole.End.HistoryReads {
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
	// A list written before refusals-definite was split from reads-valid
	// and the write check (a recorded history, a scenario's expect list)
	// still requires it: both failed on a refused write that was stored.
	isRequired[CheckRefusalsDefinite] = isRequired[CheckRefusalsDefinite] || isRequired[CheckReadsValid] || isRequired[CheckLinearizableWrites]
	// Likewise revision-order, split from what revisions-unique and the
	// write check assumed: required wherever they are.
	isRequired[CheckRevisionOrder] = isRequired[CheckRevisionOrder] || isRequired[CheckRevisionsUnique] || isRequired[CheckLinearizableWrites]
	// The session guarantees are implied by linearizable reads: required
	// wherever reads are held to linearizability, measured elsewhere.
	readsRequired := isRequired[CheckLinearizableReads] || isRequired[CheckLinearizableReadsLeader]
	isRequired[CheckMonotonicReads] = isRequired[CheckMonotonicReads] || readsRequired
	isRequired[CheckReadYourWrites] = isRequired[CheckReadYourWrites] || readsRequired

	draws := func(l *linearizable) *linearizable {
		l.draw = opts.VisualizeDir != "" && (opts.AllViews || isRequired[l.name])
		return l
	}
	writes := draws(newLinearizable(CheckLinearizableWrites, opsFilter{}, f, opts))
	stale := &staleTally{byPath: map[string]*staleTally{}}
	checks := []groupCheck{writes}
	for _, path := range []string{history.PathDirect, history.PathLeader} {
		name := CheckLinearizableReads
		if path == history.PathLeader {
			name = CheckLinearizableReadsLeader
		}
		reads := draws(newLinearizable(name, opsFilter{includeGets: true, path: path}, f, opts))
		// Without gets of its path the check would only repeat the write
		// check; direct gets keep that for runs with no gets at all.
		if f.gets[path] == 0 && (path == history.PathLeader || f.gets[history.PathLeader] > 0) {
			reads.skip = fmt.Sprintf("no %s gets", path)
		}
		reads.stalePath = path
		checks = append(checks, reads)
		if !opts.eachAlone {
			writes.impliedBy = append(writes.impliedBy, reads)
		}
	}
	checks = append(checks,
		&revisionsUnique{},
		&revisionOrder{},
		&noLostWrites{},
		&readsValid{},
		newSessionGuarantee(CheckMonotonicReads, false),
		newSessionGuarantee(CheckReadYourWrites, true),
		&refusalsDefinite{},
		&replicasConverge{},
		&bucketIntact{},
		&heals{},
		&historyMatches{},
		&watchOrder{},
		&watchCompleteCheck{},
		&watchNoPhantoms{},
		&counterExact{},
		&mutualExclusion{leaders: map[int]bool{}},
		&ttlExpiry{},
	)
	res := &Result{Resolution: map[string]*Resolution{}}
	err := groups(func(g *history.History, span *keySpan) error {
		kg := &keyGroup{h: g, r: resolve(g, f), f: f, span: span}
		kg.writes = writesByValue(kg.r.ops)
		for op, c := range kg.r.counts {
			res.Resolution[op] = res.Resolution[op].plus(c)
		}
		stale.add(kg.r.ops)
		addSideBySide(checks[1:], kg)
		// The write check last: a read check can settle it.
		checks[0].add(kg)
		return nil
	})
	res.StaleReads = *stale.done()
	for _, c := range checks {
		cr, notes := c.result()
		if err != nil {
			cr.Result, cr.Detail = Unknown, err.Error()
			notes = nil
		}
		if l, ok := c.(*linearizable); ok {
			res.Visualizations = append(res.Visualizations, l.views...)
			if l.stalePath != "" && cr.Result != Skipped && err == nil {
				cr.Detail += fmt.Sprintf("; %s gets: ", l.stalePath) + res.StaleReads.forPath(l.stalePath).String()
			}
		}
		if cr.Result == Pass && needsFinalPhase[cr.Name] {
			if lacks := unfinished(whole.End); lacks != "" {
				cr.Result, cr.Detail = Unknown, lacks+"; on what was recorded: "+cr.Detail
			}
		}
		if lost := lostWorkers(whole.Meta); lost != "" && (cr.Result == Pass || cr.Result == Fail) {
			cr.Detail = fmt.Sprintf("%s; on what was recorded it would %s: %s", lost, cr.Result, cr.Detail)
			cr.Result = Unknown
		}
		cr.Required = isRequired[cr.Name]
		res.Checks = append(res.Checks, cr)
		res.Notes = append(res.Notes, notes...)
	}
	res.Verdict = Verdict(res.Checks)
	sort.Strings(res.Visualizations)
	return res
}

// addSideBySide hands the group to each check, one per core: each check
// keeps its own state and only reads the group (what two share, the
// session order, is built first). A check's panic is raised again here.
func addSideBySide(checks []groupCheck, kg *keyGroup) {
	kg.sessionOrder()
	next := make(chan groupCheck)
	panics := make(chan *carriedPanic, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					panics <- &carriedPanic{value: p, stack: debug.Stack(), where: "a check of a group of keys"}
					for range next { // let the others finish
					}
				}
			}()
			for c := range next {
				c.add(kg)
			}
		})
	}
	for _, c := range checks {
		next <- c
	}
	close(next)
	wg.Wait()
	select {
	case p := <-panics:
		panic(p)
	default:
	}
}

// needsFinalPhase: the checks whose claim is about the bucket as the run
// left it, so that a pass needs the reads after the workload (the final
// reads, History(), the replicas): without them a lost write, a key that
// never expired or a watcher that stopped short looks like a pass. The
// other checks claim something of each recorded operation (every read
// names a real write, each watcher's deliveries come in order) and hold on
// what was recorded.
var needsFinalPhase = map[string]bool{
	CheckLinearizableWrites: true, CheckLinearizableReads: true, CheckLinearizableReadsLeader: true,
	CheckNoLostWrites: true, CheckBucketIntact: true, CheckReplicasConverge: true, CheckHistoryMatches: true,
	CheckWatchComplete: true, CheckCounterExact: true, CheckTTLExpiry: true,
}

// unfinished says what a run that did not finish lacks for the checks of
// needsFinalPhase to pass ("" when it finished): its end record, or its
// final reads. A pass there becomes unknown whatever the required list
// says: a pass claims only what the run showed.
func unfinished(end *history.End) string {
	switch {
	case end == nil:
		return "the run did not finish (no end record): the reads after the workload are missing"
	case end.Cut && end.FinalKeys < end.Keys:
		return notRecorded(end, "not every key's final read is in it")
	case !end.FinalReads && end.Interrupted:
		return "the run was cut short before the final reads of every key"
	case !end.FinalReads && !end.Cut:
		return "the final reads did not read every key"
	}
	return ""
}

// lostWorkerSearch bounds the searches of a history with a lost worker.
const lostWorkerSearch = 5 * time.Second

// lostWorkers says which of a run's workers (see history.Worker) were lost
// before they finished ("" if none). Their last records never reached the
// history: a value one of them wrote may look written by no one (a false
// failure), and an anomaly among its unrecorded ops is missed (a false
// pass), so no check can decide, either way.
func lostWorkers(m *history.Meta) string {
	if m == nil {
		return ""
	}
	var lost []string
	for _, w := range m.Workers {
		if w.Lost != "" {
			lost = append(lost, fmt.Sprintf("worker %s (%s)", w.Name, w.Lost))
		}
	}
	if len(lost) == 0 {
		return ""
	}
	return "lost " + strings.Join(lost, ", ") + " before it finished: what it did last is not in the history"
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
