package checker

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/kvharness/kvharness/history"
)

// keyParts is what checkKeys is given for a history: each key's operations,
// for the write check and for the direct-read check.
func keyParts(h *history.History) [][]porcupine.Operation {
	f := factsOf(h)
	r := resolve(h, &f)
	var parts [][]porcupine.Operation
	for _, f := range []opsFilter{{seqs: r.seqs}, {seqs: r.seqs, includeGets: true, path: history.PathDirect}} {
		parts = append(parts, partitionByKey(toOperations(r.ops, h.Final, f, nil))...)
	}
	return parts
}

// TestSweepDecidesSimulatedKeys: on simulated linearizable buckets whose
// key sequences are known (the recording watcher ran), the sweep linearizes
// every key by itself, and Porcupine agrees with each one.
func TestSweepDecidesSimulatedKeys(t *testing.T) {
	swept, searched := 0, 0
	forEachSim(t, simSeeds, func(t *testing.T, sim simResult) {
		known := factsOf(sim.h).seqsKnown
		for _, part := range keyParts(sim.h) {
			if sweepKey(part) {
				swept++
				if got := porcupine.CheckOperations(kvModel, part); !got {
					t.Fatalf("the sweep linearized key %q, Porcupine finds it illegal", part[0].Input.(*kvInput).Key)
				}
				continue
			}
			searched++
			if known {
				t.Errorf("key %q of a linearizable bucket with a known sequence was not swept: %s", part[0].Input.(*kvInput).Key, sweepWhy(part))
			}
		}
	})
	if swept == 0 || searched == 0 {
		t.Errorf("swept %d keys, searched %d: both kinds of simulation must occur", swept, searched)
	}
}

// TestSweepNeverPassesIllegalKeys mutates keys of simulated histories at
// random — a read's value or revision, an operation's times, a conflict's
// expectation, an outcome — and holds the sweep to Porcupine's answer on
// each: a key the sweep linearizes must be one Porcupine does. Enough of the
// mutants must be illegal for this to test anything.
func TestSweepNeverPassesIllegalKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 17))
	illegal, sweptLegal, searchedLegal := 0, 0, 0
	forEachSim(t, simSeeds, func(t *testing.T, sim simResult) {
		if !factsOf(sim.h).seqsKnown {
			return
		}
		for _, part := range keyParts(sim.h) {
			for range 20 {
				mutant, what := mutate(rng, part)
				ok, swept := porcupine.CheckOperations(kvModel, mutant), sweepKey(mutant)
				if !ok {
					illegal++
				}
				if swept && !ok {
					t.Fatalf("the sweep linearized an illegal key (%s)", what)
				}
				switch {
				case swept:
					sweptLegal++
				case ok:
					searchedLegal++
				}
			}
		}
	})
	t.Logf("%d illegal mutants refused; of the legal ones %d swept, %d left to the search", illegal, sweptLegal, searchedLegal)
	if illegal < 100 || sweptLegal < 100 {
		t.Errorf("%d illegal mutants, %d swept: the mutations test too little", illegal, sweptLegal)
	}
}

// mutate returns a copy of part with one thing changed, and what.
func mutate(rng *rand.Rand, part []porcupine.Operation) ([]porcupine.Operation, string) {
	m := append([]porcupine.Operation(nil), part...)
	var written []porcupine.Operation // writes with a revision: what a read may claim to see
	for _, op := range m {
		if out := op.Output.(*kvOutput); out.Rev != 0 && op.Input.(*kvInput).Value != "" {
			written = append(written, op)
		}
	}
	for {
		i := rng.IntN(len(m))
		// Copies: the operations share their inputs and outputs with part.
		inV, outV := *m[i].Input.(*kvInput), *m[i].Output.(*kvOutput)
		in, out := &inV, &outV
		call, ret := m[i].Call, m[i].Return
		isRead := in.Op == history.OpGet || in.Op == opFinal
		switch rng.IntN(7) {
		case 0: // a read of another write
			if isRead && len(written) > 0 {
				w := written[rng.IntN(len(written))]
				out.Found, out.Marker, out.Read, out.Rev = true, "", w.Input.(*kvInput).Value, w.Output.(*kvOutput).Rev
			}
		case 1: // a point at its return
			call = ret
		case 2: // a point at its call
			if ret != infinity {
				ret = call
			}
		case 3: // refused though its precondition held
			if out.Outcome == history.OK && (in.Op == history.OpUpdate || in.Op == history.OpCreate) {
				out.Outcome, out.Conflict, out.Rev = history.Fail, true, 0
			}
		case 4: // expected another revision
			if in.Op == history.OpUpdate && len(written) > 0 {
				in.Expect = written[rng.IntN(len(written))].Output.(*kvOutput).Rev
			}
		case 5: // read nothing
			if in.Op == history.OpGet {
				out.Found, out.Read, out.Rev = false, "", 0
			}
		case 6: // two writes' revisions swapped
			j := rng.IntN(len(m))
			otherV := *m[j].Output.(*kvOutput)
			other := &otherV
			if out.Rev != 0 && other.Rev != 0 && !isRead && m[j].Input.(*kvInput).Op != opFinal && m[j].Input.(*kvInput).Op != history.OpGet && i != j {
				out.Rev, other.Rev = other.Rev, out.Rev
				m[j].Output = other
			}
		}
		if *in == *m[i].Input.(*kvInput) && *out == *m[i].Output.(*kvOutput) && call == m[i].Call && ret == m[i].Return {
			continue // the mutation did not apply to this operation
		}
		m[i].Input, m[i].Output, m[i].Call, m[i].Return = in, out, call, ret
		return m, fmt.Sprintf("op %d: %s [%d, %d]", i, describeOp(in, out), call, ret)
	}
}

// TestSweepKeepsVerdicts: with and without the sweep, every simulated
// history, passing or carrying an anomaly, gets the same verdict on each
// linearizability check — the write check decided by itself, not settled
// by the read check.
func TestSweepKeepsVerdicts(t *testing.T) {
	names := []string{CheckLinearizableWrites, CheckLinearizableReads}
	compare := func(t *testing.T, h *history.History) {
		with := Check(h, Options{Timeout: 10 * time.Second, eachAlone: true})
		without := Check(h, Options{Timeout: 10 * time.Second, searchOnly: true, eachAlone: true})
		for _, name := range names {
			a, b := checkNamed(t, with, name), checkNamed(t, without, name)
			if a.Result != b.Result {
				t.Errorf("%s: %s with the sweep, %s by search alone (%s)", name, a.Result, b.Result, b.Detail)
			}
		}
		// And the write check settled by the read check where it passes
		// gets what it gets by itself.
		settled := Check(h, Options{Timeout: 10 * time.Second})
		if a, b := checkNamed(t, with, CheckLinearizableWrites), checkNamed(t, settled, CheckLinearizableWrites); a.Result != b.Result {
			t.Errorf("linearizable-writes: %s by itself, %s settled by the read check (%s)", a.Result, b.Result, b.Detail)
		}
	}
	rng := rand.New(rand.NewPCG(5, 9))
	fails := 0
	forEachSim(t, simSeeds, func(t *testing.T, sim simResult) {
		compare(t, sim.h)
		// The same history with one read or one write's answer changed.
		h := *sim.h
		h.Ops = append([]history.Record(nil), h.Ops...)
		i := rng.IntN(len(h.Ops))
		switch op := &h.Ops[i]; {
		case op.Op == history.OpGet && op.Outcome == history.OK:
			op.Found, op.Read, op.Rev = true, h.Ops[rng.IntN(len(h.Ops))].Value, op.Rev+1
		case op.Outcome == history.OK && op.Op == history.OpUpdate:
			op.Outcome, op.ErrClass, op.Rev = history.Fail, history.ClassConflict, 0
		default:
			op.Invoke, op.Complete = op.Complete, op.Complete+1
		}
		compare(t, &h)
		if Check(&h, Options{Timeout: 10 * time.Second}).Verdict == Fail {
			fails++
		}
	})
	if fails < 10 {
		t.Errorf("only %d mutated histories failed: the comparison covers too few failing ones", fails)
	}
}

// TestSweepDecidesLongKeys: keys of thousands of operations, deletes and
// purges overlapping, are swept too — where guessing which delete wrote
// which marker gets a key wrong unless the schedule repairs its guesses
// (pinAcked, banDelay) — and Porcupine agrees with the first of them.
func TestSweepDecidesLongKeys(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		sim := simulate(simConfig{seed: seed, clients: 4, keys: 1, opsPerClient: 1000, unknownRate: 0.05, failRate: 0.02})
		for i, part := range keyParts(sim.h) {
			if why := sweepWhy(part); why != "" {
				t.Errorf("seed %d: a key of %d operations was not swept: %s", seed, len(part), why)
				continue
			}
			if seed == 1 && i == 0 {
				if got := porcupine.CheckOperationsTimeout(kvModel, part, time.Minute); got == porcupine.Illegal {
					t.Errorf("seed %d: the sweep linearized a key Porcupine finds illegal", seed)
				}
			}
		}
	}
}
