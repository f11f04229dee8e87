// Package latency keeps operation latencies in HdrHistograms: one per worker,
// op and outcome while the run goes (histograms are not goroutine-safe, and
// sharing one would serialize the workers), merged at the end. Memory is
// fixed per histogram, whatever the run length.
package latency

import (
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds, in microseconds: 1 µs to one hour, 3 significant digits.
const (
	lowestUS  = 1
	highestUS = int64(time.Hour / time.Microsecond)
	sigFigs   = 3
)

// Key names one histogram.
type Key struct {
	Op      string
	Outcome string
}

// NewHistogram returns an empty histogram with the project's bounds.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(lowestUS, highestUS, sigFigs)
}

// Recorder belongs to one worker. Histograms are made on first use.
type Recorder struct {
	hists map[Key]*hdrhistogram.Histogram
	// last: the histograms of the keys recorded so far, in a list: a map
	// lookup by two strings a latency was a third of the recording's time
	// (a handful of keys, their strings mostly one copy each).
	last []keyed
}

type keyed struct {
	k Key
	h *hdrhistogram.Histogram
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{hists: map[Key]*hdrhistogram.Histogram{}} }

// Record adds one latency. Values beyond the bounds are clamped rather than
// dropped, so an hour-long stall still counts.
// A nil Recorder records nothing (a run with recording off).
func (r *Recorder) Record(op, outcome string, d time.Duration) {
	if r == nil {
		return
	}
	k := Key{op, outcome}
	var h *hdrhistogram.Histogram
	for _, e := range r.last {
		if e.k == k {
			h = e.h
			break
		}
	}
	if h == nil {
		if h = r.hists[k]; h == nil {
			h = NewHistogram()
			r.hists[k] = h
		}
		if len(r.last) < maxListed {
			r.last = append(r.last, keyed{k, h})
		}
	}
	us := d.Microseconds()
	if us < lowestUS {
		us = lowestUS
	}
	if us > highestUS {
		us = highestUS
	}
	_ = h.RecordValue(us)
}

// maxListed bounds Recorder.last: beyond it, the map alone.
const maxListed = 16

// Set is merged histograms by op and outcome.
type Set map[Key]*hdrhistogram.Histogram

// Merge folds the recorders into one set.
func Merge(rs ...*Recorder) Set {
	s := Set{}
	for _, r := range rs {
		if r == nil {
			continue
		}
		for k, h := range r.hists {
			s.add(k, h)
		}
	}
	return s
}

func (s Set) add(k Key, h *hdrhistogram.Histogram) {
	m := s[k]
	if m == nil {
		m = NewHistogram()
		s[k] = m
	}
	m.Merge(h)
}

// Ops lists op names present, sorted.
func (s Set) Ops() []string {
	seen := map[string]bool{}
	var ops []string
	for k := range s {
		if !seen[k.Op] {
			seen[k.Op] = true
			ops = append(ops, k.Op)
		}
	}
	sort.Strings(ops)
	return ops
}

// Get returns op's histogram for one outcome, or nil.
func (s Set) Get(op, outcome string) *hdrhistogram.Histogram { return s[Key{op, outcome}] }

// ForOp merges op's histograms across outcomes.
func (s Set) ForOp(op string) *hdrhistogram.Histogram {
	h := NewHistogram()
	for k, v := range s {
		if k.Op == op {
			h.Merge(v)
		}
	}
	return h
}

// Percentiles summarizes one histogram, in microseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// Summarize reads the usual percentiles off h.
func Summarize(h *hdrhistogram.Histogram) Percentiles {
	if h == nil || h.TotalCount() == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: h.TotalCount(),
		P50:   float64(h.ValueAtQuantile(50)),
		P90:   float64(h.ValueAtQuantile(90)),
		P99:   float64(h.ValueAtQuantile(99)),
		P999:  float64(h.ValueAtQuantile(99.9)),
		Max:   float64(h.Max()),
		Mean:  h.Mean(),
	}
}

// With returns a set holding s's histograms and more's (more wins where
// both have one); s is not changed.
func (s Set) With(more Set) Set {
	out := make(Set, len(s)+len(more))
	for k, h := range s {
		out[k] = h
	}
	for k, h := range more {
		out[k] = h
	}
	return out
}
