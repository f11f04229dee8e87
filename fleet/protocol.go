// Package fleet spreads a run's clients over load generators on several
// machines (`kvharness worker`) coordinated over NATS, and brings their
// records back into the run's one history. The coordinator (harness, with
// a Coordinator) runs everything else of the run itself: target, bucket,
// recording watcher, scenario watchers, nemesis, final phase and checks.
//
// The control plane is NATS, apart from the target: an embedded server of
// the coordinator's by default, so that a fault injected into the target
// never cuts it. Workers are nats.go micro services (discovery, requests:
// prepare, clock, start, stop); each streams its history, compressed and
// sealed frame by frame, into a JetStream stream on the control server,
// and ends it with a done message carrying its stats and latency
// histograms. Every message is signed or sealed (auth.go). A worker's clock is placed on the coordinator's by round
// trips before, during and after the run (clock.go); its operations are
// widened by the bound of that estimate when checked (history.Worker).
package fleet

import (
	"github.com/kvharness/kvharness/latency"
	"github.com/kvharness/kvharness/workload"
)

// ServiceName is the micro service every worker registers as.
const ServiceName = "kvharness-worker"

// historyStream holds the workers' histories on the control server.
const historyStream = "KVH_HISTORY"

func workerSubject(name, verb string) string { return "kvh.worker." + name + "." + verb }
func beatSubject(run, name string) string    { return "kvh.run." + run + ".beat." + name }
func historySubject(run, name string) string {
	return "kvh.history." + run + "." + name
}

// Headers of a history frame.
const (
	hdrChunk = "Kvh-Chunk" // 1, 2, ...: a gap is a lost frame
	hdrDone  = "Kvh-Done"  // the last message: a Done, not a frame
)

// Job is a worker's share of a run.
type Job struct {
	Run    string `json:"run"`
	Worker string `json:"worker"`
	// Target: the servers' client URLs, without credentials: a worker
	// uses its own (kvharness worker --creds ...), never the coordinator's.
	Target []string `json:"target"`
	Bucket string   `json:"bucket"`
	// Workload: the worker's clients (FirstClient on), op budget and rate.
	Workload workload.Config `json:"workload"`
	// ClockStart: the wall-clock time (Unix ns) at which the coordinator's
	// run clock reads 0. A worker starts its clock reading what that wall
	// time says, and runs it on its monotonic clock: the offset measured
	// afterwards is then the two machines' wall-clock difference (about 0
	// on one machine, which is what the tests use to check the estimate),
	// and is measured, never assumed.
	ClockStart int64 `json:"clock_start"`
}

// reply answers prepare, start and stop.
type reply struct {
	Error string `json:"error,omitempty"`
	Host  string `json:"host,omitempty"`
}

// clockReply answers clock: the worker's run clock when it answered.
type clockReply struct {
	Now int64 `json:"now"`
}

// Beat is a worker's heartbeat while it runs.
type Beat struct {
	Ops    int64 `json:"ops"`
	Errors int64 `json:"errors"`
}

// Done ends a worker's history stream.
type Done struct {
	Issued    int64             `json:"issued"`
	Unknowns  int64             `json:"unknowns"`
	Late      int64             `json:"late"`
	ElapsedNs int64             `json:"elapsed_ns"`
	WarmupNs  int64             `json:"warmup_ns"`
	Pacing    string            `json:"pacing"`
	Latency   []latency.Encoded `json:"latency"`
	Service   []latency.Encoded `json:"service,omitempty"`
	Chunks    int               `json:"chunks"`
	// Error: the worker could not finish its share (it still sent what it
	// recorded).
	Error string `json:"error,omitempty"`
}
