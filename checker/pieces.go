package checker

import (
	"cmp"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/kvharness/kvharness/history"
)

// A key whose message sequence is not known (the recording watcher missed
// some of the stream, as under faults) cannot be swept: Porcupine searches
// it. Its memo grows with the square of the key's operations and its search
// can blow up with their length, so a long key is searched in pieces, cut
// only where a cut loses nothing:
//
//   - No operation spans the cut: everything called before it returned
//     before it. Every linearization then orders all operations before the
//     cut ahead of all after it.
//   - The operation last before the cut overlaps no other: it is last in
//     every linearization of the piece before, whatever the order of the
//     rest.
//   - That operation leaves the key in one state, whatever came before it:
//     a write acknowledged with its revision, or a read that saw a value or
//     marker at a revision.
//
// The key is then linearizable exactly when each piece is, each searched
// from the state the previous one ends in. An unknown write that was never
// resolved may land any time after its call (its return is infinity), so no
// cut follows one: a key with such a write early on stays one piece.

// piece is a stretch of one key's operations searched alone, and the state
// the key is in when it begins.
type piece struct {
	ops  []porcupine.Operation
	init keyState
}

// minPiece: cuts closer than this many operations apart are skipped. A
// search of a few thousand operations is quick; thousands of tiny ones
// would spend their time starting searches.
const minPiece = 2000

// cutPieces cuts one key's operations into pieces of at least least
// operations where a cut is sound (see above); one piece if there is none.
func cutPieces(ops []porcupine.Operation, least int) []piece {
	sorted := slices.Clone(ops)
	slices.SortStableFunc(sorted, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
	pieces := []piece{{init: initState()}}
	start := 0
	var before int64 = -1 << 62 // the latest return of sorted[start:i-1]
	for i := 1; i < len(sorted); i++ {
		last := sorted[i-1]
		// Porcupine takes a call and a return at the same time as
		// overlapping: strictly before, or no cut.
		quiet := before < last.Call && last.Return < sorted[i].Call
		before = max(before, last.Return)
		if !quiet || i-start < least || len(sorted)-i < least {
			continue
		}
		state, ok := stateAfter(last)
		if !ok {
			continue
		}
		pieces[len(pieces)-1].ops = sorted[start:i]
		pieces = append(pieces, piece{init: state})
		start = i
	}
	pieces[len(pieces)-1].ops = sorted[start:]
	return pieces
}

// piecesWithin cuts one key's operations for a search limited to
// searchLimit operations: pieces of at least minPiece, or half the limit if
// that is less, so that pieces can be cut small enough to search.
func piecesWithin(ops []porcupine.Operation, searchLimit int) []piece {
	return cutPieces(ops, min(minPiece, searchLimit/2))
}

// stateAfter is the one state op leaves the key in, if there is one.
func stateAfter(op porcupine.Operation) (keyState, bool) {
	in, out := op.Input.(*kvInput), op.Output.(*kvOutput)
	if out.Outcome != history.OK || out.Rev == 0 {
		return keyState{}, false
	}
	switch {
	case in.Op == history.OpPut || in.Op == history.OpUpdate || in.Op == history.OpCreate:
		return keyState{Live: true, Value: in.Value, Rev: out.Rev, RevExact: true}, true
	case (in.Op == history.OpGet || in.Op == opFinal) && out.Found:
		return keyState{Live: true, Value: out.Read, Rev: out.Rev, RevExact: true}, true
	case in.Op == opFinal && out.Marker != "":
		return keyState{Rev: out.Rev, RevExact: true}, true
	}
	return keyState{}, false
}

// modelFrom is the model with the key starting in state s.
func modelFrom(s keyState) porcupine.Model {
	m := kvModel
	m.Init = func() interface{} { return s }
	return m
}

// searchPieces searches a key's pieces one after another within timeout:
// Illegal as soon as one is (and which), Unknown when time runs out first.
func searchPieces(pieces []piece, timeout time.Duration) (porcupine.CheckResult, int) {
	deadline := time.Now().Add(timeout)
	for i, p := range pieces {
		left := time.Until(deadline)
		if left <= 0 {
			return porcupine.Unknown, -1
		}
		switch porcupine.CheckOperationsTimeout(modelFrom(p.init), p.ops, left) {
		case porcupine.Illegal:
			return porcupine.Illegal, i
		case porcupine.Unknown:
			return porcupine.Unknown, -1
		}
	}
	return porcupine.Ok, -1
}

// largestPiece is the most operations of one piece.
func largestPiece(pieces []piece) int {
	n := 0
	for _, p := range pieces {
		n = max(n, len(p.ops))
	}
	return n
}
