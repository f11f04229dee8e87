package reports

import (
	"encoding/csv"
	"math"
	"path/filepath"
	"strconv"

	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
)

// Series is one op's figures over time, for the report's charts: one point
// per second, or per Step seconds in a long run (see maxChartPoints), so the
// page stays small and fast. timeseries.csv keeps every second.
type Series struct {
	Op      string     `json:"op"`
	Step    float64    `json:"step"` // seconds per point
	Seconds []float64  `json:"t"`    // start of the point's seconds, since run start
	P50     []*float64 `json:"p50"`  // ms, completed ops (ok and fail); null: none then
	P99     []*float64 `json:"p99"`  // ms; of a point of several seconds, the worst second's
	P999    []*float64 `json:"p999"` // ms; likewise
	Max     []*float64 `json:"max"`  // ms
	OK      []float64  `json:"ok"`   // ops per second completed; of several seconds, the mean
	Fail    []float64  `json:"fail"` // CAS conflicts included
	// Conflict: the failures that were CAS refusals (wrong last sequence,
	// key exists): the answer a contended CAS expects, not an error.
	Conflict []float64 `json:"conflict"`
	Unknown  []float64 `json:"unknown"` // ops whose outcome stayed unknown, by when the client gave up
	// OKMin: of a point of several seconds, the slowest second's ok, so a
	// dip survives; absent when every point is one second.
	OKMin []float64 `json:"ok_min,omitempty"`
}

// maxChartPoints bounds the points of a chart: a longer run is drawn from
// windows of several seconds.
const maxChartPoints = 600

// secondsTally gathers each op's figures by second of completion. Records
// arrive in file order, which is completion order up to the writer's
// buffering, so a second's latencies are kept only until the run is
// closeAfter seconds past it; then its quantiles are computed and the
// latencies dropped — memory grows with the run's seconds, not its ops. A
// latency arriving later still counts, and raises the second's max.
type secondsTally struct {
	byOp   map[string]map[int64]*secondBucket
	last   int64 // the last second with a record
	end    int64 // the last completion
	closed int64 // seconds below this are closed
	rng    uint64
	// recent: per op, the bucket it took last. Records come in about
	// time order, so an op's next record is nearly always in the same
	// second: two map lookups a record were 1 % of checking an hour.
	recent []recentBucket
}

type recentBucket struct {
	op  string
	sec int64
	b   *secondBucket
}

const closeAfter = 30

// maxWatchSamples bounds the propagation samples kept per second (a
// reservoir): deliveries come group by group, not in time order, so their
// seconds cannot be closed early, and every second of the run is held
// until the end. Each is kept as a lagCode, 2 bytes: 2 kB a second, 7 MB
// an hour (8 bytes a sample made that 29 MB).
const maxWatchSamples = 1024

type secondBucket struct {
	ok, fail, conflict, unknown float64
	lat                         []float64 // ms
	codes                       []lagCode // a sample of the second's latencies (see maxWatchSamples)
	seen                        int       // latencies offered
	closed                      bool
	p50, p99, p999, max         *float64
}

// lagCode is a latency to within half a percent, in 2 bytes: the step of a
// log scale of ratio 1.01 from 1 ns (0: under 1 ns, or none), which reaches
// hours in 3000 steps.
type lagCode uint16

const lagStep = 1.01

func lagCodeOf(ms float64) lagCode {
	ns := ms * 1e6
	if ns < 1 {
		return 0
	}
	return lagCode(min(1+math.Round(math.Log(ns)/math.Log(lagStep)), math.MaxUint16))
}

func (c lagCode) ms() float64 {
	if c == 0 {
		return 0
	}
	return math.Pow(lagStep, float64(c-1)) / 1e6
}

func newSecondsTally() *secondsTally {
	return &secondsTally{byOp: map[string]map[int64]*secondBucket{}, rng: 0x9e3779b97f4a7c15}
}

func (t *secondsTally) bucket(op string, sec int64) *secondBucket {
	for i := range t.recent {
		if r := &t.recent[i]; r.op == op {
			if r.sec != sec {
				r.sec, r.b = sec, t.lookup(op, sec)
			}
			return r.b
		}
	}
	b := t.lookup(op, sec)
	t.recent = append(t.recent, recentBucket{op, sec, b})
	return b
}

func (t *secondsTally) lookup(op string, sec int64) *secondBucket {
	m := t.byOp[op]
	if m == nil {
		m = map[int64]*secondBucket{}
		t.byOp[op] = m
	}
	b := m[sec]
	if b == nil {
		b = &secondBucket{closed: sec < t.closed && op != OpWatch}
		m[sec] = b
	}
	return b
}

func (t *secondsTally) op(op *history.Record) {
	t.end = max(t.end, op.Complete)
	sec := op.Complete / 1e9
	if op.Complete == 0 {
		sec = op.Invoke / 1e9
	}
	t.last = max(t.last, sec)
	b := t.bucket(op.Op, sec)
	switch op.Outcome {
	case history.OK:
		b.ok++
	case history.Fail:
		b.fail++
		if history.IsCASRefusal(op.ErrClass) {
			b.conflict++
		}
	default:
		b.unknown++
		return
	}
	if op.Complete >= op.Invoke {
		b.sample(float64(op.Complete-op.Invoke)/1e6, 0, t)
	}
	for ; t.closed < sec-closeAfter; t.closed++ {
		for name, m := range t.byOp {
			if b := m[t.closed]; b != nil && name != OpWatch {
				b.close()
			}
		}
	}
}

// delivery counts one propagation sample, by second of arrival.
func (t *secondsTally) delivery(p propagationSample) {
	if sec := p.at / 1e9; sec <= t.last {
		b := t.bucket(OpWatch, sec)
		b.ok++
		b.sample(math.Max(0, float64(p.lag)/1e6), maxWatchSamples, t)
	}
}

// sample offers one latency: kept while the second is open (at most limit,
// a uniform sample of them, if limit > 0), else only its max.
func (b *secondBucket) sample(ms float64, limit int, t *secondsTally) {
	b.seen++
	switch {
	case b.closed:
		if b.max == nil || ms > *b.max {
			b.max = &ms
		}
	case limit == 0:
		b.lat = append(b.lat, ms)
	case len(b.codes) < limit:
		b.codes = append(b.codes, lagCodeOf(ms))
	default:
		t.rng ^= t.rng << 13
		t.rng ^= t.rng >> 7
		t.rng ^= t.rng << 17
		if j := int(t.rng % uint64(b.seen)); j < limit {
			b.codes[j] = lagCodeOf(ms)
		}
	}
}

func (b *secondBucket) close() {
	if b.closed {
		return
	}
	b.closed = true
	for _, c := range b.codes {
		b.lat = append(b.lat, c.ms())
	}
	b.codes = nil
	if len(b.lat) > 0 {
		q := quantiles(b.lat, 0.5, 0.99, 0.999, 1)
		b.p50, b.p99, b.p999, b.max = &q[0], &q[1], &q[2], &q[3]
	}
	b.lat = nil
}

// series is every op's figures, one point per second.
func (t *secondsTally) series() []Series {
	last := t.last
	// A last second the run barely entered would show as a collapse.
	if last > 0 && t.end-last*1e9 < 5e8 {
		last--
	}
	var out []Series
	for _, name := range append(history.Ops[:len(history.Ops):len(history.Ops)], OpWatch) {
		m := t.byOp[name]
		if m == nil {
			continue
		}
		s := Series{Op: name, Step: 1}
		for sec := int64(0); sec <= last; sec++ {
			b := m[sec]
			if b == nil {
				b = &secondBucket{}
			}
			b.close()
			s.Seconds = append(s.Seconds, float64(sec))
			s.OK, s.Fail, s.Conflict, s.Unknown = append(s.OK, b.ok), append(s.Fail, b.fail), append(s.Conflict, b.conflict), append(s.Unknown, b.unknown)
			s.P50, s.P99, s.P999, s.Max = append(s.P50, b.p50), append(s.P99, b.p99), append(s.P999, b.p999), append(s.Max, b.max)
		}
		out = append(out, s)
	}
	return out
}

// downsampled is s in windows of enough seconds that it has at most
// maxPoints points: rates averaged (and the slowest second's ok kept),
// p50 averaged, p99 and max the worst second's.
func downsampled(s Series, maxPoints int) Series {
	n := len(s.Seconds)
	if n <= maxPoints {
		return s
	}
	step := (n + maxPoints - 1) / maxPoints
	out := Series{Op: s.Op, Step: float64(step)}
	for i := 0; i < n; i += step {
		j := min(i+step, n)
		var ok, fail, conflict, unknown, p50sum float64
		okMin := s.OK[i]
		var p50n int
		var p99, p999, mx *float64
		worst := func(w **float64, v *float64) {
			if v != nil && (*w == nil || *v > **w) {
				*w = v
			}
		}
		for k := i; k < j; k++ {
			ok, fail, conflict, unknown = ok+s.OK[k], fail+s.Fail[k], conflict+s.Conflict[k], unknown+s.Unknown[k]
			okMin = min(okMin, s.OK[k])
			if v := s.P50[k]; v != nil {
				p50sum += *v
				p50n++
			}
			worst(&p99, s.P99[k])
			worst(&p999, s.P999[k])
			worst(&mx, s.Max[k])
		}
		w := float64(j - i)
		var p50 *float64
		if p50n > 0 {
			v := p50sum / float64(p50n)
			p50 = &v
		}
		out.Seconds = append(out.Seconds, s.Seconds[i])
		out.OK, out.Fail, out.Conflict, out.Unknown = append(out.OK, ok/w), append(out.Fail, fail/w), append(out.Conflict, conflict/w), append(out.Unknown, unknown/w)
		out.OKMin = append(out.OKMin, okMin)
		out.P50, out.P99, out.P999, out.Max = append(out.P50, p50), append(out.P99, p99), append(out.P999, p999), append(out.Max, mx)
	}
	return out
}

// quantiles of one second's latencies (nearest rank); v is not empty, qs
// ascending, and v is reordered. Each rank is selected, not sorted for: an
// hour's report sorted every second's latencies, 2 % of checking it.
func quantiles(v []float64, qs ...float64) []float64 {
	out := make([]float64, len(qs))
	lo := 0 // v[:lo] holds no value above the ranks selected so far
	for k, q := range qs {
		i := min(max(int(q*float64(len(v))+0.5)-1, lo, 0), len(v)-1)
		selectNth(v[lo:], i-lo)
		out[k], lo = v[i], i
	}
	return out
}

// selectNth reorders v so that v[n] is what it would be were v sorted, no
// value before it greater, none after it smaller (quickselect, with the
// values equal to the pivot set apart: a second's latencies repeat).
func selectNth(v []float64, n int) {
	lo, hi := 0, len(v)-1
	for lo < hi {
		a, b, c := v[lo], v[lo+(hi-lo)/2], v[hi]
		pivot := max(min(a, b), min(max(a, b), c)) // the median of the three
		lt, i, gt := lo, lo, hi                    // v[lo:lt] < pivot, v[lt:i] == pivot, v[gt+1:hi+1] > pivot
		for i <= gt {
			switch {
			case v[i] < pivot:
				v[lt], v[i] = v[i], v[lt]
				lt++
				i++
			case v[i] > pivot:
				v[i], v[gt] = v[gt], v[i]
				gt--
			default:
				i++
			}
		}
		switch {
		case n < lt:
			hi = lt - 1
		case n > gt:
			lo = gt + 1
		default:
			return
		}
	}
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

// writeTimeseriesCSV writes every op's per-second figures, in full, to
// timeseries.csv: the charts of a long run show windows of seconds.
func writeTimeseriesCSV(dir string, series []Series) error {
	f, err := createOwnerOnly(filepath.Join(dir, "timeseries.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	// New columns go last: scripts read the first ones by position.
	w.Write([]string{"second", "op", "ok", "fail", "unknown", "p50_ms", "p99_ms", "max_ms", "conflict", "p999_ms"})
	ms := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', 3, 64)
	}
	for _, s := range series {
		for i, sec := range s.Seconds {
			w.Write([]string{strconv.FormatFloat(sec, 'f', 0, 64), s.Op,
				strconv.FormatFloat(s.OK[i], 'f', -1, 64), strconv.FormatFloat(s.Fail[i], 'f', -1, 64), strconv.FormatFloat(s.Unknown[i], 'f', -1, 64),
				ms(s.P50[i]), ms(s.P99[i]), ms(s.Max[i]), strconv.FormatFloat(s.Conflict[i], 'f', -1, 64), ms(s.P999[i])})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
