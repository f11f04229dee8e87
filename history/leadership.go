package history

import (
	"cmp"
	"math"
	"slices"
)

// Unled lists the windows, ns since run start, outside the leadership
// stretches of one kind (all: contact with every replica; else with a
// quorum), in order: before the first (from 0, the run's start), between
// two, and after the last (to math.MaxInt64). With no stretch it is the
// whole run. The checker allows for them (ttl-expiry); the summary shows
// the ones between stretches.
func Unled(stretches []Leadership, all bool) [][2]int64 {
	var sorted []Leadership
	for _, s := range stretches {
		if s.All == all {
			sorted = append(sorted, s)
		}
	}
	slices.SortFunc(sorted, func(a, b Leadership) int { return cmp.Compare(a.From, b.From) })
	var out [][2]int64
	var reach int64
	for _, s := range sorted {
		if s.From > reach {
			out = append(out, [2]int64{reach, s.From})
		}
		reach = max(reach, s.To)
	}
	return append(out, [2]int64{reach, math.MaxInt64})
}
