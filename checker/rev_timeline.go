package checker

import (
	"math"
	"sort"
)

// revTimeline is the highest revision of some kind (known, observed) by
// each millisecond of the run. It is the one part of the facts that grows
// with the run's length. While the history is read it holds 4 bytes a
// millisecond (14 MB an hour) while every revision fits in 32 bits, which is
// every stream short of four billion messages, and 8 bytes from the first
// revision that does not. Once settled (carried forward, never raised
// again), it is packed: each page of pageMs milliseconds holds its first
// revision and each millisecond's rise above it, in 2 bytes while the page
// rises by less than 64k revisions (64k writes a second), so an hour holds
// 7 MB while the checks run.
type revTimeline struct {
	small  []uint32
	big    []uint64 // once a revision needs it; small is then nil
	packed []timelinePage
	n      int // the packed timeline's length
}

// pageMs: the milliseconds of a packed page.
const pageMs = 1024

// timelinePage is pageMs milliseconds of a packed timeline: rises above
// base in the narrowest of the three that holds them.
type timelinePage struct {
	base   uint64
	rise16 []uint16
	rise32 []uint32
	rise64 []uint64
}

// maxTimelineMs bounds the timeline (about 9.3 hours, 134 MB): a later time
// counts as its last millisecond, which only makes the checks claim less.
const maxTimelineMs = 1 << 25

// msOf is the timeline's millisecond of time at (ns since the run's start).
func msOf(at int64) int {
	return int(min(max(at/1e6, 0), maxTimelineMs))
}

func (t *revTimeline) len() int {
	switch {
	case t.packed != nil:
		return t.n
	case t.big != nil:
		return len(t.big)
	}
	return len(t.small)
}

func (t *revTimeline) at(ms int) uint64 {
	switch {
	case t.packed != nil:
		p, i := &t.packed[ms/pageMs], ms%pageMs
		switch {
		case p.rise16 != nil:
			return p.base + uint64(p.rise16[i])
		case p.rise32 != nil:
			return p.base + uint64(p.rise32[i])
		}
		return p.base + p.rise64[i]
	case t.big != nil:
		return t.big[ms]
	}
	return uint64(t.small[ms])
}

// raise makes ms's revision at least rev, and says whether rev is above
// what it held.
func (t *revTimeline) raise(ms int, rev uint64) bool {
	if t.packed != nil {
		panic("revTimeline: raised once packed")
	}
	if rev > math.MaxUint32 && t.big == nil {
		t.big = make([]uint64, len(t.small), max(cap(t.small), ms+1))
		for i, r := range t.small {
			t.big[i] = uint64(r)
		}
		t.small = nil
	}
	if t.big != nil {
		if ms >= len(t.big) {
			t.big = append(t.big, make([]uint64, ms+1-len(t.big))...)
		}
		if rev <= t.big[ms] {
			return false
		}
		t.big[ms] = rev
		return true
	}
	if ms >= len(t.small) {
		t.small = append(t.small, make([]uint32, ms+1-len(t.small))...)
	}
	if uint32(rev) <= t.small[ms] {
		return false
	}
	t.small[ms] = uint32(rev)
	return true
}

// settle makes the timeline say what was reached *by* each millisecond
// (carryForward), and packs it: it is only read from then on.
func (t *revTimeline) settle() {
	t.carryForward()
	t.pack()
}

// carryForward makes the timeline say what was reached *by* each
// millisecond: each one at least the one before.
func (t *revTimeline) carryForward() {
	for i := 1; i < t.len(); i++ {
		if t.at(i-1) > t.at(i) {
			t.raise(i, t.at(i-1))
		}
	}
}

// pack packs a carried-forward timeline into pages (see revTimeline).
func (t *revTimeline) pack() {
	n := t.len()
	packed := make([]timelinePage, 0, (n+pageMs-1)/pageMs)
	for from := 0; from < n; from += pageMs {
		to := min(from+pageMs, n)
		p := timelinePage{base: t.at(from)}
		switch top := t.at(to-1) - p.base; { // carried forward: the page's highest is its last
		case top <= math.MaxUint16:
			p.rise16 = risesOf[uint16](t, from, to, p.base)
		case top <= math.MaxUint32:
			p.rise32 = risesOf[uint32](t, from, to, p.base)
		default:
			p.rise64 = risesOf[uint64](t, from, to, p.base)
		}
		packed = append(packed, p)
	}
	t.packed, t.n, t.small, t.big = packed, n, nil, nil
}

// risesOf is each millisecond's rise above base, from to to, in R.
func risesOf[R uint16 | uint32 | uint64](t *revTimeline, from, to int, base uint64) []R {
	out := make([]R, to-from)
	for i := range out {
		out[i] = R(t.at(from+i) - base)
	}
	return out
}

// before is the revision reached by the last full millisecond before time
// at (ns), once carried forward: an event in the same millisecond as at is
// not counted, which only makes the checks claim less.
func (t *revTimeline) before(at int64) uint64 {
	ms := int(min(at/1e6, maxTimelineMs)) - 1
	if ms < 0 || t.len() == 0 {
		return 0
	}
	return t.at(min(ms, t.len()-1))
}

// firstReaching is the first millisecond whose revision is at least rev,
// once carried forward (the timeline's length if none is).
func (t *revTimeline) firstReaching(rev uint64) int {
	return sort.Search(t.len(), func(i int) bool { return t.at(i) >= rev })
}
