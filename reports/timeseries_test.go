package reports

import (
	"testing"

	"github.com/kvharness/kvharness/history"
)

func TestPerSecond(t *testing.T) {
	op := func(inv, comp int64, outcome history.Outcome) history.Record {
		return history.Record{Kind: history.KindOp, Op: history.OpPut, Key: "k", Value: "v", Outcome: outcome, Invoke: inv, Complete: comp}
	}
	h := &history.History{Ops: []history.Record{
		op(0, 2e6, history.OK), op(1e6, 5e6, history.OK), op(2e6, 3e6, history.Fail),
		// nothing completes in second 1
		op(2.1e9, 2.2e9, history.OK), op(2.2e9, 2.9e9, history.Unknown),
		op(3.0e9, 3.1e9, history.OK), // second 3 is barely entered: dropped
	}}
	s := perSecond(h)
	if len(s) != 1 || len(s[0].Seconds) != 3 {
		t.Fatalf("%+v", s)
	}
	put := s[0]
	if put.OK[0] != 2 || put.Fail[0] != 1 || put.OK[1] != 0 || put.OK[2] != 1 || put.Unknown[2] != 1 {
		t.Fatalf("counts ok %v fail %v unknown %v", put.OK, put.Fail, put.Unknown)
	}
	if put.P99[1] != nil {
		t.Fatalf("a second without completions must be a gap, got %v", *put.P99[1])
	}
	if *put.Max[0] != 4 || *put.P50[0] != 2 {
		t.Fatalf("second 0: p50 %v max %v ms", *put.P50[0], *put.Max[0])
	}
}
