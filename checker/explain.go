package checker

import (
	"fmt"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/kvharness/kvharness/history"
)

// explain names the operations and revisions behind one key's violation.
// It looks for the anomalies people recognise first among all the key's
// operations; failing that, it names the earliest operation of those
// searched (all, or the piece found illegal) that no linearization found by
// Porcupine could place.
func explain(all, ops []porcupine.Operation, info porcupine.LinearizationInfo) string {
	if s := explainKnown(all); s != "" {
		return s
	}
	placed := map[int]bool{}
	longest := 0
	for _, parts := range info.PartialLinearizations() {
		for _, lin := range parts {
			if len(lin) > longest {
				longest = len(lin)
			}
			for _, id := range lin {
				placed[id] = true
			}
		}
	}
	sorted := sortedByCall(ops)
	for _, i := range sorted {
		if !placed[i] {
			return fmt.Sprintf("no order of the %d operations explains %s (longest linearizable prefix: %d operations)", len(ops), describe(ops[i]), longest)
		}
	}
	return fmt.Sprintf("no order of the %d operations is consistent with NATS KV (longest linearizable prefix: %d)", len(ops), longest)
}

func explainKnown(ops []porcupine.Operation) string {
	written := map[string]bool{}
	byExpect := map[uint64][]porcupine.Operation{}
	for _, op := range ops {
		in, out := op.Input.(*kvInput), op.Output.(*kvOutput)
		if in.Value != "" {
			written[in.Value] = true
		}
		if in.Op == history.OpUpdate && out.Outcome == history.OK {
			byExpect[in.Expect] = append(byExpect[in.Expect], op)
		}
	}
	// Two CAS updates that both won with the same expected revision.
	var revs []uint64
	for r, list := range byExpect {
		if len(list) > 1 {
			revs = append(revs, r)
		}
	}
	if len(revs) > 0 {
		sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
		list := byExpect[revs[0]]
		return fmt.Sprintf("lost update: %s and %s both succeeded with expected revision %d", describe(list[0]), describe(list[1]), revs[0])
	}
	for _, op := range ops {
		in, out := op.Input.(*kvInput), op.Output.(*kvOutput)
		if (in.Op == history.OpGet || in.Op == opFinal) && out.Found && !written[out.Read] {
			return fmt.Sprintf("read of a value never written: %s", describe(op))
		}
	}
	// A read or write that lands below a write completed before it began:
	// compare each op with the highest revision among the writes that
	// completed before it was called (sorted by completion, prefix maxima),
	// so a failing key of many operations is explained in n log n.
	type doneWrite struct {
		ret int64
		rev uint64
		op  porcupine.Operation
	}
	var writes []doneWrite
	for _, op := range ops {
		in, out := op.Input.(*kvInput), op.Output.(*kvOutput)
		if history.IsWrite(in.Op) && out.Outcome == history.OK && out.Rev != 0 {
			writes = append(writes, doneWrite{op.Return, out.Rev, op})
		}
	}
	sort.Slice(writes, func(i, j int) bool { return writes[i].ret < writes[j].ret })
	best := make([]int, len(writes)) // best[i]: index of the highest revision in writes[:i+1]
	for i := range writes {
		best[i] = i
		if i > 0 && writes[best[i-1]].rev >= writes[i].rev {
			best[i] = best[i-1]
		}
	}
	for _, op := range ops {
		in, out := op.Input.(*kvInput), op.Output.(*kvOutput)
		if out.Outcome != history.OK || out.Rev == 0 {
			continue
		}
		k := sort.Search(len(writes), func(i int) bool { return writes[i].ret >= op.Call })
		if k == 0 {
			continue
		}
		prior := writes[best[k-1]]
		if prior.rev > out.Rev || (prior.rev == out.Rev && history.IsWrite(in.Op)) {
			what := "stale read"
			if history.IsWrite(in.Op) {
				what = "revision went backwards"
			} else if in.Op == opFinal {
				what = "acknowledged write lost"
			}
			return fmt.Sprintf("%s: %s began after %s had completed", what, describe(op), describe(prior.op))
		}
	}
	return ""
}

func sortedByCall(ops []porcupine.Operation) []int {
	idx := make([]int, len(ops))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ops[idx[a]].Call < ops[idx[b]].Call })
	return idx
}

// describe names one operation: who, what, when.
func describe(op porcupine.Operation) string {
	in, out := op.Input.(*kvInput), op.Output.(*kvOutput)
	who := "final read"
	if client, ok := op.Metadata.(int); ok && in.Op != opFinal {
		who = fmt.Sprintf("client %d", client)
	}
	end := "∞"
	if op.Return != infinity {
		end = fmt.Sprintf("%.3fs", float64(op.Return)/1e9)
	}
	return fmt.Sprintf("[%s %s, %.3fs..%s]", who, strings.TrimSpace(describeOp(in, out)), float64(op.Call)/1e9, end)
}
