package reports

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kvharness/kvharness/history"
)

func TestPerSecond(t *testing.T) {
	op := func(inv, comp int64, outcome history.Outcome) history.Record {
		return history.Record{Kind: history.KindOp, Op: history.OpPut, Key: "k", Value: "v", Outcome: outcome, Invoke: inv, Complete: comp}
	}
	h := &history.History{Ops: []history.Record{
		op(0, 2e6, history.OK), op(1e6, 5e6, history.OK), op(2e6, 3e6, history.Fail),
		// nothing completes in second 1
		op(2.1e9, 2.2e9, history.OK), op(2.2e9, 2.9e9, history.Unknown),
		op(3.0e9, 3.1e9, history.OK), // second 3 is barely entered: dropped
	}}
	s := DigestOf(h).seconds.series()
	if len(s) != 1 || len(s[0].Seconds) != 3 {
		t.Fatalf("%+v", s)
	}
	put := s[0]
	if put.OK[0] != 2 || put.Fail[0] != 1 || put.OK[1] != 0 || put.OK[2] != 1 || put.Unknown[2] != 1 {
		t.Fatalf("counts ok %v fail %v unknown %v", put.OK, put.Fail, put.Unknown)
	}
	if put.P99[1] != nil {
		t.Fatalf("a second without completions must be a gap, got %v", *put.P99[1])
	}
	if *put.Max[0] != 4 || *put.P50[0] != 2 {
		t.Fatalf("second 0: p50 %v max %v ms", *put.P50[0], *put.Max[0])
	}
}

// TestSecondsClosedAfterAWindow: a second's latencies are dropped once the
// run is closeAfter seconds past it, its quantiles kept; a latency that
// arrives later still counts and can raise the max.
func TestSecondsClosedAfterAWindow(t *testing.T) {
	op := func(inv, comp int64) *history.Record {
		return &history.Record{Kind: history.KindOp, Op: history.OpGet, Key: "k", Outcome: history.OK, Invoke: inv, Complete: comp}
	}
	s := newSecondsTally()
	s.op(op(0, 1e6))
	s.op(op(0, 3e6))
	s.op(op((closeAfter+5)*1e9, (closeAfter+5)*1e9+1e6))
	if b := s.byOp[history.OpGet][0]; !b.closed || b.lat != nil || *b.max != 3 {
		t.Fatalf("second 0 after the window: closed %v, %d latencies kept, max %v", b.closed, len(b.lat), b.max)
	}
	s.op(op(1e6, 9e6)) // late: completes in second 0, written after the window
	series := s.series()
	if got := series[0]; got.OK[0] != 3 || *got.Max[0] != 8 || *got.P50[0] != 1 {
		t.Fatalf("second 0: ok %v max %v p50 %v", got.OK[0], *got.Max[0], *got.P50[0])
	}
}

// TestWatchSecondsKeepCodes: a second's propagation samples are kept as
// 2-byte codes, at most maxWatchSamples of them, and its quantiles come
// back within half a percent: 1 µs to an hour, and 0.
func TestWatchSecondsKeepCodes(t *testing.T) {
	for _, ms := range []float64{0, 0.001, 0.0173, 1, 2.5, 99.9, 1234.5, 3.6e6} {
		got := lagCodeOf(ms).ms()
		if math.Abs(got-ms) > 0.005*ms {
			t.Errorf("%v ms comes back as %v", ms, got)
		}
	}
	s := newSecondsTally()
	s.last = 1
	for i := range 5000 {
		s.delivery(propagationSample{at: 5e8, lag: time.Duration(i+1) * time.Millisecond})
	}
	b := s.byOp[OpWatch][0]
	if len(b.codes) != maxWatchSamples || b.lat != nil || b.ok != 5000 {
		t.Fatalf("%d codes, %d latencies, %v deliveries", len(b.codes), len(b.lat), b.ok)
	}
	got := s.series()[0]
	if p50 := *got.P50[0]; p50 < 2300 || p50 > 2700 {
		t.Fatalf("p50 %v ms of lags spread evenly over 1..5000 ms", p50)
	}
}

// TestDownsampled: a long series is drawn in windows, the worst second's
// p99 and max and the slowest second's throughput kept.
func TestDownsampled(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	s := Series{Op: "put", Step: 1}
	for sec := 0; sec < 1000; sec++ {
		ok, p99, conflict := 100.0, 5.0, 2.0
		if sec == 501 {
			ok, p99, conflict = 3, 900, 6 // a stall: one bad second
		}
		s.Seconds = append(s.Seconds, float64(sec))
		s.OK, s.Fail, s.Conflict, s.Unknown = append(s.OK, ok), append(s.Fail, conflict), append(s.Conflict, conflict), append(s.Unknown, 0)
		s.P50, s.P99, s.P999, s.Max = append(s.P50, f(1)), append(s.P99, f(p99)), append(s.P999, f(p99+0.5)), append(s.Max, f(p99+1))
	}
	d := downsampled(s, 300)
	if len(d.Seconds) > 300 || d.Step != 4 {
		t.Fatalf("%d points of %v s", len(d.Seconds), d.Step)
	}
	i := 501 / 4
	if d.Seconds[i] != 500 || *d.P99[i] != 900 || *d.P999[i] != 900.5 || *d.Max[i] != 901 || d.OKMin[i] != 3 || d.OK[i] != (3*100+3)/4.0 || d.Conflict[i] != (3*2+6)/4.0 {
		t.Fatalf("window of the stall: t %v p99 %v p999 %v max %v ok min %v ok %v conflict %v", d.Seconds[i], *d.P99[i], *d.P999[i], *d.Max[i], d.OKMin[i], d.OK[i], d.Conflict[i])
	}
	if same := downsampled(s, 1000); len(same.Seconds) != 1000 || same.OKMin != nil {
		t.Fatalf("a series that fits is kept as it is")
	}
}

// quantiles selects what sorting would give, at every rank, on latencies
// that repeat (a second's often do) and on ones that do not.
func TestQuantilesSelectWhatSortingGives(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	qs := []float64{0.5, 0.99, 0.999, 1}
	for round := range 300 {
		n := 1 + rng.IntN(3000)
		v := make([]float64, n)
		for i := range v {
			switch round % 3 {
			case 0:
				v[i] = rng.Float64() * 100
			case 1:
				v[i] = float64(rng.IntN(5)) // few distinct values
			default:
				v[i] = float64(i % 7) // patterned
			}
		}
		sorted := slices.Clone(v)
		slices.Sort(sorted)
		got := quantiles(v, qs...)
		for k, q := range qs {
			want := sorted[min(max(int(q*float64(n)+0.5)-1, 0), n-1)]
			if got[k] != want {
				t.Fatalf("round %d, %d values: quantile %g = %g, sorting gives %g", round, n, q, got[k], want)
			}
		}
	}
}
