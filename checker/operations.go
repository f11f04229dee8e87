package checker

import (
	"math"
	"sort"

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
}

// toOperations turns resolved records into Porcupine operations.
//
// Porcupine needs one outstanding operation per client. A client whose
// operation is unknown (return time infinity) goes on with new operations,
// so from then on it is given a fresh Porcupine client id.
//
// Operations that cannot have changed or observed anything are left out:
// failed reads, and definite failures without a conflict (a put refused for
// its size says nothing about the key).
func toOperations(ops []history.Record, finals []history.Record, f opsFilter) []porcupine.Operation {
	// By invoke time; sorting indexes, not records, which are large.
	order := make([]int32, len(ops))
	for i := range order {
		order[i] = int32(i)
	}
	sort.SliceStable(order, func(i, j int) bool { return ops[order[i]].Invoke < ops[order[j]].Invoke })

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
	res := make([]porcupine.Operation, 0, len(ops)+len(finals))
	for _, i := range order {
		r := &ops[i]
		isWrite := history.IsWrite(r.Op)
		if !isWrite && !(f.includeGets && r.Op == history.OpGet && history.PathOf(*r) == f.path) {
			continue
		}
		conflict := r.ErrClass == history.ClassConflict
		if r.Outcome == history.Fail && (!isWrite || !conflict) {
			continue
		}
		if r.Outcome == history.Unknown && !isWrite {
			continue
		}
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
		res = append(res, porcupine.Operation{
			ClientId: id,
			Input:    input(r, f.seqs),
			Call:     r.Invoke,
			Output:   kvOutput{Outcome: outcome, Conflict: conflict, Rev: r.Rev, Found: r.Found, Read: r.Read},
			Return:   ret,
			Metadata: r.Client, // what describe needs; a whole record per op would double the checker's memory
		})
	}
	for _, r := range finals {
		id := next
		next++
		res = append(res, porcupine.Operation{
			ClientId: id,
			Input:    kvInput{Op: opFinal, Key: r.Key},
			Call:     r.Invoke,
			Output:   kvOutput{Outcome: history.OK, Rev: r.Rev, Found: r.Found, Read: r.Read, Marker: r.Marker},
			Return:   r.Complete,
		})
	}
	return res
}

func input(r *history.Record, seqs map[string]*keySequence) kvInput {
	in := kvInput{Op: r.Op, Key: r.Key, Value: r.Value, Expect: r.ExpectRev, HasExpect: r.HasExpect}
	if history.IsWrite(r.Op) && seqs != nil {
		in.Seq = seqs[r.Key]
		if in.Seq == nil {
			in.Seq = noMessages
		}
	}
	return in
}
