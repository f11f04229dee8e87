package reports

import (
	"math"
	"sort"

	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
)

// Series is one op's per-second figures, for the report's charts. A long
// run is drawn from one point per second, never one per operation, so the
// page stays small and fast.
type Series struct {
	Op      string     `json:"op"`
	Seconds []float64  `json:"t"`       // second since run start
	P50     []*float64 `json:"p50"`     // ms, completed ops (ok and fail); null: none that second
	P99     []*float64 `json:"p99"`     // ms
	Max     []*float64 `json:"max"`     // ms
	OK      []float64  `json:"ok"`      // ops completed in that second
	Fail    []float64  `json:"fail"`    //
	Unknown []float64  `json:"unknown"` // ops whose outcome stayed unknown, by when the client gave up
}

// perSecond aggregates the history by op and second of completion.
func perSecond(h *history.History) []Series {
	type bucket struct {
		lat               []float64
		ok, fail, unknown float64
	}
	byOp := map[string]map[int64]*bucket{}
	var last, end int64
	bucketOf := func(op string, sec int64) *bucket {
		m := byOp[op]
		if m == nil {
			m = map[int64]*bucket{}
			byOp[op] = m
		}
		b := m[sec]
		if b == nil {
			b = &bucket{}
			m[sec] = b
		}
		return b
	}
	for _, op := range h.Ops {
		if op.Complete > end {
			end = op.Complete
		}
		sec := op.Complete / 1e9
		if op.Complete == 0 {
			sec = op.Invoke / 1e9
		}
		if sec > last {
			last = sec
		}
		b := bucketOf(op.Op, sec)
		switch op.Outcome {
		case history.OK:
			b.ok++
		case history.Fail:
			b.fail++
		default:
			b.unknown++
			continue
		}
		if op.Complete >= op.Invoke {
			b.lat = append(b.lat, float64(op.Complete-op.Invoke)/1e6)
		}
	}
	// Deliveries to the scenario's watchers, by second of arrival, with
	// their propagation from the write's acknowledgement.
	for _, p := range propagationSamples(h) {
		if sec := p.at / 1e9; sec <= last {
			b := bucketOf(OpWatch, sec)
			b.ok++
			b.lat = append(b.lat, math.Max(0, float64(p.lag)/1e6))
		}
	}
	// A last second the run barely entered would show as a collapse.
	if last > 0 && end-last*1e9 < 5e8 {
		last--
	}
	var out []Series
	for _, name := range append(history.Ops[:len(history.Ops):len(history.Ops)], OpWatch) {
		m := byOp[name]
		if m == nil {
			continue
		}
		s := Series{Op: name}
		for sec := int64(0); sec <= last; sec++ {
			b := m[sec]
			if b == nil {
				b = &bucket{}
			}
			s.Seconds = append(s.Seconds, float64(sec))
			s.OK, s.Fail, s.Unknown = append(s.OK, b.ok), append(s.Fail, b.fail), append(s.Unknown, b.unknown)
			if len(b.lat) == 0 {
				s.P50, s.P99, s.Max = append(s.P50, nil), append(s.P99, nil), append(s.Max, nil)
				continue
			}
			p50, p99, max := quantiles(b.lat)
			s.P50, s.P99, s.Max = append(s.P50, &p50), append(s.P99, &p99), append(s.Max, &max)
		}
		out = append(out, s)
	}
	return out
}

// quantiles of one second's latencies (nearest rank); v is not empty.
func quantiles(v []float64) (p50, p99, max float64) {
	sort.Float64s(v)
	at := func(q float64) float64 {
		i := int(q*float64(len(v))+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(v) {
			i = len(v) - 1
		}
		return v[i]
	}
	return at(0.5), at(0.99), v[len(v)-1]
}

// Spectrum is an op's percentile spectrum, as HdrHistogram plots it: x is
// 1/(1-p) on a log axis, so the tail gets the room it deserves.
type Spectrum struct {
	Op string    `json:"op"`
	X  []float64 `json:"x"`  // 1/(1-p)
	Ms []float64 `json:"ms"` // latency at p
}

func spectra(lat latency.Set) []Spectrum {
	var out []Spectrum
	for _, op := range lat.Ops() {
		h := lat.ForOp(op)
		if h.TotalCount() == 0 {
			continue
		}
		s := Spectrum{Op: op}
		for _, p := range spectrumPoints {
			s.X = append(s.X, 1/(1-p/100))
			s.Ms = append(s.Ms, float64(h.ValueAtQuantile(p))/1000)
		}
		out = append(out, s)
	}
	return out
}

var spectrumPoints = func() []float64 {
	var ps []float64
	// 0 .. 99.999 %: evenly spaced in log(1/(1-p)), 8 points per decade.
	for i := 0; i <= 40; i++ {
		x := math.Pow(10, float64(i)/8)
		ps = append(ps, 100*(1-1/x))
	}
	return ps
}()
