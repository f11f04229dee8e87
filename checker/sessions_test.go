package checker

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/kvharness/kvharness/history"
)

// sessionOrder gives what sorting by client, key, invocation and place in
// the group gives: on ops in completion order (as a run records them), on
// ops shuffled, with invocations tied, and leaving out what it must.
func TestSessionOrderIsTheSortedOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		var ops []*history.Record
		for range 1 + rng.IntN(400) {
			op := &history.Record{Kind: history.KindOp, Client: rng.IntN(4), Key: []string{"a", "b", "c"}[rng.IntN(3)],
				Outcome: history.OK, Invoke: int64(rng.IntN(50))}
			switch rng.IntN(5) {
			case 0:
				op.Op, op.Rev = history.OpPut, uint64(1+rng.IntN(100))
			case 1:
				op.Op, op.Found, op.Rev = history.OpGet, true, uint64(1+rng.IntN(100))
			case 2:
				op.Op = history.OpGet // not found: left out
			case 3:
				op.Op, op.Outcome = history.OpUpdate, history.Fail // refused: left out
			default:
				op.Op, op.Rev = history.OpUpdate, uint64(1+rng.IntN(100))
			}
			op.Complete = op.Invoke + int64(rng.IntN(5))
			ops = append(ops, op)
		}
		if round%2 == 0 { // as recorded: by completion
			slices.SortStableFunc(ops, func(a, b *history.Record) int { return cmp.Compare(a.Complete, b.Complete) })
		}
		ttl := map[string]bool{}
		if round%3 == 0 {
			ttl["c"] = true
		}
		g := &keyGroup{f: &facts{ttlKeys: ttl}, r: resolved{ops: ops}}
		place := map[*history.Record]int{}
		var want []*history.Record
		for i, op := range ops {
			place[op] = i
			if !ttl[op.Key] && op.Outcome == history.OK && (history.IsWrite(op.Op) && op.Rev != 0 || op.Op == history.OpGet && op.Found) {
				want = append(want, op)
			}
		}
		slices.SortFunc(want, func(a, b *history.Record) int {
			return cmp.Or(cmp.Compare(a.Client, b.Client), strings.Compare(a.Key, b.Key), cmp.Compare(a.Invoke, b.Invoke), cmp.Compare(place[a], place[b]))
		})
		if got := g.sessionOrder(); !slices.Equal(got, want) {
			t.Fatalf("round %d: %d ops in another order than sorting gives (%d)", round, len(got), len(want))
		}
	}
}
