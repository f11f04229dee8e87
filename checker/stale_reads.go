package checker

import (
	"cmp"
	"fmt"
	"slices"
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
	// Staleness in time: how long before the read began the value it
	// returned had been overwritten (the first overwrite's completion).
	P50StaleMs float64 `json:"p50_stale_ms"`
	P99StaleMs float64 `json:"p99_stale_ms"`
	MaxStaleMs float64 `json:"max_stale_ms"`
	// ByPath splits the figures by read path (direct, leader) when gets
	// took more than one.
	ByPath map[string]*StaleReads `json:"by_path,omitempty"`
}

func (s StaleReads) String() string {
	out := fmt.Sprintf("%d of %d gets returned an overwritten value (%.2f%%)", s.Stale, s.Gets, 100*s.Frac)
	if s.Stale > 0 {
		out += fmt.Sprintf(", up to %d revisions and %.1f ms behind", s.MaxRevsBehind, s.MaxStaleMs)
	}
	return out
}

// staleTally adds up stale reads group by group; byPath splits them by
// read path.
type staleTally struct {
	s      StaleReads
	lags   []float64 // ms
	byPath map[string]*staleTally
}

func (t *staleTally) done() *StaleReads {
	if t.s.Gets > 0 {
		t.s.Frac = float64(t.s.Stale) / float64(t.s.Gets)
	}
	if n := len(t.lags); n > 0 {
		sort.Float64s(t.lags)
		t.s.P50StaleMs = t.lags[n/2]
		t.s.P99StaleMs = t.lags[min(n-1, n*99/100)]
		t.s.MaxStaleMs = t.lags[n-1]
	}
	if len(t.byPath) > 1 || len(t.byPath) == 1 && t.byPath[history.PathDirect] == nil {
		t.s.ByPath = map[string]*StaleReads{}
		for name, p := range t.byPath {
			t.s.ByPath[name] = p.done()
		}
	}
	return &t.s
}

// add measures the gets among ops (a group of keys' resolved operations).
func (t *staleTally) add(ops []*history.Record) {
	type done struct {
		at  int64
		rev uint64 // the highest revision completed by then
	}
	writes := map[string][]done{}
	for _, op := range ops {
		if history.IsWrite(op.Op) && op.Outcome == history.OK && op.Rev != 0 {
			writes[op.Key] = append(writes[op.Key], done{op.Complete, op.Rev})
		}
	}
	// Per key: writes by completion time with the running maximum revision,
	// so "newest revision completed before t" and "when was revision r first
	// overwritten" are binary searches.
	for k, ws := range writes {
		slices.SortFunc(ws, func(a, b done) int { return cmp.Compare(a.at, b.at) })
		for i := 1; i < len(ws); i++ {
			if ws[i].rev < ws[i-1].rev {
				ws[i].rev = ws[i-1].rev
			}
		}
		writes[k] = ws
	}
	for _, op := range ops {
		if op.Op != history.OpGet || op.Outcome != history.OK || !op.Found {
			continue
		}
		path := history.PathOf(op)
		p := t.byPath[path]
		if p == nil {
			p = &staleTally{}
			t.byPath[path] = p
		}
		t.s.Gets++
		p.s.Gets++
		ws := writes[op.Key]
		i := sort.Search(len(ws), func(i int) bool { return ws[i].at >= op.Invoke })
		if i == 0 || ws[i-1].rev <= op.Rev {
			continue
		}
		behind := ws[i-1].rev - op.Rev
		j := sort.Search(i, func(j int) bool { return ws[j].rev > op.Rev })
		lag := float64(op.Invoke-ws[j].at) / 1e6
		for _, s := range []*staleTally{t, p} {
			s.s.Stale++
			s.s.MaxRevsBehind = max(s.s.MaxRevsBehind, behind)
			s.lags = append(s.lags, lag)
		}
	}
}

// forPath is the figures of one read path (history.PathDirect, PathLeader).
func (s StaleReads) forPath(path string) StaleReads {
	if s.ByPath == nil {
		return s // one path: the figures are its own
	}
	if p := s.ByPath[path]; p != nil {
		return *p
	}
	return StaleReads{}
}
