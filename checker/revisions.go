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
func checkRevisionsUnique(ops, seen []history.Record, deliveries []history.Delivery, finals []history.Record) (CheckResult, []string) {
	c := CheckResult{Name: CheckRevisionsUnique}
	type claim struct {
		what string // value id or "<marker> marker of <key>"
		by   source
	}
	byRev := map[uint64]claim{}
	revOf := map[string]uint64{}
	var problems []string
	add := func(rev uint64, key, value, marker string, by source) {
		if rev == 0 {
			return
		}
		what := value
		if marker != "" {
			what = marker + " marker of " + key
		}
		if prev, ok := byRev[rev]; ok && prev.what != what {
			problems = append(problems, fmt.Sprintf("revision %d holds %q per %s but %q per %s", rev, prev.what, prev.by, what, by))
		} else if !ok {
			byRev[rev] = claim{what: what, by: by}
		}
		if value != "" && marker == "" {
			if r, ok := revOf[value]; ok && r != rev {
				problems = append(problems, fmt.Sprintf("value %q appears at revisions %d and %d (%s)", value, r, rev, by))
			} else if !ok {
				revOf[value] = rev
			}
		}
	}
	n := 0
	for _, op := range ops {
		switch {
		case history.IsWrite(op.Op) && op.Rev != 0 && op.Value != "":
			n++
			add(op.Rev, op.Key, op.Value, "", source{op.Op + " by client", op.Client})
		case op.Op == history.OpGet && op.Outcome == history.OK && op.Found:
			add(op.Rev, op.Key, op.Read, "", source{"get by client", op.Client})
		}
	}
	for _, w := range seen {
		by := source{"watcher", w.Watcher}
		switch w.Kind {
		case history.KindStored:
			by = source{kind: "the stream after the run"}
		case history.KindHistory:
			by = source{kind: "History()"}
		}
		add(w.Rev, w.Key, w.Read, w.Marker, by)
	}
	for _, d := range deliveries {
		add(d.Rev, d.Key, d.Read, d.Marker, source{"watcher", d.Watcher})
	}
	for _, f := range finals {
		if f.Found || f.Marker != "" {
			add(f.Rev, f.Key, f.Read, f.Marker, source{kind: "final read"})
		}
	}
	if len(problems) == 0 {
		c.Result = Pass
		c.Detail = fmt.Sprintf("%d revisions, each naming one message (%d acknowledged writes, %d messages watched or stored)", len(byRev), n, len(seen)+len(deliveries))
		return c, nil
	}
	sort.Strings(problems)
	c.Result = Fail
	c.Detail = fmt.Sprintf("%d conflicting revision claims; first: %s", len(problems), problems[0])
	return c, notesFor(CheckRevisionsUnique, problems)
}

// source names who claimed a revision, formatted only for a problem (a
// claim is made per delivery, millions in a long run).
type source struct {
	kind string
	id   int // client or watcher; 0: none
}

func (s source) String() string {
	if s.id == 0 && s.kind != "watcher" {
		return s.kind
	}
	return fmt.Sprintf("%s %d", s.kind, s.id)
}
