package history

import (
	"slices"
	"sync"
)

// Checking a long history reads it back a group of keys (or a span of one
// key) at a time, each group's records in lists made at their size: tens of
// megabytes, one after the other, thousands of times in an hour's check.
// A fresh large list is zeroed page by page as it is first touched, and the
// collector runs every few groups to free the last ones: on a five-minute
// full-speed history that zeroing alone was 5 % of the check's CPU, and the
// collection rate came with it. So a group's lists, once checked, go back
// to a short free list and the next group's are taken from it.

// recycled holds lists of records given back (see Recycle), empty, for
// NewRecords to hand out again.
var recycled struct {
	mu    sync.Mutex
	lists [][]Record
}

const (
	// maxRecycled: how many lists are kept. Two groups are held at once
	// (one checked while the next is read), so the lists of the one
	// checked last, an Ops and a Watch list, serve the group read after
	// it; more would only sit in memory.
	maxRecycled = 2
	// minRecycled: smaller lists are left to the allocator, which is
	// good at them.
	minRecycled = 4 << 10
	// maxRecycledRecords: larger lists are not kept. A group too large to
	// sit beside another (a long key checked whole, up to the memory
	// budget) must not keep its lists in memory while the groups after
	// it are read: the budget counts on them being gone. Groups and spans
	// of a long run are 64 k records at most.
	maxRecycledRecords = 128 << 10
)

// PoisonRecycled (tests only): Recycle fills the records it takes back
// with values no history holds and never hands them out again, so that a
// check still using a record of a group it has finished with reads those
// values, never another group's by chance: a test that looks at what the
// check says sees them.
var PoisonRecycled bool

// poisoned is what a poisoned record holds.
const poisoned = "<recycled record>"

// NewRecords is an empty list of records with room for n, taken from the
// lists Recycle was given back where one is large enough.
func NewRecords(n int) []Record {
	if n >= minRecycled {
		recycled.mu.Lock()
		best := -1
		for i, l := range recycled.lists {
			if cap(l) >= n && (best < 0 || cap(l) < cap(recycled.lists[best])) {
				best = i
			}
		}
		if best >= 0 {
			l := recycled.lists[best]
			recycled.lists = slices.Delete(recycled.lists, best, best+1)
			recycled.mu.Unlock()
			return l
		}
		recycled.mu.Unlock()
	}
	return make([]Record, 0, n)
}

// Recycle gives h's lists of operations and recording-watcher entries back
// for NewRecords to hand out again, and leaves h without them. The caller
// and every check it ran must be done with h's records: no pointer to one
// may outlive this call.
func (h *History) Recycle() {
	for _, l := range []*[]Record{&h.Ops, &h.Watch} {
		recycle(*l)
		*l = nil
	}
}

func recycle(l []Record) {
	if PoisonRecycled { // whatever its size: tests' groups are small
		l = l[:cap(l)]
		for i := range l {
			l[i] = Record{Kind: poisoned, Op: poisoned, Key: poisoned, Value: poisoned, Read: poisoned, Marker: poisoned, Error: poisoned,
				ErrClass: poisoned, Path: poisoned, Node: poisoned, Outcome: poisoned, Found: true, HasExpect: true,
				Client: -1, Watcher: -1, Rev: 1 << 62, ExpectRev: 1 << 62, Intended: 1 << 62, Invoke: 1 << 62, Complete: 1 << 62, At: 1 << 62,
				TTL: 1 << 62, Count: 1 << 62}
		}
		return
	}
	if cap(l) < minRecycled || cap(l) > maxRecycledRecords {
		return
	}
	// Not cleared: what the records point to (their own small strings)
	// stays reachable until the next group overwrites them, a group's
	// worth at most, where clearing cost 1 % of checking an hour.
	l = l[:0]
	recycled.mu.Lock()
	defer recycled.mu.Unlock()
	if len(recycled.lists) < maxRecycled {
		recycled.lists = append(recycled.lists, l)
		return
	}
	// Keep the largest: a small list fits fewer groups.
	smallest := 0
	for i, k := range recycled.lists {
		if cap(k) < cap(recycled.lists[smallest]) {
			smallest = i
		}
	}
	if cap(l) > cap(recycled.lists[smallest]) {
		recycled.lists[smallest] = l
	}
}

// DropRecycled lets go of the lists kept for NewRecords: a check calls it
// when it ends, so that a process that goes on (a run's harness) does not
// keep them.
func DropRecycled() {
	recycled.mu.Lock()
	defer recycled.mu.Unlock()
	recycled.lists = nil
}
