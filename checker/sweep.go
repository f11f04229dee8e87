package checker

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/anishathalye/porcupine"

	"github.com/kvharness/kvharness/history"
)

// sweepKey tries to linearize one key's operations without a search, and
// reports whether it found a linearization. It needs the key's whole message
// sequence (see keySequence): then the order of the writes that took effect
// is known — the order of their messages — and only the time at which each
// one took effect is left to choose.
//
// It chooses every message's point as early as its constraints allow, in one
// pass over the sequence, places each read and refused write in a stretch of
// time where the key held what the operation saw, and then replays the
// resulting order through the model, step by step, with every point inside
// its operation's call and return. That replay is what makes a "yes" sound:
// it is a linearization Porcupine would accept. A "no" proves nothing — the
// caller searches with Porcupine then, which also draws the failing key.
//
// Time and memory are linear in the key's operations (plus a sort), where
// Porcupine's memo grows with their square.
func sweepKey(ops []porcupine.Operation) bool {
	return sweepWhy(ops) == ""
}

// sweepWhy is sweepKey saying why it found no linearization ("" if it did).
// Who wrote a marker is a guess where deletes overlap; it tries three ways
// of guessing.
func sweepWhy(ops []porcupine.Operation) string {
	why := sweepWith(ops, false, true)
	if why != "" && why != "sequence" {
		why = sweepWith(ops, true, true)
	}
	if why != "" && why != "sequence" {
		why = sweepWith(ops, true, false) // without the watcher's clue (see newKeySweep)
	}
	return why
}

func sweepWith(ops []porcupine.Operation, ackedFirst, seen bool) string {
	s, ok := newKeySweep(ops, seen)
	if !ok {
		return "sequence"
	}
	s.ackedFirst = ackedFirst
	for rounds, retries := 0, 0; rounds < maxSweepRounds; rounds++ {
		if !s.schedule() {
			// Repair and try again: an acknowledged delete left unused gets
			// a marker of its own; else a delete chosen for a marker may
			// have held it back, and the latest marker one did gets another.
			if retries < maxSweepRetries && (s.unusedAcked >= 0 && s.pinAcked(s.unusedAcked) || s.banDelay(-s.stuck)) {
				retries++
				rounds--
				continue
			}
			return fmt.Sprintf("schedule %d", s.stuck)
		}
		forced, ok := s.force()
		if !ok {
			return fmt.Sprintf("force %d", s.stuck)
		}
		if !forced {
			order, ok := s.place()
			if !ok {
				return fmt.Sprintf("place %d", s.stuck)
			}
			if !s.replays(order) {
				return "replay"
			}
			return ""
		}
	}
	return "rounds"
}

// maxSweepRounds bounds the rounds of forcing (see force); a real
// history needs one or two. maxSweepRetries bounds the deletes the
// schedule may take back (see banDelay).
const (
	maxSweepRounds  = 16
	maxSweepRetries = 256
)

// maxSlotScan bounds how many stretches of time a read or a refused write
// may span before the sweep gives up on placing it.
const maxSlotScan = 64

// minTime and maxTime stand for "no bound".
const (
	minTime = math.MinInt64
	maxTime = math.MaxInt64
)

// keySweep is the state of one key's sweep. Messages are numbered 1..n in
// sequence order; "slot j" is the stretch of time from message j's point
// to message j+1's, when the key holds message j (slot 0: before any).
type keySweep struct {
	ops     []porcupine.Operation
	msgs    []message    // msgs[j-1] is message j
	seq     *keySequence // msgs's, numbering them by revision
	writer  []int        // message j's writer (an index into ops), -1: a delete still to choose
	lo, hi  []int64      // bounds on message j's point from the reads and refusals around it
	t       []int64      // message j's point in the current schedule; t[0] = minTime
	markers bool         // some message is a marker
	// deletes without a revision, by marker kind, sorted by call: any of
	// them may have written any marker of its kind; expecting[j] are those
	// that expected message j-1's revision, so only marker j can be theirs.
	deletes      map[string][]int
	expecting    map[int][]int
	ackedDeletes []int // of both: the acknowledged ones, which must each have written a marker; in op order, so repairs are the same every run
	chosen       []int // per message, the delete chosen for it in the current schedule, else -1
	// flexible are operations that fit more than one stretch of time: gets
	// of nothing where the key had markers, and conflicts whose expected
	// revision the key held between two messages. See force.
	flexible []int
	// ackedFirst: a marker takes an acknowledged delete called later over an
	// unknown one already called (see schedule).
	ackedFirst bool
	// banned: deletes taken back from a marker (marker, delete), see banDelay.
	banned map[[2]int]bool
	// pinned: marker → the delete a repair gave it (see pinAcked);
	// unusedAcked: the acknowledged delete the last schedule left unused.
	pinned      map[int]int
	unusedAcked int
	// stuck: what the sweep could not place — an operation (its index),
	// or -j for message j when the schedule failed there (see banDelay).
	stuck int
}

func newKeySweep(ops []porcupine.Operation, seen bool) (*keySweep, bool) {
	var seq *keySequence
	for _, op := range ops {
		if in := op.Input.(*kvInput); in.Seq != nil {
			seq = in.Seq
			break
		}
	}
	if seq == nil {
		return nil, false
	}
	s := &keySweep{ops: ops, seq: seq, deletes: map[string][]int{}, expecting: map[int][]int{}}
	s.msgs = seq.ordered()
	for _, m := range s.msgs {
		s.markers = s.markers || m.Marker != history.MarkerNone
	}
	n := len(s.msgs)
	s.writer = slices.Repeat([]int{-1}, n+1)
	s.lo = slices.Repeat([]int64{minTime}, n+2)
	s.hi = slices.Repeat([]int64{maxTime}, n+2)
	s.t = make([]int64, n+2)
	s.chosen = make([]int, n+1)

	for i, op := range ops {
		in, out := op.Input.(*kvInput), op.Output.(*kvOutput)
		switch {
		case in.Op == history.OpGet || in.Op == opFinal:
			if !s.boundRead(i, op, in, out) {
				return nil, false
			}
		case out.Outcome == history.Fail: // only conflicts reach the model
			if !s.boundRefusal(i, op, in, out) {
				return nil, false
			}
		case out.Rev != 0: // acknowledged, or unknown but seen in the stream
			j, ok := s.seq.number(out.Rev)
			if !ok || s.writer[j] >= 0 || s.msgs[j-1].Marker != markerOf(in.Op) {
				return nil, false
			}
			s.writer[j] = i
			s.lo[j] = max(s.lo[j], op.Call)
			s.hi[j] = min(s.hi[j], op.Return)
		case (in.Op == history.OpDelete || in.Op == history.OpPurge) && in.HasExpect:
			j := 1 // the marker that follows the expected revision
			if in.Expect != 0 {
				k, ok := s.seq.number(in.Expect)
				j = k + 1
				if !ok {
					j = 0
				}
			}
			if j == 0 || j > n || s.msgs[j-1].Marker != markerOf(in.Op) {
				if out.Outcome == history.OK {
					return nil, false
				}
				continue // an unknown one that did not take effect: after everything
			}
			s.expecting[j] = append(s.expecting[j], i)
			if out.Outcome == history.OK {
				s.ackedDeletes = append(s.ackedDeletes, i)
			}
		case in.Op == history.OpDelete || in.Op == history.OpPurge:
			kind := markerOf(in.Op)
			s.deletes[kind] = append(s.deletes[kind], i)
			if out.Outcome == history.OK {
				s.ackedDeletes = append(s.ackedDeletes, i)
			}
		case out.Outcome == history.Unknown:
			// A value never seen in the stream: it did not take effect,
			// and goes after everything (place).
		default:
			return nil, false // an acknowledged value write without a revision
		}
	}
	for _, list := range s.deletes {
		slices.SortFunc(list, func(a, b int) int { return cmp.Or(cmp.Compare(ops[a].Call, ops[b].Call), cmp.Compare(a, b)) })
	}
	// A marker the recording watcher received existed by then: its delete
	// was invoked before. Not the model's rule (it knows no watcher) but
	// the clue that picks the right delete among overlapping ones; a
	// schedule it makes impossible only leaves the key to the search.
	for j, m := range s.msgs {
		if seen && m.Marker != history.MarkerNone && m.Seen > 0 && s.writer[j+1] < 0 {
			s.hi[j+1] = min(s.hi[j+1], m.Seen)
		}
	}
	return s, true
}

// markerOf is the kind of message a write leaves.
func markerOf(op string) string {
	switch op {
	case history.OpDelete:
		return history.MarkerDel
	case history.OpPurge:
		return history.MarkerPurge
	}
	return history.MarkerNone
}

// boundRead turns a read of one known message into bounds: that message
// took effect before the read returned, the next one after it was called.
// Reads of nothing are placed later (place), in whichever empty stretch fits.
func (s *keySweep) boundRead(i int, op porcupine.Operation, in *kvInput, out *kvOutput) bool {
	n := len(s.msgs)
	var k int
	switch {
	case out.Found || out.Marker != "":
		j, ok := s.seq.number(out.Rev)
		if !ok {
			return false
		}
		k = j
	case in.Op == opFinal || !s.markers:
		k = 0 // only the stretch before the first message is empty
	default:
		s.flexible = append(s.flexible, i)
		return true
	}
	if k > 0 {
		s.hi[k] = min(s.hi[k], op.Return)
	}
	if k < n {
		s.lo[k+1] = max(s.lo[k+1], op.Call)
	}
	return true
}

// boundRefusal does the same for a refused write where one bound suffices:
// a refusal of "nothing yet" came after the first message, one of the last
// message's revision before it. Others are left to force.
func (s *keySweep) boundRefusal(i int, op porcupine.Operation, in *kvInput, out *kvOutput) bool {
	n := len(s.msgs)
	if out.CurRev != 0 {
		// The server named the key's revision: that message was written
		// before the refusal returned (see casWrite; the refusal may come
		// later, from a stale leader). The rest as for any refusal; fits
		// keeps it from a slot before that message.
		j, ok := s.seq.number(out.CurRev)
		if !ok || (in.Op != history.OpCreate && out.CurRev == in.Expect) {
			return false
		}
		s.hi[j] = min(s.hi[j], op.Return)
	}
	k := 0 // the message the refusal must not see: a create's "nothing yet"
	if in.Op != history.OpCreate {
		if !in.HasExpect && in.Op != history.OpUpdate {
			return false
		}
		j, ok := s.seq.number(in.Expect)
		switch {
		case ok:
			k = j
		case in.Expect != 0:
			return true // the key never had that revision: refused anywhere
		}
	}
	switch {
	case k == 0 && n == 0:
		return false // nothing ever changed: the refusal cannot be placed
	case k == 0:
		s.hi[1] = min(s.hi[1], op.Return)
	case k == n:
		s.lo[n] = max(s.lo[n], op.Call)
	default:
		s.flexible = append(s.flexible, i)
	}
	return true
}

// schedule gives every message its earliest point: after the one before,
// within its own bounds. A marker whose delete is not known by revision
// takes one of the deletes that may have written it (pickDelete), or the
// one a repair pinned to it.
func (s *keySweep) schedule() bool {
	n := len(s.msgs)
	// latest[j]: no later point is open to message j, whatever the deletes.
	latest := make([]int64, n+2)
	latest[n+1] = maxTime
	for j := n; j >= 1; j-- {
		latest[j] = min(s.hi[j], latest[j+1])
	}
	used := make(map[int]bool)
	for _, d := range s.pinned {
		used[d] = true // kept for its marker
	}
	pool := map[string]*deleteHeap{}
	next := map[string]int{} // per kind, the first delete not yet in the pool
	s.t[0] = minTime
	s.unusedAcked = -1
	for j := 1; j <= n; j++ {
		at := max(s.lo[j], s.t[j-1])
		s.chosen[j] = -1
		deadline := s.hi[j]
		if s.writer[j] < 0 {
			d, pinned := s.pinned[j]
			if !pinned {
				kind := s.msgs[j-1].Marker
				h := pool[kind]
				if h == nil {
					h = &deleteHeap{ops: s.ops, used: used}
					pool[kind] = h
				}
				// Deletes enter the pool once called: by now (patient), or
				// by the latest point open to the marker (eager to use an
				// acknowledged one, which must have written some marker).
				list, limit := s.deletes[kind], at
				if s.ackedFirst {
					limit = latest[j]
				}
				for ; next[kind] < len(list) && s.ops[list[next[kind]]].Call <= limit; next[kind]++ {
					heap.Push(h, list[next[kind]])
				}
				h.drop(at)
				if h.Len() == 0 && next[kind] < len(list) && s.ops[list[next[kind]]].Call <= latest[j] {
					heap.Push(h, list[next[kind]]) // none called yet: the next one to be
					next[kind]++
				}
				d = s.pickDelete(j, latest[j], h)
			}
			if d < 0 {
				s.stuck = -j
				return false
			}
			used[d] = true
			s.chosen[j] = d
			at = max(at, s.ops[d].Call)
			deadline = min(deadline, s.ops[d].Return)
		}
		if at > deadline {
			s.stuck = -j
			return false
		}
		s.t[j] = at
	}
	s.t[n+1] = maxTime
	// An acknowledged delete must have written one of the markers.
	for _, d := range s.ackedDeletes {
		if !used[d] {
			s.stuck, s.unusedAcked = -n, d
			return false
		}
	}
	return true
}

// pickDelete chooses who wrote marker j, from deletes still able to (the
// pool holds none that returned before the marker's earliest point), to be
// placed no later than latest. A delete that expected the revision before
// it comes first — acknowledged, it wrote this marker; unknown, this marker
// is the only one it can have written, so taking it spares the pool. Else
// the pool's first (see deleteHeap); pool.used are those already taken.
func (s *keySweep) pickDelete(j int, latest int64, pool *deleteHeap) int {
	used := pool.used
	bound := -1
	for _, d := range s.expecting[j] {
		op := s.ops[d]
		if used[d] {
			continue
		}
		if op.Output.(*kvOutput).Outcome == history.OK {
			return d
		}
		if !s.banned[[2]int{j, d}] && op.Call <= latest && (bound < 0 || op.Call < s.ops[bound].Call) {
			bound = d
		}
	}
	if bound >= 0 {
		return bound
	}
	var skipped []int // banned for this marker, back in the pool after
	defer func() {
		for _, d := range skipped {
			heap.Push(pool, d)
		}
	}()
	for pool.Len() > 0 {
		d := heap.Pop(pool).(int)
		switch {
		case used[d]: // pinned to another marker
		case s.banned[[2]int{j, d}]:
			skipped = append(skipped, d)
		default:
			return d
		}
	}
	return -1
}

// banDelay takes back, for the next schedule, the delete chosen for the
// latest marker before message j whose delete came later than the marker
// could have: another may let the messages after it come in time. It
// reports whether there was one.
func (s *keySweep) banDelay(j int) bool {
	for i := min(j, len(s.msgs)); i >= 1; i-- {
		d := s.chosen[i]
		if d < 0 || s.ops[d].Call <= max(s.lo[i], s.t[i-1]) || s.pinned[i] == d {
			continue
		}
		if s.banned == nil {
			s.banned = map[[2]int]bool{}
		}
		s.banned[[2]int{i, d}] = true
		return true
	}
	return false
}

// pinAcked repairs a schedule that left an acknowledged delete d unused: it
// pins d to the marker of its kind nearest to its call that it can have
// written and whose own delete is unknown (that one then did not happen),
// else to the nearest such marker at all (whose delete is then repaired in
// turn). It reports whether there was one.
func (s *keySweep) pinAcked(d int) bool {
	op := s.ops[d]
	kind := markerOf(op.Input.(*kvInput).Op)
	best, bestUnknown := -1, false
	for j := 1; j <= len(s.msgs); j++ {
		m := s.msgs[j-1]
		if m.Marker != kind || s.writer[j] >= 0 || s.t[j-1] > op.Return || (m.Seen > 0 && m.Seen < op.Call) {
			continue
		}
		if _, taken := s.pinned[j]; taken {
			continue
		}
		if in := op.Input.(*kvInput); in.HasExpect && (j < 2 && in.Expect != 0 || j >= 2 && s.msgs[j-2].Rev != in.Expect) {
			continue
		}
		unknown := s.chosen[j] < 0 || s.ops[s.chosen[j]].Output.(*kvOutput).Outcome != history.OK
		if best < 0 || unknown && !bestUnknown || unknown == bestUnknown && abs(s.t[j]-op.Call) < abs(s.t[best]-op.Call) {
			best, bestUnknown = j, unknown
		}
	}
	if best < 0 {
		return false
	}
	if s.pinned == nil {
		s.pinned = map[int]int{}
	}
	s.pinned[best] = d
	return true
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// deleteHeap orders deletes by return (unknown ones, returning never, last),
// then by call.
type deleteHeap struct {
	ops   []porcupine.Operation
	items []int
	used  map[int]bool
}

// drop removes the deletes that returned before at (they can no longer
// write a marker; schedule fails on one if it was acknowledged) and those
// already used.
func (h *deleteHeap) drop(at int64) {
	for h.Len() > 0 && (h.ops[h.top()].Return < at || h.used[h.top()]) {
		heap.Pop(h)
	}
}

func (h *deleteHeap) Len() int { return len(h.items) }
func (h *deleteHeap) Less(a, b int) bool {
	x, y := h.ops[h.items[a]], h.ops[h.items[b]]
	return x.Return < y.Return || x.Return == y.Return && x.Call < y.Call
}
func (h *deleteHeap) Swap(a, b int) { h.items[a], h.items[b] = h.items[b], h.items[a] }
func (h *deleteHeap) Push(x any)    { h.items = append(h.items, x.(int)) }
func (h *deleteHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
func (h *deleteHeap) top() int { return h.items[0] }

// force checks each flexible operation against the schedule. One that
// overlaps no stretch of time it fits needs such a stretch moved onto it:
//   - the last stretch that fits and starts before its return made to last
//     until its call (moving an earlier one up to the call would move this
//     one too) — when the message that ends it may come that late;
//   - else the first stretch that fits after its return made to start by
//     then — when a marker opens it whose delete is still to be chosen,
//     the one thing the schedule did not place as early as it could.
//
// It reports whether it moved anything.
func (s *keySweep) force() (forced, ok bool) {
	n := len(s.msgs)
	for _, i := range s.flexible {
		op := s.ops[i]
		if _, fits := s.slotFor(op); fits {
			continue
		}
		last := sort.Search(n+1, func(j int) bool { return s.t[j] > op.Return }) - 1
		j := last
		for ; j >= 0 && j > last-maxSlotScan && !s.fits(op, j); j-- {
		}
		if j >= 0 && j > last-maxSlotScan && j < n && op.Call <= s.hi[j+1] {
			if s.lo[j+1] < op.Call {
				s.lo[j+1] = op.Call
				forced = true
			}
			continue
		}
		j = last + 1
		for ; j <= n && j < last+1+maxSlotScan && !s.fits(op, j); j++ {
		}
		if j <= n && j < last+1+maxSlotScan && s.writer[j] < 0 {
			if s.hi[j] > op.Return {
				s.hi[j] = op.Return
				forced = true
			}
			continue
		}
		s.stuck = i
		return false, false
	}
	return forced, true
}

// placed is an operation at its point in the linearization.
type placed struct {
	op     int   // index into ops
	slot   int   // 1..n: after message slot's point; n+1: after everything
	writer bool  // the operation that wrote message slot
	at     int64 // its point
}

// place builds the linearization: each message's writer at its point, each
// other operation in a slot that fits it, unknown writes never seen last.
func (s *keySweep) place() ([]placed, bool) {
	n := len(s.msgs)
	order := make([]placed, 0, len(s.ops))
	isWriter := make([]bool, len(s.ops))
	for j := 1; j <= n; j++ {
		w := s.writer[j]
		if w < 0 {
			w = s.chosen[j]
		}
		order = append(order, placed{op: w, slot: j, writer: true, at: s.t[j]})
		if w >= 0 { // always, once a schedule was made
			isWriter[w] = true
		}
	}
	for i, op := range s.ops {
		if isWriter[i] {
			continue
		}
		if out := op.Output.(*kvOutput); out.Outcome == history.Unknown && op.Input.(*kvInput).Op != history.OpGet {
			// A write that did not take effect: after everything.
			order = append(order, placed{op: i, slot: n + 1, at: maxTime})
			continue
		}
		j, ok := s.slotFor(op)
		if !ok {
			s.stuck = i
			return nil, false
		}
		order = append(order, placed{op: i, slot: j, at: max(op.Call, s.t[j])})
	}
	// A slot opens with its message's writer; the rest follow by point,
	// then in call order (a sort by comparison, not by reflection: this
	// one was a fortieth of checking an hour's history).
	slices.SortFunc(order, func(a, b placed) int {
		if a.slot != b.slot {
			return cmp.Compare(a.slot, b.slot)
		}
		if a.writer != b.writer {
			if a.writer {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.op, b.op))
	})
	return order, true
}

// numberOf is the message at rev counted from 1, 0 if there is none.
func (s *keySweep) numberOf(rev uint64) int {
	j, _ := s.seq.number(rev)
	return j
}

// fits: op, neither a message's writer nor a write that did not take
// effect, can be linearized in slot j — the key held there what it saw.
func (s *keySweep) fits(op porcupine.Operation, j int) bool {
	in, out := op.Input.(*kvInput), op.Output.(*kvOutput)
	switch {
	case in.Op != history.OpGet && in.Op != opFinal: // a refused write
		switch {
		case out.CurRev != 0 && j < s.numberOf(out.CurRev):
			return false // before the message it named
		case in.Op == history.OpCreate:
			return j > 0
		case j == 0:
			return in.Expect != 0
		}
		return s.msgs[j-1].Rev != in.Expect
	case out.Found || out.Marker != "":
		return j > 0 && s.msgs[j-1].Rev == out.Rev
	case in.Op == opFinal:
		return j == 0
	}
	return j == 0 || s.msgs[j-1].Marker != history.MarkerNone
}

// slotFor finds the first slot that overlaps op's call and return and fits.
func (s *keySweep) slotFor(op porcupine.Operation) (int, bool) {
	n := len(s.msgs)
	if out := op.Output.(*kvOutput); out.Found || out.Marker != "" {
		j := s.numberOf(out.Rev) // one slot only, however far from the call
		return j, s.t[j] <= op.Return && s.t[j+1] >= op.Call && s.fits(op, j)
	}
	// The first slot that ends at or after the call: t[j+1] >= call.
	first := sort.Search(n+1, func(j int) bool { return s.t[j+1] >= op.Call })
	for j := first; j <= n && j < first+maxSlotScan; j++ {
		if s.t[j] > op.Return {
			break
		}
		if s.fits(op, j) {
			return j, true
		}
	}
	return 0, false
}

// replays checks the linearization on its own terms: every operation once,
// each at a point within its call and return, points in order, and the
// model accepting each step. Whatever built the order, passing this is a
// linearization.
func (s *keySweep) replays(order []placed) bool {
	if len(order) != len(s.ops) {
		return false
	}
	seen := make([]bool, len(s.ops))
	state := initState()
	last := int64(minTime)
	for _, p := range order {
		op := s.ops[p.op]
		if seen[p.op] || p.at < op.Call || p.at > op.Return || p.at < last {
			return false
		}
		seen[p.op] = true
		last = p.at
		ok, next := step(state, op.Input.(*kvInput), op.Output.(*kvOutput))
		if !ok {
			return false
		}
		state = next
	}
	return true
}
