package checker

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

// linearizable is one linearizability check (writes, or writes with the
// gets of one read path), key by key, within one budget for all groups.
// Only keys of a group found illegal are looked at one by one, to name and
// draw them.
type linearizable struct {
	name    string
	filter  opsFilter
	ttlKeys int           // keys left out: written with a TTL, checked by ttl-expiry
	timeout time.Duration // the check's budget for searches, over all groups
	// searchLeft: what is left of it. Only Porcupine's searches spend it:
	// the sweep is linear and bounded, a search can blow up.
	searchLeft time.Duration
	opts       Options
	draw       bool   // write a Porcupine view of each failing key
	skip       string // why the check does not apply, if it does not
	stalePath  string // the read path whose stale reads the detail adds

	ops, keys    int
	searched     map[string]bool // keys searched (a key checked in spans, once)
	inPieces     []string        // keys searched in pieces (see cutPieces)
	searchLimit  int             // operations of one key Porcupine may search (see searchLimit)
	tooLarge     []string        // keys the sweep left that were too large to search
	clientOps    bool            // some client operation took effect or may have
	took         time.Duration
	timedOut     bool
	bad          []string // failing keys
	notes, views []string

	// impliedBy: checks whose operations include all of this one's (each
	// read check takes every write). A group one of them found
	// linearizable on every key is linearizable for this check too —
	// leaving reads, which change nothing, out of a linearization leaves a
	// linearization — so it is not checked again. Their add runs first.
	impliedBy   []*linearizable
	groupOK     bool   // the last group add was given is linearizable on every key
	implied     int    // operations decided by one of impliedBy
	impliedKeys int    // and their keys
	impliedAs   string // by which

	// scratch: the lists of the last group's operations, made again for
	// the next (see opsScratch).
	scratch opsScratch
}

func newLinearizable(name string, filter opsFilter, f *facts, opts Options) *linearizable {
	budget := opts.memoryBudget
	if budget <= 0 {
		budget = DefaultMemoryBudget
	}
	filter.skipKeys = f.ttlKeys
	return &linearizable{name: name, filter: filter, ttlKeys: len(f.ttlKeys), timeout: opts.Timeout, searchLeft: opts.Timeout, opts: opts, searchLimit: searchLimit(budget), searched: map[string]bool{}}
}

func (l *linearizable) add(g *keyGroup) {
	if l.skip != "" {
		return
	}
	l.groupOK = false
	start := time.Now()
	defer func() { l.took += time.Since(start) }()
	for _, by := range l.impliedBy {
		if by.groupOK {
			l.addImplied(g, by.name)
			return
		}
	}
	f := l.filter
	f.seqs = g.r.seqs
	pops := toOperations(g.r.ops, g.h.Final, f, &l.scratch)
	parts := partitionByKey(pops)
	l.ops += len(pops) - contextOps(g, l.filter)
	if !g.laterSpan() {
		l.keys += len(parts)
	}
	l.clientOps = l.clientOps || anyClientOp(pops)
	// A key known to fail (early) decides the group's verdict: the loop
	// below finds the other failing keys, as after checkKeys stops at one.
	verdict, outOfTime := porcupine.Illegal, false
	var searched, inPieces, tooLarge []string
	if len(g.r.early) == 0 {
		verdict, outOfTime, searched, inPieces, tooLarge = checkKeys(parts, &l.searchLeft, !l.opts.searchOnly, l.searchLimit)
	}
	if len(searched) > 0 || verdict != porcupine.Ok || len(pops) > maxScratchOps {
		// Porcupine may have left searches running on these operations
		// (it returns once out of time or once one key is illegal): the
		// next group's are made in new lists. So are they after a group
		// too large to sit beside another (see maxScratchOps).
		l.scratch = opsScratch{}
	}
	for _, key := range searched {
		l.searched[key] = true
	}
	l.inPieces = appendNew(l.inPieces, inPieces...)
	l.tooLarge = appendNew(l.tooLarge, tooLarge...)
	switch {
	case verdict == porcupine.Unknown && len(g.r.early) == 0:
		l.timedOut = l.timedOut || outOfTime
		return
	case verdict == porcupine.Ok && len(g.r.early) == 0:
		l.groupOK = true
		return
	}
	for _, part := range parts {
		key := part[0].Input.(*kvInput).Key
		why, seenEarly := g.r.early[key]
		if !seenEarly && !l.opts.searchOnly && sweepKey(part) {
			continue // linearizable
		}
		pieces := piecesWithin(part, l.searchLimit)
		var model porcupine.Model
		var info porcupine.LinearizationInfo
		switch {
		case seenEarly && (!l.draw || slices.Contains(l.bad, key)):
			// Failing whatever a search finds, and not to be drawn (again).
		case largestPiece(pieces) <= l.searchLimit:
			// The piece to draw: the failing one (found again: checkKeys
			// stopped at the verdict), or for a key seen early, the first.
			began := time.Now()
			budget := func() time.Duration {
				if seenEarly {
					// Only to draw it: the key fails whatever a search
					// finds. Both searches share drawEarly.
					return max(drawEarly-time.Since(began), time.Millisecond)
				}
				return max(l.searchLeft-time.Since(began), time.Second)
			}
			bad := 0
			if len(pieces) > 1 {
				var r porcupine.CheckResult
				if r, bad = searchPieces(pieces, budget()); r != porcupine.Illegal {
					bad = 0
				}
			}
			model = modelFrom(pieces[bad].init)
			var result porcupine.CheckResult
			result, info = porcupine.CheckOperationsVerbose(model, pieces[bad].ops, budget())
			l.searchLeft -= time.Since(began)
			switch {
			case seenEarly:
			case result == porcupine.Illegal:
				why = explain(part, pieces[bad].ops, info)
			default:
				continue
			}
		case !seenEarly:
			continue // too large to search, and said so
		}
		// A key seen early fails whatever a search finds; one too large
		// to search is not drawn. A key checked in spans fails once.
		if slices.Contains(l.bad, key) {
			continue
		}
		l.bad = append(l.bad, key)
		switch {
		case len(l.bad) <= maxNotesPerCheck:
			l.notes = append(l.notes, fmt.Sprintf("%s: key %q: %s", l.name, key, why))
		case len(l.bad) == maxNotesPerCheck+1:
			more := "more keys fail"
			if l.draw {
				more += "; see the views in linearizability/"
			}
			l.notes = append(l.notes, fmt.Sprintf("%s: %s", l.name, more))
		}
		if l.draw && model.Step != nil {
			file := visualizationName(key, l.name)
			if err := writeVisualization(l.opts.VisualizeDir, file, model, info); err != nil {
				l.notes = append(l.notes, fmt.Sprintf("%s: cannot write visualization for key %q: %v", l.name, key, err))
			} else {
				l.views = append(l.views, file)
			}
		}
	}
}

// contextOps is 1 when the group is a span whose context takes part in the
// check (counted in its own span), else 0.
func contextOps(g *keyGroup, f opsFilter) int {
	if g.laterSpan() && takesPart(g.span.context, f) {
		return 1
	}
	return 0
}

// addImplied counts a group that by, one of impliedBy, found linearizable.
func (l *linearizable) addImplied(g *keyGroup, by string) {
	keys := map[string]bool{}
	for _, r := range g.r.ops {
		if takesPart(r, l.filter) && !g.isContext(r) {
			keys[r.Key] = true
			l.ops++
			l.implied++
			l.clientOps = true
		}
	}
	finals := 0
	for _, r := range g.h.Final {
		if !l.filter.skipKeys[r.Key] {
			keys[r.Key] = true
			finals++
		}
	}
	l.ops += finals
	l.implied += finals
	if g.laterSpan() {
		keys = map[string]bool{} // counted with its first span
	}
	l.keys += len(keys)
	l.impliedKeys += len(keys)
	l.impliedAs = by
	l.groupOK = true
}

func (l *linearizable) result() (CheckResult, []string) {
	c := CheckResult{Name: l.name}
	switch {
	case l.skip != "":
		c.Result, c.Detail = Skipped, l.skip
	case l.ttlKeys > 0 && l.keys == 0:
		c.Result, c.Detail = Skipped, "every key expires by TTL: the server's expiry markers are writes the model does not know (ttl-expiry checks them)"
	case len(l.bad) > 0:
		// Sorted: the order they were found in follows how the keys were
		// grouped, which follows the memory budget.
		bad := slices.Sorted(slices.Values(l.bad))
		c.Result, c.Detail = Fail, fmt.Sprintf("not linearizable on %d of %d keys: %s", len(bad), l.keys, strings.Join(quoteAll(bad), ", "))
		return c, l.notes
	case !l.clientOps:
		// Only final reads (or nothing): passing would say nothing.
		c.Result, c.Detail = Skipped, "no client operation took effect or may have: nothing to check"
	case len(l.tooLarge) > 0:
		c.Result, c.Detail = Unknown, fmt.Sprintf("%d of %d keys have no known message sequence and a stretch without a sound cut longer than a search may take within the memory budget (%d operations): %s",
			len(l.tooLarge), l.keys, l.searchLimit, firstFew(quoteAll(l.tooLarge), 5, ", "))
	case l.timedOut:
		c.Result, c.Detail = Unknown, fmt.Sprintf("search timed out after %s on %d operations over %d keys", l.timeout, l.ops, l.keys)
	default:
		how := howChecked(l.keys-l.impliedKeys, len(l.searched), l.inPieces)
		switch {
		case l.implied == l.ops:
			how = fmt.Sprintf("shown by %s, whose operations include these", l.impliedAs)
		case l.implied > 0:
			how += fmt.Sprintf("; %d of them shown by %s, whose operations include them", l.implied, l.impliedAs)
		}
		c.Result, c.Detail = Pass, fmt.Sprintf("%d operations over %d keys linearizable (%s; %s)", l.ops, l.keys, how, roundDur(l.took))
	}
	if l.ttlKeys > 0 && c.Result != Skipped {
		c.Detail += fmt.Sprintf("; %d keys written with a TTL left out (the server's expiry is not in the model; ttl-expiry checks them)", l.ttlKeys)
	}
	return c, nil
}

// drawEarly bounds the searches made only to draw a key that fails for a
// reason known before any search (resolved.early): on a busy key a search
// can take the whole budget and decide nothing new.
const drawEarly = time.Second

// checkKeys decides each key's operations, a few keys at a time: Illegal as
// soon as one key is; else Unknown if a key was too large to search or the
// search budget ran out before it was decided (outOfTime), and the other
// keys are still decided; else Ok. It also says how many keys needed Porcupine's search: a
// key whose message sequence is known is first swept (sweepKey), which
// decides a linearizable key in linear time and memory; only keys the sweep
// cannot linearize are searched. Searched a few at a time, not all at once as one
// partitioned Porcupine call does: Porcupine's memo grows with the square of
// a key's operations (a bitset per cached state), so 64 keys checked side
// by side held 64 such memos (2.3 GB live for 1M ops) where 2 cores only
// ever work on two.
func checkKeys(parts [][]porcupine.Operation, searchLeft *time.Duration, sweep bool, searchLimit int) (verdict porcupine.CheckResult, outOfTime bool, searched, inPieces, tooLarge []string) {
	var budget atomic.Int64 // ns of search left, spent by every search side by side
	budget.Store(int64(*searchLeft))
	defer func() { *searchLeft = time.Duration(budget.Load()) }()
	next := make(chan []porcupine.Operation)
	results := make(chan porcupine.CheckResult, len(parts))
	stop := make(chan struct{})
	var decided atomic.Bool // a key is illegal: parts not yet begun are skipped
	var timedOut atomic.Bool
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(parts)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for part := range next {
				if decided.Load() {
					results <- porcupine.Ok // not looked at; the verdict is already in
					continue
				}
				if sweep && sweepKey(part) {
					results <- porcupine.Ok
					continue
				}
				pieces := piecesWithin(part, searchLimit)
				if largestPiece(pieces) > searchLimit {
					mu.Lock()
					tooLarge = append(tooLarge, part[0].Input.(*kvInput).Key)
					mu.Unlock()
					results <- porcupine.Unknown
					continue
				}
				left := time.Duration(budget.Load())
				if left <= 0 {
					timedOut.Store(true)
					results <- porcupine.Unknown
					continue
				}
				mu.Lock()
				searched = append(searched, part[0].Input.(*kvInput).Key)
				if len(pieces) > 1 {
					inPieces = append(inPieces, part[0].Input.(*kvInput).Key)
				}
				mu.Unlock()
				began := time.Now()
				r, _ := searchPieces(pieces, left)
				if r == porcupine.Unknown {
					timedOut.Store(true)
				}
				results <- r
				budget.Add(-int64(time.Since(began)))
			}
		}()
	}
	go func() {
		defer close(next)
		for _, part := range parts {
			select {
			case next <- part:
			case <-stop:
				return
			}
		}
	}()
	verdict = porcupine.Ok
collect:
	for range parts {
		switch <-results {
		case porcupine.Illegal:
			verdict = porcupine.Illegal
			break collect
		case porcupine.Unknown:
			verdict = porcupine.Unknown // the other keys are still decided
		}
	}
	decided.Store(true)
	close(stop)
	// Keys in progress finish (Porcupine's API cannot stop them), so an
	// Illegal verdict may wait for up to GOMAXPROCS-1 keys; results has
	// room for all of them.
	wg.Wait()
	return verdict, timedOut.Load(), searched, inPieces, tooLarge
}

// searchLimit is how many operations of one key Porcupine may search
// within a memory budget: its memo keeps a bitset of the operations per
// cached state, about ops²/8 bytes for a history that is mostly linear.
func searchLimit(budget int64) int {
	return int(math.Sqrt(float64(budget) * 8))
}

// appendNew appends to list the keys it does not hold yet (a key checked
// in spans comes once per span).
func appendNew(list []string, keys ...string) []string {
	for _, k := range keys {
		if !slices.Contains(list, k) {
			list = append(list, k)
		}
	}
	return list
}

// howChecked says how many keys were decided by their message sequence
// alone and how many needed a search.
func howChecked(keys, searched int, inPieces []string) string {
	pieces := ""
	if len(inPieces) > 0 {
		slices.Sort(inPieces)
		pieces = fmt.Sprintf(", %d of them cut into pieces (%s)", len(inPieces), firstFew(quoteAll(inPieces), 5, ", "))
	}
	switch searched {
	case 0:
		return "every key by its message sequence"
	case keys:
		return "every key by search" + pieces
	}
	return fmt.Sprintf("%d keys by their message sequence, %d by search%s", keys-searched, searched, pieces)
}

func writeVisualization(dir, file string, model porcupine.Model, info porcupine.LinearizationInfo) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return porcupine.VisualizePath(model, info, filepath.Join(dir, file))
}

// visualizationName is linearizability/<key>.html for the write check and
// <key>-reads.html for the read check, with the key made safe as a file name.
func visualizationName(key, check string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, key)
	switch check {
	case CheckLinearizableReads:
		return safe + "-reads.html"
	case CheckLinearizableReadsLeader:
		return safe + "-reads-leader.html"
	}
	return safe + ".html"
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

func roundDur(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func anyClientOp(pops []porcupine.Operation) bool {
	for _, op := range pops {
		if op.Input.(*kvInput).Op != opFinal {
			return true
		}
	}
	return false
}
