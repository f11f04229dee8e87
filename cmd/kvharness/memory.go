package main

import (
	"os"
	"runtime/debug"
)

// checkMemoryLimit is the soft heap limit while a history is read and
// checked. A million-operation history holds about 1.2 GB live; with the
// default GOGC the heap would grow to twice that before collecting. Under
// the limit the collector works harder instead (a 1M-op check takes ~27 s
// rather than ~19 s, in 1.6 GB rather than 2.3 GB). A history whose live
// heap exceeds the limit is checked all the same, with the collector taking
// up to half the CPU. GOMEMLIMIT, when set, wins.
const checkMemoryLimit = 1536 << 20

// limitCheckMemory applies checkMemoryLimit, and the default GOGC the
// workload phase raised.
func limitCheckMemory() {
	debug.SetGCPercent(100)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(checkMemoryLimit)
	}
}
