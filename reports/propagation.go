package reports

import (
	"time"

	"github.com/kvharness/kvharness/history"
)

// OpWatch is the summary's op for deliveries to the scenario's watchers;
// its latency is propagation: from the completion (acknowledgement) of the
// write to its delivery at each watcher.
const OpWatch = "watch"

// Propagation is how fast writes reached the scenario's watchers.
type Propagation struct {
	Deliveries int `json:"deliveries"` // of acknowledged writes' values, to all watchers
	// BeforeAck: deliveries that arrived before the writer had its
	// acknowledgement (recorded as the smallest latency): the server
	// publishes to consumers and acknowledges independently.
	BeforeAck int `json:"before_ack"`
	Watchers  int `json:"watchers"`
}

// propagationSample is one delivery of a write made while its watcher
// watched: when it arrived, and how long after the write's acknowledgement
// (negative: before it).
type propagationSample struct {
	at  int64
	lag time.Duration
}

// propagationSamples: every delivery of an acknowledged write's value to a
// scenario watcher, in delivery order. A watcher's initial entries (values
// written before it began, which latest and history watchers receive first)
// are left out: they time the watcher's start, not propagation.
func propagationSamples(h *history.History) []propagationSample {
	if len(h.Delivered) == 0 || h.Meta == nil {
		return nil
	}
	startSeq := map[int]uint64{}
	for _, w := range h.Meta.Watchers {
		startSeq[w.ID] = w.Began()
	}
	acked := make(map[string]int64, len(h.Ops))
	for _, op := range h.Ops {
		if op.Value != "" && op.Outcome == history.OK {
			acked[op.Value] = op.Complete
		}
	}
	out := make([]propagationSample, 0, len(h.Delivered))
	for _, d := range h.Delivered {
		done, ok := acked[d.Read]
		if d.Marker != history.MarkerNone || !ok || d.Rev <= startSeq[d.Watcher] {
			continue
		}
		out = append(out, propagationSample{at: d.At, lag: time.Duration(d.At - done)})
	}
	return out
}
