package checker

import (
	"fmt"
	"sort"

	"github.com/kvharness/kvharness/history"
)

// checkRevisionsUnique: a revision is a stream sequence, shared by the whole
// bucket, so it must name exactly one message. Every source that pairs a
// revision with what was written there — acknowledged writes, the recording
// watcher, gets, final reads — must agree, and no value (each write's is
// unique) may sit at two revisions. watch holds the watcher's entries and
// the messages stored after the run.
func checkRevisionsUnique(ops, watch, finals []history.Record) (CheckResult, []string) {
	c := CheckResult{Name: CheckRevisionsUnique}
	type claim struct {
		what string // value id or "<marker> marker of <key>"
		by   string
	}
	byRev := map[uint64]claim{}
	revOf := map[string]uint64{}
	var problems []string
	add := func(rev uint64, key, value, marker, by string) {
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
			add(op.Rev, op.Key, op.Value, "", fmt.Sprintf("%s by client %d", op.Op, op.Client))
		case op.Op == history.OpGet && op.Outcome == history.OK && op.Found:
			add(op.Rev, op.Key, op.Read, "", fmt.Sprintf("get by client %d", op.Client))
		}
	}
	for _, w := range watch {
		by := fmt.Sprintf("watcher %d", w.Watcher)
		if w.Kind == history.KindStored {
			by = "the stream after the run"
		}
		add(w.Rev, w.Key, w.Read, w.Marker, by)
	}
	for _, f := range finals {
		if f.Found || f.Marker != "" {
			add(f.Rev, f.Key, f.Read, f.Marker, "final read")
		}
	}
	if len(problems) == 0 {
		c.Result = Pass
		c.Detail = fmt.Sprintf("%d revisions, each naming one message (%d acknowledged writes, %d messages watched or stored)", len(byRev), n, len(watch))
		return c, nil
	}
	sort.Strings(problems)
	c.Result = Fail
	c.Detail = fmt.Sprintf("%d conflicting revision claims; first: %s", len(problems), problems[0])
	return c, notesFor(CheckRevisionsUnique, problems)
}
