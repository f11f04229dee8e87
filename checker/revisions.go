package checker

import (
	"fmt"
	"sort"

	"github.com/kvharness/kvharness/history"
)

// checkRevisionsUnique: a revision is a stream sequence, shared by the whole
// bucket, so it must name exactly one message. Every source that pairs a
// revision with what was written there — acknowledged writes, the recording
// watcher, gets, final reads, the scenario's watchers, History() — must
// agree, and no value (each write's is unique) may sit at two revisions.
// seen holds the recording watcher's entries, the messages stored after the
// run and History() entries.
type revisionsUnique struct {
	revisions, acked, watched int
	twice                     int // creates that wrote their value twice (see wroteTwice)
	problems                  []string
	crossKey                  []crossKeyClaim // from the facts
	groupOf                   map[string]int  // each key's group
	groups                    int
}

// claim is what one source said a revision holds: a value or marker of a
// key. The key counts too: a read of one key returning another key's value
// at that value's revision claims a message the stream does not have (the
// facts find the same across groups of keys).
type claim struct {
	key  string
	what string // value id or "<marker> marker"
	by   source
}

func (c claim) String() string { return fmt.Sprintf("%q of key %q per %s", c.what, c.key, c.by) }

func (c *revisionsUnique) add(g *keyGroup) {
	c.crossKey = g.f.crossKey
	if c.groupOf == nil {
		c.groupOf = map[string]int{}
	}
	c.groups++
	// Made at about their size: the messages the watcher saw or the
	// stream held, not grown from empty through every size on the way.
	messages := len(g.h.Watch) + len(g.h.Stored) + len(g.h.KeyHistory)
	byRev := make(map[uint64]claim, messages)
	revOf := make(map[string]uint64, messages)
	lastKey, keyed := "", false
	add := func(rev uint64, key, value, marker string, by source) {
		if rev == 0 {
			return
		}
		cl := claim{key: key, what: messageName(value, marker), by: by}
		if key != lastKey || !keyed { // a group's records are mostly of one key
			c.groupOf[key], lastKey, keyed = c.groups, key, true
		}
		switch prev, ok := byRev[rev]; {
		case !ok:
			byRev[rev] = cl
		case prev.what != cl.what || prev.key != cl.key:
			c.problems = append(c.problems, fmt.Sprintf("revision %d holds %s but %s", rev, prev, cl))
		}
		if value != "" && marker == "" {
			if r, ok := revOf[value]; ok && r != rev && !g.r.createdTwice(value, r, rev) {
				c.problems = append(c.problems, fmt.Sprintf("value %q appears at revisions %d and %d (%s)", value, r, rev, by))
			} else if !ok {
				revOf[value] = rev
			}
		}
	}
	for _, op := range g.r.ops {
		switch {
		case history.IsWrite(op.Op) && op.Rev != 0:
			if !g.isContext(op) {
				c.acked++
			}
			add(op.Rev, op.Key, op.Value, markerOf(op.Op), clientOp(op.Op, op.Client))
		case op.Op == history.OpGet && op.Outcome == history.OK && op.Found:
			add(op.Rev, op.Key, op.Read, "", clientOp(history.OpGet, op.Client))
		}
	}
	for _, list := range [][]history.Record{g.h.Watch, g.h.Stored, g.h.KeyHistory} {
		c.watched += len(list)
		for _, w := range list {
			by := source{kind: "watcher", id: w.Watcher}
			switch w.Kind {
			case history.KindStored:
				by = source{kind: "the stream after the run"}
			case history.KindHistory:
				by = source{kind: "History()"}
			}
			add(w.Rev, w.Key, w.Read, w.Marker, by)
		}
	}
	c.watched += len(g.h.Delivered)
	for _, d := range g.h.Delivered {
		add(d.Rev, d.Key, d.Read, d.Marker, source{kind: "watcher", id: d.Watcher})
	}
	for _, f := range g.h.Final {
		if f.Found || f.Marker != "" {
			add(f.Rev, f.Key, f.Read, f.Marker, source{kind: "final read"})
		}
	}
	c.revisions += len(byRev)
	if g.laterSpan() {
		// The span's first message is its earlier span's.
		for rev := range byRev {
			if rev <= g.span.from {
				c.revisions--
			}
		}
	}
	c.twice += len(g.r.twice)
}

func (c *revisionsUnique) result() (CheckResult, []string) {
	cr := CheckResult{Name: CheckRevisionsUnique}
	problems := c.problems
	for _, x := range c.crossKey {
		// Keys of one group were compared there, with their values.
		if g := c.groupOf[x.first]; g == 0 || g != c.groupOf[x.second] {
			problems = append(problems, x.String())
		}
	}
	if len(problems) == 0 {
		cr.Result = Pass
		cr.Detail = fmt.Sprintf("%d revisions, each naming one message (%d acknowledged writes, %d messages watched or stored)", c.revisions, c.acked, c.watched)
		if c.twice > 0 {
			cr.Detail += fmt.Sprintf("; %d creates wrote their value twice, before and after a delete of the key: nats.go's Create retries over a delete marker after a first request whose answer was lost", c.twice)
		}
		return cr, nil
	}
	sort.Strings(problems)
	cr.Result = Fail
	cr.Detail = fmt.Sprintf("%d conflicting revision claims; first: %s", len(problems), problems[0])
	return cr, notesFor(CheckRevisionsUnique, problems)
}

// source names who claimed a revision, formatted only for a problem (a
// claim is made per delivery, millions in a long run).
type source struct {
	kind string
	id   int // client or watcher; 0: none
	// byClient: kind is an op, made by client id (named "<op> by client"
	// when formatted, not per claim).
	byClient bool
}

// clientOp is the source of an op of client id.
func clientOp(op string, id int) source { return source{kind: op, id: id, byClient: true} }

func (s source) String() string {
	kind := s.kind
	if s.byClient {
		kind += " by client"
	}
	if s.id == 0 && kind != "watcher" {
		return kind
	}
	return fmt.Sprintf("%s %d", kind, s.id)
}
