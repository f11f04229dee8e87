package latency

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Window collects one worker's latencies for a short interval, for live
// progress: the worker records, the display drains once a second. Unlike a
// Recorder it is safe across goroutines; the lock is the worker's own, so
// it is contended once a second at most.
type Window struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// NewWindow returns an empty window.
func NewWindow() *Window { return &Window{h: NewHistogram()} }

// Record adds one latency; a nil Window records nothing.
func (w *Window) Record(d time.Duration) {
	if w == nil {
		return
	}
	us := min(max(d.Microseconds(), lowestUS), highestUS)
	w.mu.Lock()
	_ = w.h.RecordValue(us)
	w.mu.Unlock()
}

// DrainInto adds what was recorded since the last drain to dst and empties
// the window.
func (w *Window) DrainInto(dst *hdrhistogram.Histogram) {
	w.mu.Lock()
	dst.Merge(w.h)
	w.h.Reset()
	w.mu.Unlock()
}
