package checker

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kvharness/kvharness/history"
)

// Session guarantees, per client and key, of the gets that found a value:
// weaker than linearizability and implied by it, they are what an
// application reading through one connection notices first — a value that
// goes back in time, or a write of its own that it cannot read back.
const (
	// CheckMonotonicReads: a client's get never returns a lower revision
	// of a key than one of its earlier gets returned.
	CheckMonotonicReads = "monotonic-reads"
	// CheckReadYourWrites: a client's get never returns a lower revision
	// of a key than a write of its own to that key was acknowledged with
	// before the get was invoked.
	CheckReadYourWrites = "read-your-writes"
)

// sessionGuarantee is one of the two; ownWrites picks read-your-writes.
type sessionGuarantee struct {
	name      string
	ownWrites bool
	byPath    map[string]*sessionTally
	examples  []string
	ttlKeys   int
}

// sessionTally: per read path, the found gets held to the guarantee, those
// that broke it, and how far back the worst one went.
type sessionTally struct {
	gets, broke int
	maxBack     uint64
}

func newSessionGuarantee(name string, ownWrites bool) *sessionGuarantee {
	return &sessionGuarantee{name: name, ownWrites: ownWrites, byPath: map[string]*sessionTally{}}
}

// sessionOrder lists the group's acknowledged writes with a revision and
// found gets, outside keys written with a TTL (expiry removes the latest
// message and can reveal an older one), by client, key and invocation:
// each session's operations in a run. Built once per group for both
// guarantees.
func (g *keyGroup) sessionOrder() []*history.Record {
	if g.sessions != nil {
		return g.sessions
	}
	// Each session's operations are gathered in the ops' order (a
	// counting sort by session), then ordered by invocation where they
	// are not already: a client's operations follow one another, so the
	// file's order is nearly always theirs. Sorting every operation by
	// client, key and invocation was 4 % of checking a five-minute run.
	type session struct {
		client int
		key    string
	}
	ids := map[session]int32{}
	var sessions []session
	at := make([]int32, 0, len(g.r.ops)) // per entry: its session
	var entries []*history.Record
	var last session
	lastID := int32(-1) // none yet
	for _, op := range g.r.ops {
		if g.f.ttlKeys[op.Key] || op.Outcome != history.OK {
			continue
		}
		if !(history.IsWrite(op.Op) && op.Rev != 0 || op.Op == history.OpGet && op.Found) {
			continue
		}
		if s := (session{op.Client, op.Key}); lastID < 0 || s != last {
			id, ok := ids[s]
			if !ok {
				id = int32(len(sessions))
				ids[s] = id
				sessions = append(sessions, s)
			}
			last, lastID = s, id
		}
		entries = append(entries, op)
		at = append(at, lastID)
	}
	// Sessions by client, then key; each session's first place in the
	// order.
	order := make([]int32, len(sessions))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		return cmp.Or(cmp.Compare(sessions[a].client, sessions[b].client), strings.Compare(sessions[a].key, sessions[b].key))
	})
	count := make([]int, len(sessions))
	for _, id := range at {
		count[id]++
	}
	start := make([]int, len(sessions))
	next := 0
	for _, id := range order {
		start[id] = next
		next += count[id]
	}
	g.sessions = make([]*history.Record, len(entries))
	fill := slices.Clone(start)
	for i, op := range entries {
		g.sessions[fill[at[i]]] = op
		fill[at[i]]++
	}
	for id := range sessions {
		s := g.sessions[start[id] : start[id]+count[id]]
		if !slices.IsSortedFunc(s, invokedFirst) {
			slices.SortStableFunc(s, invokedFirst) // ties in the ops' order
		}
	}
	return g.sessions
}

func invokedFirst(a, b *history.Record) int { return cmp.Compare(a.Invoke, b.Invoke) }

func (c *sessionGuarantee) add(g *keyGroup) {
	c.ttlKeys = len(g.f.ttlKeys)
	ops := g.sessionOrder()
	var floor uint64 // highest revision the current session must not go below
	// Own acknowledged writes not yet folded into floor: those still in
	// flight when the last get was invoked (a pipelining client has
	// several; a sequential one none), so the list stays short.
	var pending []*history.Record
	for i, op := range ops {
		if i == 0 || op.Client != ops[i-1].Client || op.Key != ops[i-1].Key {
			floor, pending = 0, pending[:0] // a new session
		}
		if history.IsWrite(op.Op) {
			if c.ownWrites {
				pending = append(pending, op)
			}
			continue
		}
		if c.ownWrites {
			// Own writes acknowledged before this get was invoked.
			pending = slices.DeleteFunc(pending, func(w *history.Record) bool {
				if w.Complete <= op.Invoke {
					floor = max(floor, w.Rev)
					return true
				}
				return false
			})
		}
		t := c.tally(history.PathOf(op))
		t.gets++
		if op.Rev < floor {
			t.broke++
			t.maxBack = max(t.maxBack, floor-op.Rev)
			if len(c.examples) < maxNotesPerCheck {
				c.examples = append(c.examples, fmt.Sprintf("client %d, key %q: get (%s) at %.3fs returned revision %d, below revision %d it %s",
					op.Client, op.Key, history.PathOf(op), float64(op.Invoke)/1e9, op.Rev, floor, c.below()))
			}
		}
		if !c.ownWrites {
			floor = max(floor, op.Rev)
		}
	}
}

func (c *sessionGuarantee) below() string {
	if c.ownWrites {
		return "had written"
	}
	return "had read"
}

func (c *sessionGuarantee) tally(path string) *sessionTally {
	t := c.byPath[path]
	if t == nil {
		t = &sessionTally{}
		c.byPath[path] = t
	}
	return t
}

func (c *sessionGuarantee) result() (CheckResult, []string) {
	cr := CheckResult{Name: c.name}
	var parts []string
	broke, gets := 0, 0
	for _, path := range slices.Sorted(maps.Keys(c.byPath)) {
		t := c.byPath[path]
		gets, broke = gets+t.gets, broke+t.broke
		part := fmt.Sprintf("%s gets: %d of %d went back (%.2f%%)", path, t.broke, t.gets, 100*float64(t.broke)/float64(max(t.gets, 1)))
		if t.broke > 0 {
			part += fmt.Sprintf(", up to %d revisions", t.maxBack)
		}
		parts = append(parts, part)
	}
	if c.ttlKeys > 0 {
		parts = append(parts, fmt.Sprintf("%d keys written with a TTL left out (expiry can reveal an older revision)", c.ttlKeys))
	}
	switch {
	case gets == 0:
		// Nothing could go back: a pass that says so, not a skip, so
		// that a run without gets is not inconclusive where reads are
		// required.
		cr.Result, cr.Detail = Pass, "no get found a value: no session could go back"
		return cr, nil
	case broke > 0:
		cr.Result = Fail
	default:
		cr.Result = Pass
	}
	cr.Detail = strings.Join(parts, "; ")
	if broke > 0 {
		return cr, notesFor(c.name, c.examples)
	}
	return cr, nil
}
