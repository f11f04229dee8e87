package cluster

import (
	"context"
	"fmt"
	"strings"

	"github.com/kvharness/kvharness/internal/secrets"
	"github.com/nats-io/nats-server/v2/server"
)

// NodeStats is one node's figures at one instant, as its monitoring
// endpoint gives them (/varz, /jsz). Counters (messages, API requests) are
// totals since the node started; the sampler makes rates of them.
type NodeStats struct {
	CPU       float64 // percent of one core, as the server measures its process
	RSS       int64   // resident memory, bytes
	InMsgs    int64
	OutMsgs   int64
	JSMemory  uint64 // JetStream memory storage in use, bytes
	JSStore   uint64 // JetStream file storage in use, bytes
	APITotal  uint64
	APIErrors uint64
}

// Monitor reads one node's figures.
type Monitor struct {
	Name string
	// Shared: CPU and RSS are this process's, which also runs the load
	// (embedded servers): they say what the harness and every embedded
	// node took together.
	Shared bool
	Read   func(ctx context.Context) (NodeStats, error)
}

// Monitors are the target's nodes that can be asked for their figures:
// embedded servers directly, spawned ones and external ones with
// monitoring URLs over HTTP. External servers without them: none.
func (t *Target) Monitors() []Monitor {
	var out []Monitor
	switch {
	case t.Embedded != nil:
		for _, s := range t.Embedded.Servers() {
			out = append(out, Monitor{Name: s.Name(), Shared: true, Read: embeddedStats(s)})
		}
	case t.Processes != nil:
		for i, name := range t.Processes.Names() {
			out = append(out, Monitor{Name: name, Read: httpStats(t.Processes.monitors[i])})
		}
	default:
		for _, u := range t.MonitorURLs {
			shown := secrets.URL(u)
			out = append(out, Monitor{Name: strings.TrimPrefix(strings.TrimPrefix(shown, "http://"), "https://"), Read: httpStats(u)})
		}
	}
	return out
}

func embeddedStats(s *server.Server) func(context.Context) (NodeStats, error) {
	return func(context.Context) (NodeStats, error) {
		v, err := s.Varz(nil)
		if err != nil {
			return NodeStats{}, err
		}
		st := NodeStats{CPU: v.CPU, RSS: v.Mem, InMsgs: v.InMsgs, OutMsgs: v.OutMsgs}
		if js, err := s.Jsz(&server.JSzOptions{}); err == nil {
			st.JSMemory, st.JSStore, st.APITotal, st.APIErrors = js.Memory, js.Store, js.API.Total, js.API.Errors
		}
		return st, nil
	}
}

// httpStats reads /varz and /jsz of a node's monitoring endpoint; only the
// fields kept are decoded.
func httpStats(base string) func(context.Context) (NodeStats, error) {
	base = strings.TrimRight(base, "/")
	shown := secrets.URL(base)
	return func(ctx context.Context) (NodeStats, error) {
		var v struct {
			CPU     float64 `json:"cpu"`
			Mem     int64   `json:"mem"`
			InMsgs  int64   `json:"in_msgs"`
			OutMsgs int64   `json:"out_msgs"`
		}
		if err := getJSON(ctx, base+"/varz", &v); err != nil {
			return NodeStats{}, fmt.Errorf("%s/varz: %s", shown, secrets.Scrub(err.Error()))
		}
		st := NodeStats{CPU: v.CPU, RSS: v.Mem, InMsgs: v.InMsgs, OutMsgs: v.OutMsgs}
		var js struct {
			Memory  uint64 `json:"memory"`
			Storage uint64 `json:"storage"`
			API     struct {
				Total  uint64 `json:"total"`
				Errors uint64 `json:"errors"`
			} `json:"api"`
		}
		if err := getJSON(ctx, base+"/jsz", &js); err == nil {
			st.JSMemory, st.JSStore, st.APITotal, st.APIErrors = js.Memory, js.Storage, js.API.Total, js.API.Errors
		}
		return st, nil
	}
}
