package reports

import (
	"time"

	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
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

// watchPropagation measures, from the history, every delivery of an
// acknowledged write's value to a scenario watcher.
func watchPropagation(h *history.History) (*latency.Recorder, Propagation) {
	p := Propagation{}
	if h.Meta != nil {
		p.Watchers = len(h.Meta.Watchers)
	}
	if len(h.Delivered) == 0 {
		return nil, p
	}
	acked := make(map[string]int64, len(h.Ops))
	for _, op := range h.Ops {
		if op.Value != "" && op.Outcome == history.OK {
			acked[op.Value] = op.Complete
		}
	}
	r := latency.NewRecorder()
	for _, d := range h.Delivered {
		done, ok := acked[d.Read]
		if d.Marker != history.MarkerNone || !ok {
			continue
		}
		p.Deliveries++
		lag := time.Duration(d.At - done)
		if lag < 0 {
			p.BeforeAck++
			lag = 0
		}
		r.Record(OpWatch, string(history.OK), lag)
	}
	return r, p
}
