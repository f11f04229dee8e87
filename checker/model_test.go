package checker

import (
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/kvharness/kvharness/history"
)

// States the step tests start from.
var (
	never        = initState()                                               // no message at all
	live1        = keyState{Live: true, Value: "v1", Rev: 1, RevExact: true} // v1 @ rev 1
	liveAtLeast3 = keyState{Live: true, Value: "v1", Rev: 3}                 // v1 @ rev ≥ 3 (after an unknown write)
	deadAtLeast2 = keyState{Rev: 2}                                          // marker @ rev ≥ 2 (after a delete)
	deadExact4   = keyState{Rev: 4, RevExact: true}                          // marker @ rev 4 (seen by a final read)
)

func okOut(rev uint64) kvOutput { return kvOutput{Outcome: history.OK, Rev: rev} }
func conflictOut() kvOutput     { return kvOutput{Outcome: history.Fail, Conflict: true} }
func unknownOut() kvOutput      { return kvOutput{Outcome: history.Unknown} }
func foundOut(v string, rev uint64) kvOutput {
	return kvOutput{Outcome: history.OK, Found: true, Read: v, Rev: rev}
}

func TestStep(t *testing.T) {
	putIn := func(v string) kvInput { return kvInput{Op: history.OpPut, Key: "k", Value: v} }
	updIn := func(v string, expect uint64) kvInput {
		return kvInput{Op: history.OpUpdate, Key: "k", Value: v, Expect: expect, HasExpect: true}
	}
	createIn := func(v string) kvInput { return kvInput{Op: history.OpCreate, Key: "k", Value: v} }
	delIn := kvInput{Op: history.OpDelete, Key: "k"}
	delExpectIn := func(expect uint64) kvInput {
		return kvInput{Op: history.OpDelete, Key: "k", Expect: expect, HasExpect: true}
	}
	purgeIn := kvInput{Op: history.OpPurge, Key: "k"}
	getIn := kvInput{Op: history.OpGet, Key: "k"}
	finalIn := kvInput{Op: opFinal, Key: "k"}

	tests := []struct {
		name  string
		s     keyState
		in    kvInput
		out   kvOutput
		ok    bool
		after keyState // checked when ok
	}{
		// put
		{"put above the revision", live1, putIn("v2"), okOut(2), true, keyState{Live: true, Value: "v2", Rev: 2, RevExact: true}},
		{"put far above: other keys share the sequence", live1, putIn("v2"), okOut(9), true, keyState{Live: true, Value: "v2", Rev: 9, RevExact: true}},
		{"put at the current revision", live1, putIn("v2"), okOut(1), false, keyState{}},
		{"put below the current revision", liveAtLeast3, putIn("v2"), okOut(2), false, keyState{}},
		{"put over a lower bound", liveAtLeast3, putIn("v2"), okOut(4), true, keyState{Live: true, Value: "v2", Rev: 4, RevExact: true}},
		{"put after a delete", deadAtLeast2, putIn("v2"), okOut(3), true, keyState{Live: true, Value: "v2", Rev: 3, RevExact: true}},
		{"put that failed changes nothing", live1, putIn("v2"), kvOutput{Outcome: history.Fail}, true, live1},
		{"unknown put applies with a lower bound", live1, putIn("v2"), unknownOut(), true, keyState{Live: true, Value: "v2", Rev: 2}},

		// update
		{"update with the right revision", live1, updIn("v2", 1), okOut(2), true, keyState{Live: true, Value: "v2", Rev: 2, RevExact: true}},
		{"update with a wrong revision acknowledged", live1, updIn("v2", 0), okOut(2), false, keyState{}},
		{"update with 0 on a key never written", never, updIn("v1", 0), okOut(1), true, live1},
		{"update acknowledged at a lower revision", live1, updIn("v2", 1), okOut(1), false, keyState{}},
		{"update conflict with the right revision", live1, updIn("v2", 1), conflictOut(), false, keyState{}},
		{"update conflict with a wrong revision", live1, updIn("v2", 2), conflictOut(), true, live1},
		{"update conflict on an inexact revision", liveAtLeast3, updIn("v2", 5), conflictOut(), true, liveAtLeast3},
		{"update on an inexact revision it may match", liveAtLeast3, updIn("v2", 5), okOut(6), true, keyState{Live: true, Value: "v2", Rev: 6, RevExact: true}},
		{"update on an inexact revision it cannot match", liveAtLeast3, updIn("v2", 2), okOut(6), false, keyState{}},
		{"update on a delete marker's revision", deadExact4, updIn("v2", 4), okOut(5), true, keyState{Live: true, Value: "v2", Rev: 5, RevExact: true}},
		{"unknown update that can apply applies", live1, updIn("v2", 1), unknownOut(), true, keyState{Live: true, Value: "v2", Rev: 2}},
		{"unknown update that cannot apply changes nothing", live1, updIn("v2", 7), unknownOut(), true, live1},

		// create
		{"create on a key never written", never, createIn("v1"), okOut(1), true, live1},
		{"create on a live key", live1, createIn("v2"), okOut(2), false, keyState{}},
		{"create over a delete marker", deadAtLeast2, createIn("v2"), okOut(3), true, keyState{Live: true, Value: "v2", Rev: 3, RevExact: true}},
		{"create over a marker, at the marker's own lower bound", deadAtLeast2, createIn("v2"), okOut(2), false, keyState{}},
		{"create conflict on a key never written", never, createIn("v1"), conflictOut(), false, keyState{}},
		{"create conflict on a live key", live1, createIn("v2"), conflictOut(), true, live1},
		{"create conflict on a marker: a writer slipped in", deadAtLeast2, createIn("v2"), conflictOut(), true, deadAtLeast2},
		{"unknown create on a live key changes nothing", live1, createIn("v2"), unknownOut(), true, live1},

		// delete / purge
		{"delete leaves a marker above the revision", live1, delIn, okOut(0), true, keyState{Rev: 2}},
		{"delete of a key never written", never, delIn, okOut(0), true, keyState{Rev: 1}},
		{"delete with the right last revision", live1, delExpectIn(1), okOut(0), true, keyState{Rev: 2}},
		{"delete with a wrong last revision acknowledged", live1, delExpectIn(5), okOut(0), false, keyState{}},
		{"delete conflict with the right last revision", live1, delExpectIn(1), conflictOut(), false, keyState{}},
		{"delete conflict with a wrong last revision", live1, delExpectIn(5), conflictOut(), true, live1},
		{"purge of a deleted key", deadAtLeast2, purgeIn, okOut(0), true, keyState{Rev: 3}},

		// get
		{"get of the value at its revision", live1, getIn, foundOut("v1", 1), true, live1},
		{"get at a wrong revision", live1, getIn, foundOut("v1", 2), false, keyState{}},
		{"get of another value", live1, getIn, foundOut("v0", 1), false, keyState{}},
		{"get not found on a live key", live1, getIn, okOut(0), false, keyState{}},
		{"get not found on a deleted key", deadAtLeast2, getIn, okOut(0), true, deadAtLeast2},
		{"get not found on a key never written", never, getIn, okOut(0), true, never},
		{"get found on a deleted key", deadAtLeast2, getIn, foundOut("v1", 1), false, keyState{}},
		{"get pins an inexact revision", liveAtLeast3, getIn, foundOut("v1", 7), true, keyState{Live: true, Value: "v1", Rev: 7, RevExact: true}},
		{"get below an inexact revision", liveAtLeast3, getIn, foundOut("v1", 2), false, keyState{}},

		// final read through the stream leader
		{"final value matches", live1, finalIn, foundOut("v1", 1), true, live1},
		{"final value differs", live1, finalIn, foundOut("v2", 2), false, keyState{}},
		{"final marker on a deleted key", deadAtLeast2, finalIn, kvOutput{Outcome: history.OK, Marker: history.MarkerDel, Rev: 5}, true, keyState{Rev: 5, RevExact: true}},
		{"final marker below the lower bound", deadAtLeast2, finalIn, kvOutput{Outcome: history.OK, Marker: history.MarkerDel, Rev: 1}, false, keyState{}},
		{"final marker on a live key", live1, finalIn, kvOutput{Outcome: history.OK, Marker: history.MarkerPurge, Rev: 2}, false, keyState{}},
		{"final nothing on a key never written", never, finalIn, okOut(0), true, never},
		{"final nothing on a deleted key", deadAtLeast2, finalIn, okOut(0), false, keyState{}},
		{"final nothing on a live key", live1, finalIn, okOut(0), false, keyState{}},

		{"unknown op kind", live1, kvInput{Op: "frobnicate", Key: "k"}, okOut(0), false, keyState{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, after := step(tc.s, &tc.in, &tc.out)
			if ok != tc.ok {
				t.Fatalf("step(%s, %s) legal = %t, want %t", kvModel.DescribeState(tc.s), describeOp(&tc.in, &tc.out), ok, tc.ok)
			}
			if ok && after != tc.after {
				t.Errorf("step(%s, %s) → %+v, want %+v", kvModel.DescribeState(tc.s), describeOp(&tc.in, &tc.out), after, tc.after)
			}
			if !ok && after != tc.s {
				t.Errorf("an illegal step changed the state: %+v → %+v", tc.s, after)
			}
		})
	}
}

func TestModelHashAgreesWithEqual(t *testing.T) {
	states := []keyState{never, live1, liveAtLeast3, deadAtLeast2, deadExact4,
		{Live: true, Value: "v1", Rev: 1}, {Rev: 1, RevExact: true}, {Rev: 1}}
	for i, a := range states {
		for j, b := range states {
			eq := kvModel.Equal(a, b)
			if eq != (i == j) {
				t.Errorf("Equal(%+v, %+v) = %t", a, b, eq)
			}
			if eq && kvModel.Hash(a) != kvModel.Hash(b) {
				t.Errorf("equal states %+v and %+v hash differently", a, b)
			}
		}
	}
	if kvModel.Hash(live1) == kvModel.Hash(keyState{Live: true, Value: "v1", Rev: 1}) {
		t.Errorf("exact and inexact revisions hash alike: the cache would merge them")
	}
}

func TestDescribe(t *testing.T) {
	states := map[keyState]string{
		never:        "never written",
		live1:        "v1 @ rev 1",
		liveAtLeast3: "v1 @ rev ≥ 3",
		deadAtLeast2: "deleted @ rev ≥ 2",
		deadExact4:   "deleted @ rev 4",
	}
	for s, want := range states {
		if got := kvModel.DescribeState(s); got != want {
			t.Errorf("DescribeState(%+v) = %q, want %q", s, got, want)
		}
	}
	ops := []struct {
		in   kvInput
		out  kvOutput
		want string
	}{
		{kvInput{Op: history.OpPut, Value: "v1"}, okOut(3), "put(v1) → rev 3"},
		{kvInput{Op: history.OpUpdate, Value: "v2", Expect: 3}, conflictOut(), "update(v2, expect 3) → conflict"},
		{kvInput{Op: history.OpCreate, Value: "v3"}, unknownOut(), "create(v3) → unknown"},
		{kvInput{Op: history.OpDelete}, okOut(0), "delete() → ok"},
		{kvInput{Op: history.OpPurge, Expect: 4, HasExpect: true}, kvOutput{Outcome: history.Fail}, "purge(expect 4) → failed"},
		{kvInput{Op: history.OpGet}, foundOut("v1", 3), "get() → v1 @ rev 3"},
		{kvInput{Op: history.OpGet}, okOut(0), "get() → not found"},
		{kvInput{Op: opFinal}, kvOutput{Outcome: history.OK, Marker: history.MarkerDel, Rev: 5}, "final() → del marker @ rev 5"},
	}
	for _, tc := range ops {
		if got := describeOp(&tc.in, &tc.out); got != tc.want {
			t.Errorf("describeOp = %q, want %q", got, tc.want)
		}
	}
}

func TestToOperations(t *testing.T) {
	ops := []history.Record{
		put(1, "k", "v1", 1, at(0, 10)),
		unknown(put(1, "k", "v2", 0, at(20, 0))),                       // client 1 goes on under a new id
		put(1, "k", "v3", 3, at(30, 40)),                               // ...this one
		failed(put(2, "k", "x", 0, at(5, 6)), history.ClassBadRequest), // refused: dropped
		conflict(update(2, "k", "u", 9, 0, at(7, 8))),                  // conflict: kept
		get(3, "k", "v1", 1, at(11, 12)),
		unknown(get(3, "k", "", 0, at(13, 0))), // unknown read: dropped
		failed(get(3, "k", "", 0, at(14, 15)), history.ClassTimeout),
	}
	resolved := unknown(put(4, "k", "v4", 0, at(50, 0)))
	resolved.Rev, resolved.Complete = 4, ms(55) // as resolve leaves a write seen in the stream
	ops = append(ops, resolved)
	finals := []history.Record{final("k", "v4", 4)}

	writes := toOperations(pointers(ops), finals, opsFilter{}, nil)
	reads := toOperations(pointers(ops), finals, opsFilter{includeGets: true, path: history.PathDirect}, nil)
	describeAll := func(pops []porcupine.Operation) string {
		var s []string
		for _, p := range pops {
			s = append(s, describeOp(p.Input.(*kvInput), p.Output.(*kvOutput)))
		}
		return strings.Join(s, "; ")
	}
	if len(writes) != 6 {
		t.Fatalf("writes check got %d operations, want 6: %s", len(writes), describeAll(writes))
	}
	if len(reads) != 7 {
		t.Fatalf("reads check got %d operations, want 7: %s", len(reads), describeAll(reads))
	}
	byValue := map[string]porcupine.Operation{}
	for _, p := range reads {
		byValue[p.Input.(*kvInput).Value+p.Input.(*kvInput).Op] = p
	}
	v1, v2, v3 := byValue["v1put"], byValue["v2put"], byValue["v3put"]
	if v2.Return != infinity || v2.Output.(*kvOutput).Outcome != history.Unknown {
		t.Errorf("unresolved unknown put: return %d outcome %s, want infinity and unknown", v2.Return, v2.Output.(*kvOutput).Outcome)
	}
	if v1.ClientId != v2.ClientId || v3.ClientId == v2.ClientId {
		t.Errorf("client ids v1 %d, v2 %d, v3 %d: the unknown op keeps the client's id and the client goes on under a new one",
			v1.ClientId, v2.ClientId, v3.ClientId)
	}
	v4 := byValue["v4put"]
	if v4.Return != ms(55) || v4.Output.(*kvOutput).Outcome != history.OK || v4.Output.(*kvOutput).Rev != 4 {
		t.Errorf("resolved unknown put = %+v, want ok at rev 4 returning when seen", v4)
	}
	if c := byValue["uupdate"].Output.(*kvOutput); !c.Conflict || c.Outcome != history.Fail {
		t.Errorf("conflicting update output = %+v", c)
	}
	for _, p := range reads {
		if p.Call > p.Return {
			t.Errorf("%s: call %d after return %d", describeOp(p.Input.(*kvInput), p.Output.(*kvOutput)), p.Call, p.Return)
		}
	}
	// Porcupine's views need at most one outstanding operation per id.
	for i, a := range reads {
		for j, b := range reads {
			if i != j && a.ClientId == b.ClientId && a.Call <= b.Call && b.Call < a.Return {
				t.Errorf("client id %d has overlapping operations", a.ClientId)
			}
		}
	}
}

func TestVisualizationName(t *testing.T) {
	tests := []struct{ key, check, want string }{
		{"k", CheckLinearizableWrites, "k.html"},
		{"k", CheckLinearizableReads, "k-reads.html"},
		{"config.db-1_x", CheckLinearizableWrites, "config.db-1_x.html"},
		{"a/b c*", CheckLinearizableWrites, "a_b_c_.html"},
		{"../../etc", CheckLinearizableWrites, ".._.._etc.html"},
	}
	for _, tc := range tests {
		if got := visualizationName(tc.key, tc.check); got != tc.want {
			t.Errorf("visualizationName(%q, %s) = %q, want %q", tc.key, tc.check, got, tc.want)
		}
	}
}
