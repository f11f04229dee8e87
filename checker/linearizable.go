package checker

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/kvharness/kvharness/history"
)

type linearizableResult struct {
	CheckResult
	notes []string
	views []string
}

// checkLinearizable runs Porcupine over the selected operations, key by
// key, within opts.Timeout. Only when the whole history is illegal does
// it look at keys one by one, to name and draw the failing ones.
func checkLinearizable(name string, r resolved, finals []history.Record, f opsFilter, opts Options) linearizableResult {
	res := linearizableResult{CheckResult: CheckResult{Name: name}}
	f.seqs = r.seqs
	pops := toOperations(r.ops, finals, f)
	if !anyClientOp(pops) {
		// Only final reads (or nothing): passing would say nothing.
		res.Result = Skipped
		res.Detail = "no client operation took effect or may have: nothing to check"
		return res
	}
	early := r.early
	parts := partitionByKey(pops)
	start := time.Now()
	verdict, searched := checkKeys(parts, start.Add(opts.Timeout), !opts.searchOnly)
	switch verdict {
	case porcupine.Ok:
		if len(early) > 0 {
			break
		}
		res.Result = Pass
		res.Detail = fmt.Sprintf("%d operations over %d keys linearizable (%s; %s)", len(pops), len(parts), howChecked(len(parts), searched), roundDur(time.Since(start)))
		return res
	case porcupine.Unknown:
		if len(early) > 0 {
			break
		}
		res.Result = Unknown
		res.Detail = fmt.Sprintf("checker timed out after %s on %d operations over %d keys", opts.Timeout, len(pops), len(parts))
		return res
	}

	res.Result = Fail
	var bad []string
	for _, part := range parts {
		key := part[0].Input.(kvInput).Key
		left := opts.Timeout - time.Since(start)
		if left < time.Second {
			left = time.Second
		}
		result, info := porcupine.CheckOperationsVerbose(kvModel, part, left)
		why, seenEarly := early[key]
		switch {
		case seenEarly:
		case result == porcupine.Illegal:
			why = explain(part, info)
		default:
			continue
		}
		bad = append(bad, key)
		switch {
		case len(bad) <= maxNotesPerCheck:
			res.notes = append(res.notes, fmt.Sprintf("%s: key %q: %s", name, key, why))
		case len(bad) == maxNotesPerCheck+1:
			res.notes = append(res.notes, fmt.Sprintf("%s: more keys fail; see the views in linearizability/", name))
		}
		if opts.VisualizeDir != "" {
			file := visualizationName(key, name)
			if err := writeVisualization(opts.VisualizeDir, file, info); err != nil {
				res.notes = append(res.notes, fmt.Sprintf("%s: cannot write visualization for key %q: %v", name, key, err))
			} else {
				res.views = append(res.views, file)
			}
		}
	}
	res.Detail = fmt.Sprintf("not linearizable on %d of %d keys: %s", len(bad), len(parts), strings.Join(quoteAll(bad), ", "))
	return res
}

// checkKeys decides each key's operations, a few keys at a time, until the
// deadline: Illegal as soon as one key is, Unknown if the deadline passes
// first, else Ok. It also says how many keys needed Porcupine's search: a
// key whose message sequence is known is first swept (sweepKey), which
// decides a linearizable key in linear time and memory; only keys the sweep
// cannot linearize are searched. Searched a few at a time, not all at once as one
// partitioned Porcupine call does: Porcupine's memo grows with the square of
// a key's operations (a bitset per cached state), so 64 keys checked side
// by side held 64 such memos (2.3 GB live for 1M ops) where 2 cores only
// ever work on two.
func checkKeys(parts [][]porcupine.Operation, deadline time.Time, sweep bool) (verdict porcupine.CheckResult, searched int) {
	next := make(chan []porcupine.Operation)
	results := make(chan porcupine.CheckResult, len(parts))
	stop := make(chan struct{})
	var decided atomic.Bool // a verdict is in: parts not yet begun are skipped
	var searches atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(parts)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for part := range next {
				left := time.Until(deadline)
				if decided.Load() {
					results <- porcupine.Ok // not looked at; the verdict is already in
					continue
				}
				if left <= 0 {
					results <- porcupine.Unknown
					continue
				}
				if sweep && sweepKey(part) {
					results <- porcupine.Ok
					continue
				}
				searches.Add(1)
				results <- porcupine.CheckOperationsTimeout(kvModel, part, left)
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
	for range parts {
		r := <-results
		if r == porcupine.Illegal {
			verdict = porcupine.Illegal
			break
		}
		if r == porcupine.Unknown {
			verdict = porcupine.Unknown
			break
		}
	}
	decided.Store(true)
	close(stop)
	// Keys in progress finish (Porcupine's API cannot stop them), so an
	// Illegal verdict may wait for up to GOMAXPROCS-1 keys; results has
	// room for all of them.
	wg.Wait()
	return verdict, int(searches.Load())
}

// howChecked says how many keys were decided by their message sequence
// alone and how many needed a search.
func howChecked(keys, searched int) string {
	switch searched {
	case 0:
		return "every key by its message sequence"
	case keys:
		return "every key by search"
	}
	return fmt.Sprintf("%d keys by their message sequence, %d by search", keys-searched, searched)
}

func writeVisualization(dir, file string, info porcupine.LinearizationInfo) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return porcupine.VisualizePath(kvModel, info, filepath.Join(dir, file))
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
		if op.Input.(kvInput).Op != opFinal {
			return true
		}
	}
	return false
}
