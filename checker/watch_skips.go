package checker

import (
	"fmt"
	"sort"

	"github.com/kvharness/kvharness/history"
)

// A watch is an ordered consumer: it delivers every message of its keys in
// stream order, except those the stream no longer holds when the consumer
// gets to them. So a watcher may skip revision r of key k only if r was
// gone by the time it delivered something above r: the bucket keeps a
// key's last `history` messages, so that many newer messages of k (or one
// purge) were stored by then. watch-complete compares the watchers with
// what the bucket holds after the run; this covers what it no longer
// holds, where a skip would otherwise pass unseen.
//
// Decided only where each key's whole message sequence is known (the key
// sequences), for keys never written with a TTL (expiry removes messages
// on its own), and for revisions above the first one the watcher
// delivered: before that, a latest or updates-only watcher owes nothing,
// and nats.go may restart an updates-only watch that has delivered nothing
// from the stream's new end. When the watcher went past a revision comes
// from the facts' timeline of its deliveries of every key (the same in
// every group of keys), rounded up to 10 ms. A newer message counts as
// stored by a time unless its write was invoked after it (markers whose
// delete is not known count as stored from the start): a skip is called
// illegal only when it is.

// illegalSkips lists, for each of the scenario's watchers and each key of
// the group, the revisions the watcher skipped while the stream still held
// them.
func illegalSkips(g *keyGroup) []string {
	if g.h.Meta == nil {
		return nil
	}
	delivered := map[int]map[uint64]bool{}
	for _, d := range g.h.Delivered {
		if delivered[d.Watcher] == nil {
			delivered[d.Watcher] = map[uint64]bool{}
		}
		delivered[d.Watcher][d.Rev] = true
	}
	return skipsOf(g, g.h.Meta.Watchers, delivered)
}

// recordingWatcherSkips is illegalSkips for the recording watcher: a watch
// of every key from the bucket's first revision on (IncludeHistory).
func recordingWatcherSkips(g *keyGroup) []string {
	delivered := map[int]map[uint64]bool{0: make(map[uint64]bool, len(g.h.Watch))}
	for _, w := range g.h.Watch {
		delivered[0][w.Rev] = true
	}
	if g.laterSpan() {
		delivered[0][g.span.from] = true // in its own span (see verifySpans)
	}
	return skipsOf(g, []history.WatcherSpec{{ID: 0, Mode: history.WatchHistory}}, delivered)
}

// skipsOf checks the given watchers on the group's keys: delivered holds
// the revisions of those keys each one delivered; how far each had got in
// the stream, and when, comes from the facts (all keys).
func skipsOf(g *keyGroup, watchers []history.WatcherSpec, delivered map[int]map[uint64]bool) []string {
	h := g.h
	if g.r.seqs == nil || h.Meta == nil || h.Meta.History < 1 || len(watchers) == 0 {
		return nil
	}
	invoked := make(map[uint64]int64, len(h.Watch)) // a message's writer's invocation (about one a delivery)
	for _, op := range g.r.ops {
		if history.IsWrite(op.Op) && op.Rev != 0 {
			invoked[op.Rev] = op.Invoke
		}
	}
	storedBy := func(m message) int64 {
		if at, ok := invoked[m.Rev]; ok {
			return at
		}
		return minTime // not known: stored from the start, which calls no skip illegal
	}
	// A revision records place in two keys fails revisions-unique; which
	// key's message it is, a group of keys cannot tell.
	contested := map[uint64]bool{}
	for _, x := range g.f.crossKey {
		contested[x.rev] = true
	}
	depth := h.Meta.History
	var problems []string
	for _, w := range watchers {
		tl := g.f.timelines[w.ID]
		if tl == nil {
			continue
		}
		owedAbove := tl.first
		seen := delivered[w.ID]
		if w.Mode != history.WatchHistory {
			owedAbove = max(owedAbove, w.Began())
		}
		for key, seq := range g.r.seqs {
			if !w.Watches(key) || g.f.ttlKeys[key] {
				continue
			}
			msgs := seq.ordered()
			for i, m := range msgs {
				if m.Rev <= owedAbove || seen[m.Rev] || contested[m.Rev] {
					continue
				}
				// When the watcher went past m: its first delivery above.
				passed, ok := tl.passed(m.Rev)
				if !ok {
					continue // it delivered nothing later: watch-complete's
				}
				newer := 0
				gone := false
				for _, n := range msgs[i+1:] {
					if storedBy(n) >= passed {
						continue
					}
					newer++
					if newer >= depth || n.Marker == history.MarkerPurge {
						gone = true
						break
					}
				}
				if !gone {
					who := fmt.Sprintf("watcher %d", w.ID)
					if w.ID == 0 {
						who = "the recording watcher"
					}
					problems = append(problems, fmt.Sprintf("%s, key %q: skipped revision %d, still in the stream when the watcher went past it at %.3fs (%d newer messages of the key by then; the bucket keeps %d)",
						who, key, m.Rev, float64(passed)/1e9, newer, depth))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}
