package checker

import (
	"cmp"
	"math"
	"slices"

	"github.com/anishathalye/porcupine"

	"github.com/kvharness/kvharness/history"
)

// infinity is the return time of an operation whose outcome is unknown: it
// may take effect at any point after its invocation.
const infinity = math.MaxInt64

// opsFilter selects which records take part in a linearizability check.
type opsFilter struct {
	includeGets bool
	// path: which gets (history.PathDirect or PathLeader).
	path string
	// seqs holds each key's message sequence when every one was seen.
	seqs map[string]*keySequence
	// skipKeys are left out whole (keys written with a TTL).
	skipKeys map[string]bool
}

// opsScratch holds the lists toOperations makes, to be made again for the
// next group in the same memory: made new for every group, they were a
// quarter of what checking allocated. The operations it returns point into
// them, so they may be handed on only once nothing holds those (see
// linearizable.add: not after a search, whose goroutines Porcupine may
// leave running).
type opsScratch struct {
	order []timedOp
	ins   []kvInput
	outs  []kvOutput
	res   []porcupine.Operation
}

// maxScratchOps: the lists of a group of more operations are not kept for
// the next. A group that large is one the memory budget lets sit alone
// (as history.Recycle keeps no list of more than 128 k records).
const maxScratchOps = 128 << 10

// timedOp is a record taking part, by invoke time: sorted as (time,
// index) pairs side by side, not through pointers to records, which are
// large and would be fetched from all over memory.
type timedOp struct {
	invoke int64
	i      int32
}

// reuse is list emptied if it has room for n, else a new list of n.
func reuse[T any](list []T, n int) []T {
	if cap(list) < n {
		return make([]T, 0, n)
	}
	return list[:0]
}

// toOperations turns resolved records into Porcupine operations, made in
// scratch's lists (nil: new ones).
//
// Porcupine needs one outstanding operation per client. A client whose
// operation is unknown (return time infinity) goes on with new operations,
// so from then on it is given a fresh Porcupine client id.
// Only operations of the check take part (takesPart).
func toOperations(ops []*history.Record, finals []history.Record, f opsFilter, scratch *opsScratch) []porcupine.Operation {
	if scratch == nil {
		scratch = &opsScratch{}
	}
	order := reuse(scratch.order, len(ops))
	for i, r := range ops {
		if takesPart(r, f) {
			order = append(order, timedOp{r.Invoke, int32(i)})
		}
	}
	scratch.order = order
	slices.SortFunc(order, func(a, b timedOp) int { return cmp.Or(cmp.Compare(a.invoke, b.invoke), cmp.Compare(a.i, b.i)) })

	// Inputs and outputs in two slabs, each operation pointing into them:
	// a value in an interface is an allocation of its own, two per
	// operation, and a million-operation check would spend its time on them.
	// With room for every operation, never grown: the operations point
	// into them.
	n := len(order) + len(finals)
	ins, outs := reuse(scratch.ins, n), reuse(scratch.outs, n)
	ids := map[int]int{}
	next := 0
	idOf := func(client int) int {
		id, ok := ids[client]
		if !ok {
			id = next
			next++
			ids[client] = id
		}
		return id
	}
	res := reuse(scratch.res, n)
	// A group's ops are mostly of one key: its sequence looked up once.
	lastKey, lastSeq := "", (*keySequence)(nil)
	var seqOf func(key string) *keySequence
	if f.seqs != nil {
		seqOf = func(key string) *keySequence {
			if key != lastKey || lastSeq == nil {
				lastKey, lastSeq = key, f.seqs[key]
				if lastSeq == nil {
					lastSeq = noMessages
				}
			}
			return lastSeq
		}
	}
	for _, o := range order {
		r := ops[o.i]
		id := idOf(r.Client)
		ret, outcome := r.Complete, r.Outcome
		if r.Outcome == history.Unknown {
			// The unknown op keeps the old id; the client goes on under a new one.
			ids[r.Client] = next
			next++
			if r.Rev != 0 {
				// Resolved: it happened, with this revision, before it was seen.
				outcome = history.OK
			} else {
				ret = infinity
			}
		}
		ins = append(ins, input(r, seqOf))
		conflict, curRev := conflictOf(r)
		outs = append(outs, kvOutput{Outcome: outcome, Conflict: conflict, CurRev: curRev, Rev: r.Rev, Found: r.Found, Read: r.Read})
		res = append(res, porcupine.Operation{
			ClientId: id,
			Input:    &ins[len(ins)-1],
			Call:     r.Invoke,
			Output:   &outs[len(outs)-1],
			Return:   ret,
			Metadata: r.Client, // what describe needs; a whole record per op would double the checker's memory
		})
	}
	for i := range finals {
		r := &finals[i]
		if f.skipKeys[r.Key] {
			continue
		}
		ins = append(ins, kvInput{Op: opFinal, Key: r.Key})
		outs = append(outs, kvOutput{Outcome: history.OK, Rev: r.Rev, Found: r.Found, Read: r.Read, Marker: r.Marker})
		res = append(res, porcupine.Operation{
			ClientId: next,
			Input:    &ins[len(ins)-1],
			Call:     r.Invoke,
			Output:   &outs[len(outs)-1],
			Return:   r.Complete,
		})
		next++
	}
	scratch.ins, scratch.outs, scratch.res = ins, outs, res
	return res
}

// takesPart: r is an operation of the check f selects. Operations that
// cannot have changed or observed anything are left out: failed reads, and
// definite failures without a conflict (a put refused for its size says
// nothing about the key).
func takesPart(r *history.Record, f opsFilter) bool {
	isWrite := history.IsWrite(r.Op)
	switch {
	case f.skipKeys[r.Key]:
		return false
	case !isWrite && !(f.includeGets && r.Op == history.OpGet && history.PathOf(r) == f.path):
		return false
	case r.Outcome == history.Fail:
		conflict, _ := conflictOf(r)
		return isWrite && conflict
	case r.Outcome == history.Unknown:
		return isWrite
	}
	return true
}

// input is r as the model takes it; a write carries its key's sequence
// (seqOf; noMessages for a key the stream never held), when sequences are
// known (f.seqs).
func input(r *history.Record, seqOf func(key string) *keySequence) kvInput {
	in := kvInput{Op: r.Op, Key: r.Key, Value: r.Value, Expect: r.ExpectRev, HasExpect: r.HasExpect}
	if history.IsWrite(r.Op) && seqOf != nil {
		in.Seq = seqOf(r.Key)
	}
	return in
}

// conflictOf reads a refused write's error: whether it is a conflict — the
// precondition was evaluated and false — and the key's revision the server
// named then (0: none). The text decides over the class recorded: a
// "wrong last sequence" that names no revision is not taken for a
// comparison (history.WrongLastSequence), so it is busy rather than a
// conflict. A conflict without any server text (a hand-built history) is
// a conflict at no named revision.
func conflictOf(r *history.Record) (conflict bool, curRev uint64) {
	if r.ErrClass != history.ClassConflict {
		return false, 0
	}
	rev, named, found := history.WrongLastSequence(r.Error)
	if found && !named {
		return false, 0
	}
	return true, rev
}
