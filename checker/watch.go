package checker

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/kvharness/kvharness/history"
)

// Checks of the scenario's watchers (history.Meta.Watchers), over what each
// one delivered (history.History.Delivered).
const (
	// CheckWatchOrder: per watcher, revisions strictly increase — no entry
	// delivered twice, none out of order, within a key or across the keys
	// it watches (a watch is an ordered consumer: stream order).
	CheckWatchOrder = "watch-order"
	// CheckWatchComplete: every revision the bucket holds at the end for a
	// watched key (that the watcher's mode promises) reached every watcher
	// of the key, no watcher skipped a revision the stream still held when
	// it went past it (illegalSkips), and each watcher's last delivery per
	// key is the key's final state.
	CheckWatchComplete = "watch-complete"
	// CheckWatchNoPhantoms: every delivered value was written by an
	// operation of the history, to that key, at that revision if the write
	// was acknowledged with one.
	CheckWatchNoPhantoms = "watch-no-phantoms"
)

// WatchChecks are the checks a scenario with watchers requires by default.
var WatchChecks = []string{CheckWatchOrder, CheckWatchComplete, CheckWatchNoPhantoms}

func noWatchers(name string, m *history.Meta) (CheckResult, bool) {
	if m == nil || len(m.Watchers) == 0 {
		return CheckResult{Name: name, Result: Skipped, Detail: "the scenario has no watchers"}, true
	}
	return CheckResult{Name: name}, false
}

type watchOrder struct {
	meta       *history.Meta
	f          *facts
	deliveries int
	problems   []string
}

func (c *watchOrder) add(g *keyGroup) {
	c.meta, c.f = g.h.Meta, g.f
	c.deliveries += len(g.h.Delivered)
	type wk struct {
		watcher int
		key     string
	}
	last := map[wk]uint64{}
	for _, d := range g.h.Delivered {
		k := wk{d.Watcher, d.Key}
		prev, seen := last[k]
		switch {
		case seen && d.Rev == prev:
			c.problems = append(c.problems, fmt.Sprintf("watcher %d, key %q: revision %d delivered twice", d.Watcher, d.Key, d.Rev))
		case seen && d.Rev < prev:
			c.problems = append(c.problems, fmt.Sprintf("watcher %d, key %q: revision %d delivered after %d", d.Watcher, d.Key, d.Rev, prev))
		}
		if d.Rev > prev {
			last[k] = d.Rev
		}
	}
}

func (c *watchOrder) result() (CheckResult, []string) {
	cr, skip := noWatchers(CheckWatchOrder, c.meta)
	if skip {
		return cr, nil
	}
	problems, n := c.problems, len(c.problems)
	if c.f != nil {
		across, count := c.f.disorderOf(false)
		problems, n = append(problems, across...), n+count
	}
	if n > 0 {
		cr.Result, cr.Detail = Fail, fmt.Sprintf("%d deliveries out of order or repeated, in %d entries to %d watchers", n, c.deliveries, len(c.meta.Watchers))
		return cr, notesFor(CheckWatchOrder, problems)
	}
	cr.Result, cr.Detail = Pass, fmt.Sprintf("%d entries to %d watchers, each watcher's revisions in increasing order across its keys", c.deliveries, len(c.meta.Watchers))
	return cr, nil
}

type watchCompleteCheck struct {
	meta                      *history.Meta
	end                       *history.End
	missing, behind, expected int
	skipped                   int // revisions skipped while still held (see illegalSkips)
	goneFinal                 int // watcher/key pairs short of a final revision gone by the dump
	problems                  []string
}

func (c *watchCompleteCheck) add(g *keyGroup) {
	h := g.h
	c.meta, c.end = h.Meta, h.End
	if h.Meta == nil || len(h.Meta.Watchers) == 0 || cut(h.End) {
		return
	}
	// What the bucket holds at the end, per key, in revision order.
	held := map[string][]uint64{}
	if h.End.StoredComplete {
		for _, s := range h.Stored {
			held[s.Key] = append(held[s.Key], s.Rev)
		}
		for _, revs := range held {
			sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
		}
	}
	final := map[string]uint64{}
	for _, f := range h.Final {
		if f.Rev > 0 {
			final[f.Key] = f.Rev
		}
	}
	// With per-key TTLs a key's last message can expire without a watch
	// event: with history > 1 the key silently falls back to the message
	// before (TestServerTTLFacts), and a marker the server writes after
	// the final read is delivered but not read. A watcher then ends past
	// the final revision, at a write whose TTL ran out before the end.
	expiredBy := map[uint64]bool{}
	for _, op := range h.Ops {
		if op.TTL > 0 && op.Rev != 0 && op.Invoke+op.TTL < h.End.At {
			expiredBy[op.Rev] = true
		}
	}
	type wk struct {
		watcher int
		key     string
	}
	isHeld := map[string]map[uint64]bool{}
	for key, revs := range held {
		isHeld[key] = make(map[uint64]bool, len(revs))
		for _, r := range revs {
			isHeld[key][r] = true
		}
	}
	type wr struct {
		wk
		rev uint64
	}
	// Only deliveries of held revisions matter for completeness: memory
	// grows with what the bucket holds, not with the deliveries.
	got := map[wr]bool{}
	lastGot := map[wk]uint64{}
	for _, d := range h.Delivered {
		k := wk{d.Watcher, d.Key}
		if isHeld[d.Key][d.Rev] {
			got[wr{k, d.Rev}] = true
		}
		if d.Rev > lastGot[k] {
			lastGot[k] = d.Rev
		}
	}
	skips := illegalSkips(g)
	c.skipped += len(skips)
	c.problems = append(c.problems, skips...)
	for _, w := range h.Meta.Watchers {
		for _, key := range h.Meta.Keys {
			if !w.Watches(key) {
				continue
			}
			k := wk{w.ID, key}
			var missed []uint64
			for _, rev := range promised(w, held[key]) {
				c.expected++
				if !got[wr{k, rev}] {
					missed = append(missed, rev)
				}
			}
			if len(missed) > 0 {
				c.missing += len(missed)
				c.problems = append(c.problems, fmt.Sprintf("watcher %d, key %q: never delivered revision(s) %s that the bucket holds", w.ID, key, revList(missed)))
			}
			f := final[key]
			expiredAway := lastGot[k] > f && (expiredBy[lastGot[k]] || expiredBy[f])
			// The final revision gone from the bucket by the complete dump
			// that follows the watchers' wait: once the clients stopped,
			// only a TTL (the write's, or that of the marker the server
			// put in its place) removes a message, and a watcher whose
			// consumer was being recreated then had nothing left to
			// deliver. What the bucket still held is held to the rule
			// above.
			goneAtDump := f > 0 && h.End.StoredComplete && !isHeld[key][f] && lastGot[k] < f
			if goneAtDump {
				c.goneFinal++
			}
			if f > 0 && (f > w.Began() || w.Mode != history.WatchUpdates) && lastGot[k] != f && !expiredAway && !goneAtDump {
				c.behind++
				c.problems = append(c.problems, fmt.Sprintf("watcher %d, key %q: last delivered revision %d, the key's final revision is %d", w.ID, key, lastGot[k], f))
			}
		}
	}
}

func (c *watchCompleteCheck) result() (CheckResult, []string) {
	cr, skip := noWatchers(CheckWatchComplete, c.meta)
	if skip {
		return cr, nil
	}
	if cut(c.end) {
		cr.Result, cr.Detail = Unknown, notRecorded(c.end, "the bucket's final state the watchers are held to was not recorded")
		return cr, nil
	}
	if len(c.problems) > 0 {
		cr.Result, cr.Detail = Fail, fmt.Sprintf("%d held revisions never delivered, %d watcher/key pairs not at the final state, %d revisions skipped while the stream held them", c.missing, c.behind, c.skipped)
		return cr, notesFor(CheckWatchComplete, c.problems)
	}
	if !c.end.StoredComplete {
		cr.Result, cr.Detail = Unknown, "every watcher reached each key's final state, but the bucket's full contents were not read to compare every revision"
		if c.end.StoredError != "" {
			cr.Detail += " (" + c.end.StoredError + ")"
		}
		return cr, nil
	}
	cr.Result, cr.Detail = Pass, fmt.Sprintf("%d watchers delivered all %d held revisions they promise and end at each key's final state", len(c.meta.Watchers), c.expected)
	if c.goneFinal > 0 {
		cr.Detail += fmt.Sprintf(" (for %d watcher/key pairs short of it, a final state the bucket no longer held when it was read after the watchers' wait: expired)", c.goneFinal)
	}
	if n := len(c.meta.WatchersNotStarted); n > 0 {
		cr.Detail += fmt.Sprintf("; not started: %s", firstFew(c.meta.WatchersNotStarted, 2, "; "))
	}
	return cr, nil
}

// promised: of the revisions the bucket holds for a key (ascending), those
// the watcher must have delivered. A history watcher owes all of them; an
// updates-only watcher those written after it began; a latest watcher also
// the key's latest revision when it began, if that is still held and known
// (a watcher started under load began at a sequence known only within
// [StartSeq, StartedBy]: it owes what came after, and its first entries
// are checked by order and by the final state).
func promised(w history.WatcherSpec, held []uint64) []uint64 {
	if w.Mode == history.WatchHistory {
		return held
	}
	i := sort.Search(len(held), func(i int) bool { return held[i] > w.Began() })
	exact := w.StartedBy == 0 || w.StartedBy == w.StartSeq
	if w.Mode == history.WatchLatest && exact && i > 0 {
		i--
	}
	return held[i:]
}

// revList names up to five revisions and counts the rest.
func revList(revs []uint64) string {
	items := make([]string, len(revs))
	for i, r := range revs {
		items[i] = strconv.FormatUint(r, 10)
	}
	return firstFew(items, 5, ", ")
}

type watchNoPhantoms struct {
	meta            *history.Meta
	values, markers int
	problems        []string
}

// markerKey is a key and the kind of marker a delete or purge of it writes.
type markerKey struct{ key, marker string }

// markerWriters: for each key and marker kind, when the first delete (or
// purge) of the key that may have written one was invoked — acknowledged,
// of unknown outcome, or refused with a conflict that may be misreported;
// never a definite failure of another kind.
func markerWriters(g *keyGroup) map[markerKey]int64 {
	first := map[markerKey]int64{}
	for _, op := range g.r.ops {
		m := markerOf(op.Op)
		if m == history.MarkerNone {
			continue
		}
		if op.Outcome == history.Fail && !history.IsCASRefusal(op.ErrClass) {
			continue
		}
		k := markerKey{op.Key, m}
		if at, ok := first[k]; !ok || op.Invoke < at {
			first[k] = op.Invoke
		}
	}
	return first
}

func markerOp(marker string) string {
	if marker == history.MarkerPurge {
		return "purge"
	}
	return "delete"
}

func (c *watchNoPhantoms) add(g *keyGroup) {
	c.meta = g.h.Meta
	if c.meta == nil || len(c.meta.Watchers) == 0 {
		return
	}
	writes := writesByValue(pointers(g.h.Ops))
	markers := markerWriters(g)
	for _, d := range g.h.Delivered {
		if d.Marker != history.MarkerNone {
			c.markers++
			if g.f.ttlKeys[d.Key] {
				continue // the server writes markers of its own when keys expire
			}
			if first, ok := markers[markerKey{d.Key, d.Marker}]; !ok || first > d.At {
				c.problems = append(c.problems, fmt.Sprintf("watcher %d, key %q: %s marker at revision %d delivered at %.3fs, but no %s of the key had been invoked by then",
					d.Watcher, d.Key, d.Marker, d.Rev, sec(d.At), markerOp(d.Marker)))
			}
			continue
		}
		c.values++
		w, ok := writes[d.Read]
		switch {
		case !ok:
			c.problems = append(c.problems, fmt.Sprintf("watcher %d, key %q: value %q at revision %d was never written", d.Watcher, d.Key, d.Read, d.Rev))
		case w.Key != d.Key:
			c.problems = append(c.problems, fmt.Sprintf("watcher %d: value %q delivered for key %q, written to %q", d.Watcher, d.Read, d.Key, w.Key))
		case d.At < w.Invoke:
			c.problems = append(c.problems, fmt.Sprintf("watcher %d, key %q: value %q delivered at %.3fs, before its %s was invoked at %.3fs", d.Watcher, d.Key, d.Read, sec(d.At), w.Op, sec(w.Invoke)))
		case w.Outcome == history.OK && !g.r.sameWrite(w, d.Rev):
			c.problems = append(c.problems, fmt.Sprintf("watcher %d, key %q: value %q delivered at revision %d, acknowledged at %d", d.Watcher, d.Key, d.Read, d.Rev, w.Rev))
		case w.Outcome == history.Fail && w.Op != history.OpCreate:
			// A create's second request (after a delete marker) can land
			// although the client reports the first one's conflict; resolve
			// counts those. Any other definite failure must not be seen.
			c.problems = append(c.problems, fmt.Sprintf("watcher %d, key %q: value %q of a %s that failed (%s) was delivered at revision %d", d.Watcher, d.Key, d.Read, w.Op, w.ErrClass, d.Rev))
		}
	}
}

func (c *watchNoPhantoms) result() (CheckResult, []string) {
	cr, skip := noWatchers(CheckWatchNoPhantoms, c.meta)
	if skip {
		return cr, nil
	}
	if len(c.problems) > 0 {
		cr.Result, cr.Detail = Fail, fmt.Sprintf("%d of %d delivered values and markers were not written as delivered", len(c.problems), c.values+c.markers)
		return cr, notesFor(CheckWatchNoPhantoms, c.problems)
	}
	cr.Result, cr.Detail = Pass, fmt.Sprintf("all %d delivered values were written by the history's operations, at the delivered revisions, and all %d markers by a delete or purge invoked before", c.values, c.markers)
	return cr, nil
}
