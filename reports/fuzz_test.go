package reports

import (
	"math"
	"testing"

	"github.com/kvharness/kvharness/internal/testenv"
)

// A threshold or SLO term is read or refused in one line; what is read has
// a limit a figure can be compared with.
func FuzzParseSLO(f *testing.F) {
	for _, s := range []string{
		"put.p99<5ms,update.p99<10ms,error_rate<0.1%", "throughput>1000", "get.p50 <= 1.5ms", "error_rate<NaN%",
		"throughput>Inf", "put.p99<", "<5ms", "put.p99<5", "delete.unknown_rate>=-1", ",,", "put.max<1h,put.mean>0s",
		"throughput>1e400", "update.error_rate<1e-400%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseSLO(s)
		if err != nil {
			testenv.OneLine(t, err)
			return
		}
		for _, th := range ts {
			if math.IsNaN(th.Limit) || math.IsInf(th.Limit, 0) {
				t.Fatalf("%q read with limit %v", s, th.Limit)
			}
			if th.Cmp == "" || th.Stat == "" {
				t.Fatalf("%q read as %+v", s, th)
			}
		}
	})
}
