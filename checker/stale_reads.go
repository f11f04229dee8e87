package checker

import (
	"fmt"
	"sort"

	"github.com/kvharness/kvharness/history"
)

// StaleReads measures gets that returned a value already overwritten by a
// write that had completed before the get began. NATS direct gets may be
// answered by a lagging replica, so on replicated buckets this is expected
// to be non-zero; it is measured, not hidden.
type StaleReads struct {
	Gets  int     `json:"gets"`  // gets that found a value
	Stale int     `json:"stale"` // of those, returned an overwritten value
	Frac  float64 `json:"fraction"`
	// MaxRevsBehind is the largest number of revisions a stale read lagged.
	MaxRevsBehind uint64 `json:"max_revs_behind"`
}

func (s StaleReads) String() string {
	return fmt.Sprintf("%d of %d gets returned an overwritten value (%.2f%%)", s.Stale, s.Gets, 100*s.Frac)
}

func staleReads(ops []history.Record) StaleReads {
	type done struct {
		at  int64
		rev uint64
	}
	writes := map[string][]done{}
	for _, op := range ops {
		if history.IsWrite(op.Op) && op.Outcome == history.OK && op.Rev != 0 {
			writes[op.Key] = append(writes[op.Key], done{op.Complete, op.Rev})
		}
	}
	// Per key: writes by completion time with the running maximum revision,
	// so "newest revision completed before t" is one binary search.
	for k, ws := range writes {
		sort.Slice(ws, func(i, j int) bool { return ws[i].at < ws[j].at })
		for i := 1; i < len(ws); i++ {
			if ws[i].rev < ws[i-1].rev {
				ws[i].rev = ws[i-1].rev
			}
		}
		writes[k] = ws
	}
	var s StaleReads
	for _, op := range ops {
		if op.Op != history.OpGet || op.Outcome != history.OK || !op.Found {
			continue
		}
		s.Gets++
		ws := writes[op.Key]
		i := sort.Search(len(ws), func(i int) bool { return ws[i].at >= op.Invoke })
		if i > 0 && ws[i-1].rev > op.Rev {
			s.Stale++
			if behind := ws[i-1].rev - op.Rev; behind > s.MaxRevsBehind {
				s.MaxRevsBehind = behind
			}
		}
	}
	if s.Gets > 0 {
		s.Frac = float64(s.Stale) / float64(s.Gets)
	}
	return s
}
