package checker

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/kvharness/kvharness/history"
)

// FileOptions tune checking a history file.
type FileOptions struct {
	Options
	// MemoryBudget bounds what one group of keys may take while it is
	// checked (0: DefaultMemoryBudget). A history larger than that is
	// checked a group of keys at a time; a single key larger than that is
	// not checked (its checks are unknown, and say so).
	MemoryBudget int64
	// Observe, if set, sees every record as the file is read; Group every
	// group of keys before it is checked (reports gather what they need).
	// Neither may keep a record or a pointer into the group: its lists are
	// recycled once it is checked (see history.Recycle).
	Observe func(*history.Record)
	Group   func(*history.History)
	// SpanOps: operations per span of a long key (see spans.go; 0: about
	// 32 k), a key of more than four spans' records being long; -1: every
	// key is checked whole. GroupRecords: the most records of a group of
	// keys (0: groupRecords); a key with more is a group of its own. Small
	// groups and spans prove that checking in spans gives what checking
	// whole does (make findings): results may depend on how keys are
	// grouped (see checkGroups), so both sides are grouped alike.
	SpanOps, GroupRecords int
	// Progress, if set, is told how far the check has got, now and then,
	// on the caller's goroutine: an hour's history takes minutes.
	Progress func(Progress)
}

// Progress is how far checking a file has got: first reading it (Done and
// Total in bytes of the file), then checking its groups of keys (in
// records).
type Progress struct {
	Phase       string
	Done, Total int64
}

// The phases of Progress.
const (
	PhaseReading  = "reading"
	PhaseChecking = "checking"
)

// spanOptions are the spans o asks for.
func (o FileOptions) spanOptions() spanOptions {
	switch {
	case o.SpanOps < 0:
		return spanOptions{above: math.MaxInt}
	case o.SpanOps > 0:
		return spanOptions{above: 4 * o.SpanOps, ops: o.SpanOps, lastOps: o.SpanOps}
	}
	return defaultSpans
}

// DefaultMemoryBudget is what checking a group of keys may take by
// default: with the rest, a check's peak RSS stays near 1.6 GB.
const DefaultMemoryBudget = 1 << 30

// bytesPerRecord is what a record costs while its group is checked: the
// record, its resolved copy, its model operation, the checks' indexes and
// the collector's headroom. Measured on a 2-minute full-speed run of the
// default scenario (2.2 M records): peak RSS grows by about 810 bytes per
// record of the largest group, over about 500 MB for the rest.
const bytesPerRecord = 800

// groupRecords is how many records a group of keys holds at most when the
// memory budget would allow more: checking is faster in small groups (their
// indexes stay in the processor's caches and the heap stays small). Measured
// on a 2-minute full-speed run of the default scenario (2.2 M records, 64
// keys): groups of 40 k to 240 k records check in the same time, using about
// 100 to 350 MB, where groups of 1.3 M records (a 1 GiB budget) take 50 %
// longer and 1.3 GB. Since the next group is read while one is checked (see
// readAhead), groups of 64 k: on a 5-minute run (1.98 M operations) they
// check in the time groups of 128 k take, at half the peak RSS (150 against
// 320 MB). A key larger than this is a group by itself, as large as the
// budget allows.
const groupRecords = 64 << 10

// spillBuckets is how finely a history is cut by key: groups are made of
// whole buckets, so keys beyond this share one.
const spillBuckets = 256

// CheckFile checks the history at path in memory bounded by the budget,
// not by the history's length: it reads the file once, gathering the facts
// no group of keys can see alone and cutting the records by key into
// temporary files, then checks the groups of keys one at a time. It also
// returns the history's meta line, end and faults. Once ctx is done it
// stops (between groups of keys) and returns ctx's error, its temporary
// files removed.
func CheckFile(ctx context.Context, path string, o FileOptions) (*Result, *history.History, error) {
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	b := newFactsBuilder()
	widen := widener()
	var reading func(read, size int64)
	if o.Progress != nil {
		reading = func(read, size int64) { o.Progress(Progress{Phase: PhaseReading, Done: read, Total: size}) }
	}
	spilled, err := history.Spill(ctx, path, history.SpillOptions{Buckets: spillBuckets, Progress: reading, Visit: func(r *history.Record) {
		// The report sees each op as measured; the checks see a worker's
		// widened by its clock bound (the spill files keep what Visit
		// leaves).
		if o.Observe != nil {
			o.Observe(r)
		}
		widen(r)
		b.observe(r)
	}})
	if err != nil {
		return nil, nil, err
	}
	defer spilled.Remove()
	defer history.DropRecycled()
	whole := spilled.Whole
	f := b.done(whole.End)
	f.sightings = func(see func(revSighting)) error {
		return readWidened(ctx, path, func(r *history.Record) { recordSighting(r, see) })
	}
	maxRecords := int(o.MemoryBudget / bytesPerRecord)
	spans := o.spanOptions()
	most := groupRecords
	if o.GroupRecords > 0 {
		most = o.GroupRecords
	}
	groups := spilled.Plan(min(maxRecords, most))
	planned := spilled.Groups()
	var spanned spanCount
	var longWhole []string // long keys checked whole, and why
	// big: a group that may not sit beside another within the budget (see
	// readAhead).
	big := func(records int) bool { return records > maxRecords/2 }
	produce := func(yield func(*history.History, *keySpan) error, idle func()) error {
		return planAhead(ctx, planned, &f, spans, func(g plannedGroup) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if g.plan != nil {
				return walkSpans(ctx, g.SpilledGroup, g.plan, func(h *history.History, span *keySpan) error {
					if err := ctx.Err(); err != nil {
						return err // before a span is checked, not only now and then
					}
					if o.Group != nil {
						o.Group(h)
					}
					spanned.spans++
					if span.index == 0 {
						spanned.keys++
					}
					return yield(h, span)
				})
			}
			if g.why != "" {
				longWhole = append(longWhole, fmt.Sprintf("%s: %s", strings.Join(g.Empty().Meta.Keys, ", "), g.why))
			}
			if big(g.Records) {
				idle()
			}
			if g.Records > maxRecords {
				return fmt.Errorf("one group of keys holds %d records, more than the memory budget of %d MiB allows (about %d), and cannot be checked a stretch of time at a time (%s); raise the budget (--check-memory)",
					g.Records, o.MemoryBudget>>20, maxRecords, g.why)
			}
			h, err := g.Read()
			if err != nil {
				return err
			}
			if o.Group != nil {
				o.Group(h)
			}
			if err := yield(h, nil); err != nil {
				return err
			}
			if big(g.Records) {
				idle()
			}
			return nil
		})
	}
	var total, done int64 // records, for Progress
	if o.Progress != nil {
		for _, g := range planned {
			total += int64(g.Records)
		}
		o.Progress(Progress{Phase: PhaseChecking, Total: total})
	}
	each := func(yield func(*history.History, *keySpan) error) error {
		return readAhead(produce, func(h *history.History, span *keySpan) error {
			err := yield(h, span)
			if o.Progress != nil {
				done += int64(h.Records())
				o.Progress(Progress{Phase: PhaseChecking, Done: min(done, total), Total: total})
			}
			// Checked: its lists are handed to the groups after it
			// (see history.Recycle).
			h.Recycle()
			return err
		})
	}
	o.Options.memoryBudget = o.MemoryBudget
	res := checkGroups(whole, &f, each, o.Options)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	res.Groups = groups
	res.SpannedKeys, res.Spans, res.LongKeysWhole = spanned.keys, spanned.spans, longWhole
	return res, whole, nil
}

// widener widens each op of a worker's clients by its clock bound, as the
// checks see them (see history.Meta.WidenForClock), records handed to it in
// the file's order.
func widener() func(*history.Record) {
	var meta *history.Meta
	return func(r *history.Record) {
		if r.Kind == history.KindMeta && r.Meta != nil {
			meta = r.Meta
		}
		meta.WidenForClock(r)
	}
}

// readWidened reads the history at path again, each record widened as the
// checks saw it the first time.
func readWidened(ctx context.Context, path string, visit func(*history.Record)) error {
	r, err := history.OpenFile(path)
	if err != nil {
		return err
	}
	defer r.Close()
	widen := widener()
	n := 0
	_, err = history.Scan(r, func(rec *history.Record) error {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		widen(rec)
		visit(rec)
		return nil
	})
	return err
}

// spanCount counts the keys checked in spans, and their spans.
type spanCount struct{ keys, spans int }
