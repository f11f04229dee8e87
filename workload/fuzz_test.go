package workload

import (
	"testing"

	"github.com/kvharness/kvharness/internal/testenv"
)

// --mix is read or refused in one line; what is read has weight to draw
// from.
func FuzzParseMix(f *testing.F) {
	for _, s := range []string{"put=2,update=3,get=3", "put=1", "", "put=0", "nope=1", "put=-1", "put=1,put=2", "put=99999999999999999999", "=1", "get=1,delete=1,create=1", "put=9223372036854775807,get=9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMix(s)
		if err != nil {
			testenv.OneLine(t, err)
			return
		}
		total := 0
		for op, w := range m {
			if w < 0 {
				t.Fatalf("%q: weight %d for %s", s, w, op)
			}
			total += w
		}
		if total <= 0 {
			t.Fatalf("%q read as %v: nothing to draw", s, m)
		}
	})
}
