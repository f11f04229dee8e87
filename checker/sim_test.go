package checker

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/kvharness/kvharness/history"
)

// This file simulates a linearizable NATS KV bucket (R1: every get sees the
// latest message) driven by concurrent clients, and records the history the
// workload would. Every simulated history must pass; each one with a single
// injected anomaly must fail the check that claims to catch it.

type simConfig struct {
	seed         uint64
	clients      int
	keys         int
	opsPerClient int
	unknownRate  float64 // fraction of ops whose outcome the client never learns
	failRate     float64 // fraction of ops refused before anything was written
	noWatch      bool    // drop the watcher: no watch records, WatchComplete false
	thinkUs      int64   // a client's pause between operations, at most (µs; 0: 500)
}

// simResult is a history and what the simulation knows about it.
type simResult struct {
	h          *history.History
	resolution map[string]Resolution // what Check must report
}

// simSlot is one operation of one client, before the bucket decides its result.
type simSlot struct {
	client, seq int
	op, key     string
	inv, comp   int64 // comp 0: unknown outcome
	at          int64 // when the bucket applies it (or, for ops that never reach it, decides to drop it)
	effect      bool  // reaches the bucket
	fate        history.Outcome
}

type simKey struct {
	live   bool
	value  string
	rev    uint64 // sequence of the key's last message, markers included; 0: none
	marker string
}

func simulate(cfg simConfig) simResult {
	rng := rand.New(rand.NewPCG(cfg.seed, 0x6b76))
	keys := make([]string, cfg.keys)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	type weighted struct {
		op string
		w  int
	}
	mix := []weighted{
		{history.OpPut, 3}, {history.OpUpdate, 4}, {history.OpCreate, 2},
		{history.OpDelete, 2}, {history.OpPurge, 1}, {history.OpGet, 5},
	}
	total := 0
	for _, m := range mix {
		total += m.w
	}
	pick := func() string {
		n := rng.IntN(total)
		for _, m := range mix {
			if n < m.w {
				return m.op
			}
			n -= m.w
		}
		panic("unreachable")
	}
	const us = int64(1000)

	// Each client's operations, one after the other, at random pace.
	var slots []*simSlot
	for c := 1; c <= cfg.clients; c++ {
		t := rng.Int64N(500 * us)
		for i := 0; i < cfg.opsPerClient; i++ {
			s := &simSlot{client: c, seq: i, op: pick(), key: keys[rng.IntN(len(keys))], inv: t, effect: true}
			dur := 50*us + rng.Int64N(3000*us)
			r := rng.Float64()
			switch {
			case r < cfg.unknownRate:
				s.fate = history.Unknown
				// Timed out: it may land long after the client gave up, or never.
				s.effect = rng.IntN(2) == 0
				s.at = s.inv + 1 + rng.Int64N(3*dur)
			case r < cfg.unknownRate+cfg.failRate:
				s.fate = history.Fail
				s.effect = false
				s.at = s.inv + 1
				s.comp = s.inv + dur
			default:
				s.fate = history.OK
				s.at = s.inv + 1 + rng.Int64N(dur-1)
				s.comp = s.inv + dur
			}
			slots = append(slots, s)
			think := cfg.thinkUs
			if think == 0 {
				think = 500
			}
			t = s.inv + dur + rng.Int64N(think*us)
		}
	}
	// The bucket applies operations in the order of their linearization
	// points. A client's own earlier ops come first, since each completed
	// before the next was invoked, so what it knows is known by then.
	sort.SliceStable(slots, func(i, j int) bool { return slots[i].at < slots[j].at })

	state := map[string]*simKey{}
	for _, k := range keys {
		state[k] = &simKey{}
	}
	known := map[int]map[string]uint64{} // client → key → last revision it learned
	for c := 1; c <= cfg.clients; c++ {
		known[c] = map[string]uint64{}
	}
	var seq uint64
	var watchAt int64
	h := &history.History{Meta: &history.Meta{Scenario: "sim", Bucket: "sim", Replicas: 1, History: 64, Keys: keys, Seed: cfg.seed}}
	type kk struct{ key, op string }
	markers := map[kk]int{} // every marker the stream got, by key and the op that writes it
	appendMsg := func(s *simSlot, value, marker string) uint64 {
		seq++
		switch marker {
		case history.MarkerDel:
			markers[kk{s.key, history.OpDelete}]++
		case history.MarkerPurge:
			markers[kk{s.key, history.OpPurge}]++
		}
		k := state[s.key]
		k.live, k.value, k.rev, k.marker = marker == "", value, seq, marker
		watchAt = max(watchAt+1, s.at+rng.Int64N(200*us))
		if !cfg.noWatch {
			h.Watch = append(h.Watch, history.Record{Kind: history.KindWatch, Key: s.key, Rev: seq, Read: value, Marker: marker, At: watchAt})
		}
		return seq
	}
	var last int64
	for _, s := range slots {
		k := state[s.key]
		rec := history.Record{Kind: history.KindOp, Client: s.client, Op: s.op, Key: s.key, Outcome: s.fate, Invoke: s.inv, Complete: s.comp}
		if history.IsWrite(s.op) && s.op != history.OpDelete && s.op != history.OpPurge {
			rec.Value = fmt.Sprintf("c%d-%d", s.client, s.seq)
		}
		// Preconditions, from what this client knows.
		switch s.op {
		case history.OpUpdate:
			rec.HasExpect = true
			rec.ExpectRev = known[s.client][s.key]
			if rng.IntN(5) == 0 && seq > 0 {
				rec.ExpectRev = rng.Uint64N(seq + 1)
			}
		case history.OpDelete, history.OpPurge:
			// nats.go sends LastRevision(0) as no precondition at all.
			if rev := known[s.client][s.key]; rev != 0 && rng.IntN(2) == 0 {
				rec.HasExpect, rec.ExpectRev = true, rev
			}
		}
		if s.effect {
			conflict := false
			switch s.op {
			case history.OpPut:
				rec.Rev = appendMsg(s, rec.Value, "")
			case history.OpUpdate:
				if k.rev == rec.ExpectRev {
					rec.Rev = appendMsg(s, rec.Value, "")
				} else {
					conflict = true
				}
			case history.OpCreate:
				if !k.live {
					rec.Rev = appendMsg(s, rec.Value, "")
				} else {
					conflict = true
				}
			case history.OpDelete, history.OpPurge:
				if rec.HasExpect && k.rev != rec.ExpectRev {
					conflict = true
				} else {
					marker := history.MarkerDel
					if s.op == history.OpPurge {
						marker = history.MarkerPurge
					}
					rev := appendMsg(s, "", marker)
					if cfg.seed%2 == 1 {
						// kvharness's deletes keep their marker's revision;
						// histories from before it (even seeds) have none.
						rec.Rev = rev
					}
				}
			case history.OpGet:
				if k.live {
					rec.Found, rec.Read, rec.Rev = true, k.value, k.rev
				}
			}
			if s.fate == history.OK {
				switch {
				case conflict:
					// The server names the key's revision, as 10071 does.
					rec.Outcome, rec.Rev, rec.ErrClass = history.Fail, 0, history.ClassConflict
					rec.Error = fmt.Sprintf("nats: API error: code=400 err_code=10071 description=wrong last sequence: %d", k.rev)
				case s.op == history.OpDelete || s.op == history.OpPurge:
					known[s.client][s.key] = 0 // as the workload: a deleted key starts afresh
				case rec.Rev != 0:
					known[s.client][s.key] = rec.Rev
				case s.op == history.OpGet:
					known[s.client][s.key] = 0
				}
			}
		}
		switch s.fate {
		case history.Unknown:
			rec.Rev, rec.Found, rec.Read = 0, false, ""
			rec.ErrClass, rec.Error = history.ClassTimeout, "timeout"
		case history.Fail:
			rec.ErrClass, rec.Error = history.ClassNoResponders, "no responders"
		}
		h.Ops = append(h.Ops, rec)
		last = max(last, s.at, s.comp, watchAt)
	}

	// Final reads through the stream leader, after everything settled.
	finalAt := last + 1000*us
	for i, key := range keys {
		k := state[key]
		f := history.Record{Kind: history.KindFinal, Key: key, Invoke: finalAt + int64(2*i), Complete: finalAt + int64(2*i+1)}
		switch {
		case k.live:
			f.Found, f.Read, f.Rev = true, k.value, k.rev
		case k.rev != 0:
			f.Marker, f.Rev = k.marker, k.rev
		}
		h.Final = append(h.Final, f)
	}
	h.End = &history.End{At: finalAt + 1000*us, LastSeq: seq, WatchComplete: !cfg.noWatch, FinalReads: true}
	sort.SliceStable(h.Ops, func(i, j int) bool { return h.Ops[i].Invoke < h.Ops[j].Invoke })

	// What resolution must find: a value still in the stream (watch or
	// final read) happened; one the complete watcher never saw did not.
	inStream := map[string]bool{}
	for _, w := range h.Watch {
		inStream[w.Read] = true
	}
	for _, f := range h.Final {
		if f.Found {
			inStream[f.Read] = true
		}
	}
	// Deletes carry no value: with every message of the stream known (the
	// watcher saw them all, or acknowledgements — deletes' included — and
	// final reads account for every sequence), unknown ones of a key are
	// settled only when acknowledged deletes account for every marker of
	// that kind (and then, since the check must pass, none of them can
	// have landed).
	accounted := map[uint64]bool{}
	for _, op := range h.Ops {
		if op.Outcome == history.OK && op.Rev != 0 && history.IsWrite(op.Op) {
			accounted[op.Rev] = true
		}
	}
	for _, f := range h.Final {
		accounted[f.Rev] = true
	}
	delete(accounted, 0)
	allKnown := !cfg.noWatch || len(accounted) == int(seq)
	acked := map[kk]int{}
	for _, op := range h.Ops {
		if (op.Op == history.OpDelete || op.Op == history.OpPurge) && op.Outcome == history.OK {
			acked[kk{op.Key, op.Op}]++
		}
	}
	want := map[string]Resolution{}
	for _, op := range h.Ops {
		if op.Outcome != history.Unknown || !history.IsWrite(op.Op) {
			continue
		}
		r := want[op.Op]
		k := kk{op.Key, op.Op}
		switch {
		case op.Value != "" && inStream[op.Value]:
			r.Happened++
		case op.Value != "" && !cfg.noWatch:
			r.NotHappened++
		case op.Value == "" && allKnown && markers[k] == acked[k]:
			r.NotHappened++
		default:
			r.StillUnknown++
		}
		want[op.Op] = r
	}
	return simResult{h: h, resolution: want}
}

var simConfigs = []simConfig{
	{clients: 4, keys: 1, opsPerClient: 25, unknownRate: 0.06, failRate: 0.03},
	{clients: 6, keys: 3, opsPerClient: 20, unknownRate: 0.08, failRate: 0.03},
	{clients: 5, keys: 2, opsPerClient: 20, unknownRate: 0.05, failRate: 0.03, noWatch: true},
}

// simSeeds histories per configuration must pass; anomalySeeds of them get
// each anomaly injected (failing checks draw views, which costs more).
const simSeeds, anomalySeeds = 25, 8

func forEachSim(t *testing.T, seeds int, f func(t *testing.T, sim simResult)) {
	for _, cfg := range simConfigs {
		for seed := uint64(1); seed <= uint64(seeds); seed++ {
			cfg := cfg
			cfg.seed = seed
			name := fmt.Sprintf("c%d-k%d-watch=%t-seed%d", cfg.clients, cfg.keys, !cfg.noWatch, seed)
			t.Run(name, func(t *testing.T) { f(t, simulate(cfg)) })
		}
	}
}

// TestSimulatedHistoriesPass: whatever the interleaving, a history of a
// linearizable bucket passes every check, and unknowns resolve as they were.
func TestSimulatedHistoriesPass(t *testing.T) {
	unknowns := 0
	forEachSim(t, simSeeds, func(t *testing.T, sim simResult) {
		res, _ := runCheck(t, sim.h)
		wantStatus(t, res, allPass)
		if res.StaleReads.Stale != 0 {
			t.Errorf("StaleReads = %+v on a linearizable bucket", res.StaleReads)
		}
		got := map[string]Resolution{}
		for op, r := range res.Resolution {
			got[op] = *r
			unknowns += r.Happened + r.NotHappened + r.StillUnknown
		}
		if fmt.Sprint(got) != fmt.Sprint(sim.resolution) {
			t.Errorf("Resolution = %v, want %v", got, sim.resolution)
		}
	})
	if unknowns == 0 {
		t.Errorf("the simulations produced no unknown writes: the test exercises less than it claims")
	}
}

// TestSimulatedAnomaliesFail injects one anomaly into each simulated history
// and asserts that the check that claims it fails.
func TestSimulatedAnomaliesFail(t *testing.T) {
	type acked struct {
		i   int // index in h.Ops
		rev uint64
	}
	// ackedValues lists, per key, acknowledged writes with a value, by revision.
	ackedValues := func(h *history.History) map[string][]acked {
		m := map[string][]acked{}
		for i, op := range h.Ops {
			if history.IsWrite(op.Op) && op.Outcome == history.OK && op.Rev != 0 && op.Value != "" {
				m[op.Key] = append(m[op.Key], acked{i, op.Rev})
			}
		}
		for _, list := range m {
			sort.Slice(list, func(a, b int) bool { return list[a].rev < list[b].rev })
		}
		return m
	}

	t.Run("final state rolled back below an acknowledged write", func(t *testing.T) {
		injected := 0
		forEachSim(t, anomalySeeds, func(t *testing.T, sim simResult) {
			h := sim.h
			for fi, f := range h.Final {
				list := ackedValues(h)[f.Key]
				if len(list) < 2 {
					continue
				}
				older := h.Ops[list[len(list)-2].i]
				h.Final[fi].Found, h.Final[fi].Marker, h.Final[fi].Read, h.Final[fi].Rev = true, "", older.Value, older.Rev
				injected++
				res, _ := runCheck(t, h)
				wantStatus(t, res, map[string]Status{CheckLinearizableWrites: Fail, CheckNoLostWrites: Fail})
				return
			}
		})
		if injected < anomalySeeds {
			t.Errorf("injected into only %d histories", injected)
		}
	})

	t.Run("get returns a value overwritten before it began", func(t *testing.T) {
		injected := 0
		forEachSim(t, anomalySeeds, func(t *testing.T, sim simResult) {
			h := sim.h
			byKey := ackedValues(h)
			for gi, g := range h.Ops {
				if g.Op != history.OpGet || g.Outcome != history.OK {
					continue
				}
				// The newest acknowledged write completed before the get
				// began, and one older than it.
				var newest, older *history.Record
				for _, a := range byKey[g.Key] {
					w := &h.Ops[a.i]
					if w.Complete < g.Invoke {
						older, newest = newest, w
					}
				}
				if older == nil {
					continue
				}
				h.Ops[gi].Found, h.Ops[gi].Read, h.Ops[gi].Rev = true, older.Value, older.Rev
				injected++
				res, _ := runCheck(t, h)
				wantStatus(t, res, map[string]Status{CheckLinearizableWrites: Pass, CheckLinearizableReads: Fail})
				if res.StaleReads.Stale != 1 {
					t.Errorf("StaleReads = %+v, want 1 stale", res.StaleReads)
				}
				return
			}
		})
		if injected < anomalySeeds {
			t.Errorf("injected into only %d histories", injected)
		}
	})

	t.Run("one revision acknowledged for two writes", func(t *testing.T) {
		injected := 0
		forEachSim(t, anomalySeeds, func(t *testing.T, sim simResult) {
			h := sim.h
			var all []acked
			for _, list := range ackedValues(h) {
				all = append(all, list...)
			}
			if len(all) < 2 {
				return
			}
			sort.Slice(all, func(a, b int) bool { return all[a].rev < all[b].rev })
			a, b := all[len(all)/2], all[len(all)/2+1]
			h.Ops[a.i].Rev = h.Ops[b.i].Rev
			injected++
			res, _ := runCheck(t, h)
			wantStatus(t, res, map[string]Status{CheckRevisionsUnique: Fail})
		})
		if injected < anomalySeeds {
			t.Errorf("injected into only %d histories", injected)
		}
	})

	t.Run("lost update: two acknowledged CAS updates expected the same revision", func(t *testing.T) {
		injected := 0
		forEachSim(t, anomalySeeds, func(t *testing.T, sim simResult) {
			h := sim.h
			// An acknowledged update u2 that expected the revision an
			// acknowledged update u1 returned is made to expect what u1
			// expected. Every message, revision and read stays as it was:
			// only u2's precondition cannot have held (the key was at u1's
			// revision or later by then), so nothing but the model's CAS
			// rule can catch it. (Acknowledging a conflict with a revision
			// past the stream's end would be caught by the final read alone.)
			updateAt := map[string]map[uint64]int{} // key → revision → index of the acknowledged update that returned it
			for i, op := range h.Ops {
				if op.Op == history.OpUpdate && op.Outcome == history.OK && op.Rev != 0 {
					if updateAt[op.Key] == nil {
						updateAt[op.Key] = map[uint64]int{}
					}
					updateAt[op.Key][op.Rev] = i
				}
			}
			for i, op := range h.Ops {
				if op.Op != history.OpUpdate || op.Outcome != history.OK || !op.HasExpect {
					continue
				}
				u1, ok := updateAt[op.Key][op.ExpectRev]
				if !ok {
					continue
				}
				h.Ops[i].ExpectRev = h.Ops[u1].ExpectRev
				injected++
				res, _ := runCheck(t, h)
				wantStatus(t, res, map[string]Status{CheckLinearizableWrites: Fail, CheckRevisionsUnique: Pass, CheckNoLostWrites: Pass})
				if !notesContain(res, CheckLinearizableWrites+": ", "lost update") {
					t.Errorf("no note names the lost update:\n%s", dump(res))
				}
				return
			}
		})
		if injected < anomalySeeds {
			t.Errorf("injected into only %d histories", injected)
		}
	})
}
