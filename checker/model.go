// Package checker decides whether a recorded history is what NATS KV
// promises. It is pure: it reads a history and never talks to NATS.
package checker

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/anishathalye/porcupine"

	"github.com/kvharness/kvharness/history"
)

// opFinal is the model's name for a key's last message read through the
// stream leader after the run. Unlike a KV get it also sees markers.
const opFinal = "final"

// kvInput is what a client asked one key to do.
type kvInput struct {
	Op        string
	Key       string
	Value     string
	Expect    uint64
	HasExpect bool
	// Seq is the key's whole message sequence when it is known (nil
	// otherwise); see keySequence.
	Seq *keySequence
}

// kvOutput is what came back. For unknown outcomes Rev is set only when the
// write was resolved (seen in the stream) after the run.
type kvOutput struct {
	Outcome  history.Outcome
	Conflict bool // a definite failure because the precondition did not hold
	// CurRev: the key's revision the server named when it refused a CAS
	// ("wrong last sequence: N"; 0: not named): the key had reached it
	// where the refusal is linearized (see casWrite).
	CurRev uint64
	Rev    uint64
	Found  bool
	Read   string
	Marker string
}

// keyState is one key of a bucket as the model sees it.
//
// A key's revision is the stream sequence of its last message. Deletes do not
// return their revision, and unknown writes may not have one either, so the
// model keeps the revision either exactly (RevExact) or as a lower bound: the
// true revision is >= Rev. Every later observation either fits inside the
// bound or is a violation, and an exact observation pins it again.
type keyState struct {
	Live     bool // the last message is a value, not a delete/purge marker
	Value    string
	Rev      uint64
	RevExact bool
}

func initState() keyState { return keyState{RevExact: true} }

// neverWritten: no message at all for this key in the stream.
func (s keyState) neverWritten() bool { return s.RevExact && s.Rev == 0 }

// revMayBe reports whether the key's revision can be r.
func (s keyState) revMayBe(r uint64) bool {
	if s.RevExact {
		return s.Rev == r
	}
	return r >= s.Rev
}

// revMustDiffer reports whether a CAS against r is known to have to fail.
func (s keyState) revMustDiffer(r uint64) bool {
	return s.RevExact && s.Rev != r
}

// after returns the state once a message with revision rev (0: unknown) was
// appended: revisions only grow, so an unknown one is at least one more.
func (s keyState) after(live bool, value string, rev uint64) keyState {
	if rev != 0 {
		return keyState{Live: live, Value: value, Rev: rev, RevExact: true}
	}
	return keyState{Live: live, Value: value, Rev: s.Rev + 1, RevExact: false}
}

// newRevOK: a write that returned rev must land above the current revision —
// "revision must increase along the linearization".
func (s keyState) newRevOK(rev uint64) bool { return rev == 0 || rev > s.Rev }

// appendOK: the write's message can follow the current state — above it,
// and right after the key's previous message when that is known.
func (s keyState) appendOK(in *kvInput, out *kvOutput) bool {
	if out.Rev == 0 {
		return true
	}
	if !s.newRevOK(out.Rev) {
		return false
	}
	if in.Seq == nil {
		return true
	}
	prev, ok := in.Seq.prev(out.Rev)
	return ok && s.revMayBe(prev)
}

// nextMarker: with the key's sequence known and the state exact, a delete or
// purge can only be the marker that follows the current message.
func (s keyState) nextMarker(in *kvInput) (message, bool) {
	n, ok := in.Seq.next(s.Rev)
	want := history.MarkerDel
	if in.Op == history.OpPurge {
		want = history.MarkerPurge
	}
	return n, ok && n.Marker == want
}

// step is the sequential specification of one key. It is deterministic:
// an unknown write that may apply is applied where it is linearized, because
// one that did not happen can always be linearized after everything else
// (its return time is infinity), where it changes nothing that was observed.
func step(s keyState, in *kvInput, out *kvOutput) (bool, keyState) {
	switch in.Op {
	case history.OpPut:
		if out.Outcome == history.Fail {
			return true, s
		}
		if !s.appendOK(in, out) {
			return false, s
		}
		return true, s.after(true, in.Value, out.Rev)

	case history.OpUpdate:
		return casWrite(s, in, out, s.revMayBe(in.Expect), s.revMustDiffer(in.Expect), true)

	case history.OpCreate:
		// nats.go Create: Update(key, 0); on "wrong last sequence" it reads
		// the key and, if the last message is a marker, retries Update with
		// the marker's revision. So it succeeds exactly when the key is not
		// live, and can fail whenever the key has any message — even a
		// marker, when another writer slipped in between its two requests.
		return casWrite(s, in, out, !s.Live, s.neverWritten(), true)

	case history.OpDelete, history.OpPurge:
		may, mustFail := true, false
		if in.HasExpect {
			may, mustFail = s.revMayBe(in.Expect), s.revMustDiffer(in.Expect)
		}
		if in.Seq != nil && s.RevExact && out.Outcome != history.Fail {
			// A delete without a revision (nats.go's Delete returns none;
			// older histories) takes it from the known sequence.
			m, ok := s.nextMarker(in)
			if !ok || (out.Rev != 0 && out.Rev != m.Rev) {
				may = false
			} else {
				// A copy: the operation's own output is shared.
				withRev := *out
				withRev.Rev = m.Rev
				out = &withRev
			}
		}
		return casWrite(s, in, out, may, mustFail, false)

	case history.OpGet:
		if out.Found {
			if !s.Live || s.Value != out.Read || !s.revMayBe(out.Rev) {
				return false, s
			}
			return true, s.after(true, s.Value, out.Rev)
		}
		return !s.Live, s

	case opFinal:
		switch {
		case out.Found:
			if !s.Live || s.Value != out.Read || !s.revMayBe(out.Rev) {
				return false, s
			}
			return true, s.after(true, s.Value, out.Rev)
		case out.Marker != "":
			if s.Live || !s.revMayBe(out.Rev) {
				return false, s
			}
			return true, s.after(false, "", out.Rev)
		default:
			return s.neverWritten(), s
		}
	}
	return false, s
}

// casWrite steps a write with a precondition. may: the precondition can hold;
// mustFail: it certainly does not. live: the write leaves a value (not a marker).
func casWrite(s keyState, in *kvInput, out *kvOutput, may, mustFail, live bool) (bool, keyState) {
	value := ""
	if live {
		value = in.Value
	}
	switch out.Outcome {
	case history.OK:
		if !may || !s.appendOK(in, out) {
			return false, s
		}
		return true, s.after(live, value, out.Rev)
	case history.Fail:
		if !out.Conflict {
			return true, s
		}
		if out.CurRev != 0 {
			// The server named the key's revision when it refused. It must
			// differ from what the write expected (a create's first request
			// expects 0), and the key must have reached it: a refusal cannot
			// name a message not yet written. It may be older than the
			// key's revision: a stream leader that was cut off answers from
			// its own stale store (docs/FINDINGS.md), which refuses nothing
			// it should not — so it is not pinned.
			if (in.Op != history.OpCreate && out.CurRev == in.Expect) || (s.RevExact && out.CurRev > s.Rev) {
				return false, s
			}
			if in.Seq != nil {
				if _, ok := in.Seq.at[out.CurRev]; !ok {
					return false, s // not a message of this key
				}
			}
		}
		if !isConflictPossible(s, in, mustFail) {
			return false, s
		}
		return true, s
	default: // unknown: applies if it can, see step
		if !may || !s.appendOK(in, out) {
			return true, s
		}
		return true, s.after(live, value, out.Rev)
	}
}

// isConflictPossible: a conflict answer needs the precondition to be false
// in at least one state the model allows. For create the precondition is
// "no message yet" in the first request, so a conflict needs some message.
func isConflictPossible(s keyState, in *kvInput, mustFail bool) bool {
	switch in.Op {
	case history.OpCreate:
		return !s.neverWritten()
	default:
		if mustFail {
			return true
		}
		// Exact revision equal to the expectation: a conflict is wrong.
		return !s.RevExact
	}
}

// kvModel is the Porcupine model: data plus pure functions over keyState.
var kvModel = porcupine.Model{
	Partition: partitionByKey,
	Init:      func() interface{} { return initState() },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		return step(state.(keyState), input.(*kvInput), output.(*kvOutput))
	},
	StepContext: func(ctx context.Context, state, input, output interface{}) (bool, interface{}) {
		if ctx.Err() != nil {
			return false, state
		}
		return step(state.(keyState), input.(*kvInput), output.(*kvOutput))
	},
	Equal: func(a, b interface{}) bool { return a.(keyState) == b.(keyState) },
	Hash: func(state interface{}) uint64 {
		s := state.(keyState)
		h := fnv.New64a()
		fmt.Fprintf(h, "%t|%s|%d|%t", s.Live, s.Value, s.Rev, s.RevExact)
		return h.Sum64()
	},
	DescribeOperation: func(input, output interface{}) string {
		return describeOp(input.(*kvInput), output.(*kvOutput))
	},
	DescribeState: func(state interface{}) string {
		s := state.(keyState)
		rev := fmt.Sprintf("rev %d", s.Rev)
		if !s.RevExact {
			rev = fmt.Sprintf("rev ≥ %d", s.Rev)
		}
		if s.Live {
			return fmt.Sprintf("%s @ %s", s.Value, rev)
		}
		if s.neverWritten() {
			return "never written"
		}
		return "deleted @ " + rev
	},
}

func partitionByKey(ops []porcupine.Operation) [][]porcupine.Operation {
	// A group is most often one key (a long run's are): its operations
	// are its part as they are, not copied.
	oneKey := true
	for i := 1; i < len(ops) && oneKey; i++ {
		oneKey = ops[i].Input.(*kvInput).Key == ops[0].Input.(*kvInput).Key
	}
	if oneKey {
		if len(ops) == 0 {
			return [][]porcupine.Operation{}
		}
		return [][]porcupine.Operation{ops}
	}
	// Counted first, so each key's part is made at its size once.
	index := map[string]int{}
	var sizes []int
	keyOf := make([]int32, len(ops))
	for n, op := range ops {
		k := op.Input.(*kvInput).Key
		i, ok := index[k]
		if !ok {
			i = len(sizes)
			index[k] = i
			sizes = append(sizes, 0)
		}
		sizes[i]++
		keyOf[n] = int32(i)
	}
	parts := make([][]porcupine.Operation, len(sizes))
	for i, n := range sizes {
		parts[i] = make([]porcupine.Operation, 0, n)
	}
	for n, op := range ops {
		parts[keyOf[n]] = append(parts[keyOf[n]], op)
	}
	return parts
}

func describeOp(in *kvInput, out *kvOutput) string {
	var call string
	switch in.Op {
	case history.OpPut, history.OpCreate:
		call = fmt.Sprintf("%s(%s)", in.Op, in.Value)
	case history.OpUpdate:
		call = fmt.Sprintf("update(%s, expect %d)", in.Value, in.Expect)
	case history.OpDelete, history.OpPurge:
		if in.HasExpect {
			call = fmt.Sprintf("%s(expect %d)", in.Op, in.Expect)
		} else {
			call = in.Op + "()"
		}
	default:
		call = in.Op + "()"
	}
	var res string
	switch {
	case out.Outcome == history.Fail && out.Conflict && out.CurRev != 0:
		res = fmt.Sprintf("conflict: key @ rev %d", out.CurRev)
	case out.Outcome == history.Fail && out.Conflict:
		res = "conflict"
	case out.Outcome == history.Fail:
		res = "failed"
	case in.Op == history.OpGet || in.Op == opFinal:
		switch {
		case out.Found:
			res = fmt.Sprintf("%s @ rev %d", out.Read, out.Rev)
		case out.Marker != "":
			res = fmt.Sprintf("%s marker @ rev %d", out.Marker, out.Rev)
		default:
			res = "not found"
		}
	case out.Outcome == history.Unknown && out.Rev == 0:
		res = "unknown"
	case out.Rev != 0:
		res = fmt.Sprintf("rev %d", out.Rev)
	default:
		res = "ok"
	}
	return call + " → " + res
}
