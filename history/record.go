// Package history defines the record format of history.jsonl and reads and
// writes it. It is the contract between the workload, which records, and the
// checker, which reads; it imports no NATS package.
package history

import "strings"

// Kind says what a line of history.jsonl describes.
type Kind string

const (
	// KindMeta is the first line: what was run against what. A run with
	// scenario watchers writes it again once they started (with their
	// specs); the last one counts.
	KindMeta Kind = "meta"
	KindOp   Kind = "op" // one client operation, invoke to completion
	// KindInvoke is written when a write starts, before its request is sent.
	// If the process is killed, a write in flight leaves only this line — yet
	// an operation that completed meanwhile may have seen its effect. The
	// reader turns an invoke without its op line into an unknown write.
	KindInvoke Kind = "invoke"
	KindWatch  Kind = "watch"  // one entry seen by the recording watcher
	KindFinal  Kind = "final"  // one key's last message, read through the stream leader after the run
	KindStored Kind = "stored" // one message the stream still held after the run
	KindFault  Kind = "fault"  // one injected fault, written when it ends
	// KindReplica is one key's last message as one node's own replica
	// answered it after the run (a direct get through a connection to that
	// node), for comparing replicas.
	KindReplica Kind = "replica"
	// KindHistory is one entry of a key's History() after the run, in the
	// order the client library returned them; a key whose History() was
	// empty has one without a revision.
	KindHistory Kind = "history"
	// KindLeadership is a stretch of the run in which the stream's leader
	// was seen in contact with a quorum of its replicas (see Leadership).
	KindLeadership Kind = "leadership"
	KindEnd        Kind = "end" // last line of a run that ended normally or was interrupted cleanly
)

// Op names. Writes carry a unique value; reads name the write they saw.
const (
	OpPut    = "put"
	OpUpdate = "update"
	OpCreate = "create"
	OpDelete = "delete"
	OpPurge  = "purge"
	OpGet    = "get"
)

// Outcome of an operation as the client saw it.
type Outcome string

const (
	OK      Outcome = "ok"      // acknowledged (for a get: answered, found or not)
	Fail    Outcome = "fail"    // definitely did not take effect
	Unknown Outcome = "unknown" // may or may not have taken effect
)

// KV operation markers as stored in the stream (KV-Operation header).
const (
	MarkerNone  = ""
	MarkerDel   = "del"
	MarkerPurge = "purge"
)

// Record is one line of history.jsonl. Kind selects which fields matter;
// empty fields are left out so lines stay short.
type Record struct {
	Kind Kind `json:"kind"`

	// op
	Client    int     `json:"client,omitempty"`
	Op        string  `json:"op,omitempty"`
	Key       string  `json:"key,omitempty"`
	Value     string  `json:"value,omitempty"`      // value written (its unique id)
	ExpectRev uint64  `json:"expect_rev,omitempty"` // CAS precondition (update, delete with last revision)
	HasExpect bool    `json:"has_expect,omitempty"` // ExpectRev applies (update with 0 is a real precondition)
	Outcome   Outcome `json:"outcome,omitempty"`
	Rev       uint64  `json:"rev,omitempty"`      // revision returned (write) or read (get, watch, final)
	Found     bool    `json:"found,omitempty"`    // get/final: a live value was there
	Read      string  `json:"read,omitempty"`     // get/final/watch: value id seen
	Marker    string  `json:"marker,omitempty"`   // watch/final: del or purge marker
	Intended  int64   `json:"intended,omitempty"` // open loop, op started late: when it was meant to start
	Invoke    int64   `json:"invoke,omitempty"`   // ns since run start
	Complete  int64   `json:"complete,omitempty"` // ns since run start; unset for unknown
	Error     string  `json:"error,omitempty"`
	ErrClass  string  `json:"err_class,omitempty"`
	// TTL: the write asked for a per-message TTL (ns): the server removes
	// the key this long after storing it.
	TTL int64 `json:"ttl,omitempty"`
	// Path: how a get was routed; empty is a direct get (any replica may
	// answer), "leader" a message get answered by the stream leader.
	Path string `json:"path,omitempty"`
	// Count: counter pattern, the counter value this write stores.
	Count int64 `json:"count,omitempty"`

	// watch, stored
	Watcher int   `json:"watcher,omitempty"`
	At      int64 `json:"at,omitempty"` // receive time, ns since run start

	// replica
	Node string `json:"node,omitempty"`

	// meta / end / fault / leadership
	Meta       *Meta       `json:"meta,omitempty"`
	End        *End        `json:"end,omitempty"`
	Fault      *Fault      `json:"fault,omitempty"`
	Leadership *Leadership `json:"leadership,omitempty"`
}

// Meta describes the run a history belongs to.
type Meta struct {
	Scenario      string   `json:"scenario"`
	Bucket        string   `json:"bucket"`
	Replicas      int      `json:"replicas"`
	History       int      `json:"history"`
	Keys          []string `json:"keys"`
	Seed          uint64   `json:"seed"`
	Mode          string   `json:"mode"`
	Nodes         int      `json:"nodes"`
	ServerVersion string   `json:"server_version"`
	Clients       int      `json:"clients"`
	Pacing        string   `json:"pacing"`     // closed-loop, ...
	StartedAt     string   `json:"started_at"` // wall clock, RFC 3339, for humans only
	// Required lists the checks the scenario requires; the checker uses it
	// so that `kvharness check` reaches the same verdict offline.
	Required []string `json:"required"`
	// CheckTimeoutSec is the run's budget per linearizability check, so an
	// offline re-check spends the same.
	CheckTimeoutSec float64 `json:"check_timeout_sec,omitempty"`
	// Thresholds are the scenario's limits, as written, re-evaluated offline.
	Thresholds map[string]string `json:"thresholds,omitempty"`
	// Pattern: what the clients did, when not the op mix: counter, lease,
	// sessions (see the workload package).
	Pattern string `json:"pattern,omitempty"`
	// Watchers: the scenario's watchers, whose deliveries are watch records
	// with Watcher = ID (the harness's own recording watcher is ID 0).
	Watchers []WatcherSpec `json:"watchers,omitempty"`
	// WatchersNotStarted: watchers due mid-run that could not start (a
	// fault may leave no leader to create their consumers), why.
	WatchersNotStarted []string `json:"watchers_not_started,omitempty"`
	// TTLToleranceMs: how late after its TTL a key may still be read.
	TTLToleranceMs int64 `json:"ttl_tolerance_ms,omitempty"`
	// Demoted: checks the default for the scenario's shape requires that
	// its own required list leaves out (they are only reported).
	Demoted []string `json:"demoted,omitempty"`
	// Workload: what the clients did, for readers and for compare.
	Workload *Workload `json:"workload,omitempty"`
	// Harness: the kvharness that ran (version, commit), the host and its
	// CPUs: a report read later says where its figures come from.
	Harness string `json:"harness,omitempty"`
	Host    string `json:"host,omitempty"`
	CPUs    int    `json:"cpus,omitempty"`
	// ObservesLeadership: the run asked the stream for its leader and
	// replicas throughout (from before the clients started until the
	// last read after the run) and wrote what it saw as leadership
	// records; time outside them had no leader in contact with a quorum,
	// as far as anyone could tell.
	ObservesLeadership bool `json:"observes_leadership,omitempty"`
	// MeasureFrom: with a warm-up, when it ends (ns since the run's start;
	// written again into the meta line as the clients start, before their
	// first op). An op whose intended start is before it is recorded and
	// checked but left out of the figures. 0: every op counts.
	MeasureFrom int64 `json:"measure_from,omitempty"`
	// SyncInterval: how the servers the harness started fsynced their
	// stores (default, always, or a duration); empty for external ones.
	SyncInterval string `json:"sync_interval,omitempty"`
	// Workers: a run whose clients ran on other machines (kvharness
	// worker): each worker's clients and how its clock was placed on this
	// history's. Written again into the meta line before the workers'
	// records, which follow it.
	Workers []Worker `json:"workers,omitempty"`
}

// Worker is one load generator of a run spread over several machines. Its
// records' times were measured on its own clock and moved onto the
// history's by OffsetNs; the true offset lies within BoundNs of it, so
// the checker widens each of its operations by BoundNs on both sides
// (ClockBound): no clock skew within the bound can make a violation up.
type Worker struct {
	Name        string `json:"name"`
	Host        string `json:"host,omitempty"`
	FirstClient int    `json:"first_client"`
	Clients     int    `json:"clients"`
	// OffsetNs: the worker's clock minus the coordinator's, as estimated
	// from the fastest of repeated round trips; BoundNs: how far the
	// truth may lie from it (half that round trip, plus the drift seen
	// between the estimates before, during and after the run).
	OffsetNs int64 `json:"offset_ns"`
	BoundNs  int64 `json:"bound_ns"`
	Ops      int64 `json:"ops"`
	// Lost: the coordinator stopped hearing from it before it finished
	// (why); what it sent until then is in the history, what it did after
	// is not, so the run is inconclusive.
	Lost string `json:"lost,omitempty"`
}

// ClockBound is how far an operation of client may be misplaced in time:
// its worker's BoundNs, or 0 for a client of this process.
func (m *Meta) ClockBound(client int) int64 {
	if m == nil {
		return 0
	}
	for i := range m.Workers {
		if w := &m.Workers[i]; client >= w.FirstClient && client < w.FirstClient+w.Clients {
			return w.BoundNs
		}
	}
	return 0
}

// WidenForClock widens an operation of a worker's client by its clock
// bound (see Worker); other records are left as they are.
func (m *Meta) WidenForClock(r *Record) {
	if m == nil || r.Kind != KindOp || len(m.Workers) == 0 {
		return
	}
	if b := m.ClockBound(r.Client); b > 0 {
		r.Invoke -= b
		if r.Complete > 0 {
			r.Complete += b
		}
	}
}

// Workload describes the load a run offered: two runs whose workloads
// differ measure different things.
type Workload struct {
	Storage         string         `json:"storage"`
	Compression     bool           `json:"compression,omitempty"` // the bucket's stream stored S2-compressed
	Mix             map[string]int `json:"mix,omitempty"`
	Keys            int            `json:"keys"`
	KeyDistribution string         `json:"key_distribution"`
	ValueSize       int            `json:"value_size"`
	OpTimeoutMs     int64          `json:"op_timeout_ms"`
	KeyTTLMs        int64          `json:"key_ttl_ms,omitempty"`
	ReadPath        string         `json:"read_path,omitempty"`
	Inflight        int            `json:"inflight,omitempty"`
	Faults          string         `json:"faults,omitempty"` // the fault kinds or plan, as the scenario gives them
	// WarmupMs: the workload's first part, left out of the figures (see
	// Meta.MeasureFrom).
	WarmupMs int64 `json:"warmup_ms,omitempty"`
}

// Delivery is one entry a scenario watcher received (a watch record with
// Watcher > 0), kept compact in memory: every write reaches every watcher,
// so a run with many watchers holds many times more deliveries than ops.
type Delivery struct {
	Watcher int
	Key     string
	Rev     uint64
	Read    string // value id; empty for a marker
	Marker  string
	At      int64 // receive time, ns since run start
}

// DeliveryOf is the delivery a watch record describes.
func DeliveryOf(r Record) Delivery {
	return Delivery{Watcher: r.Watcher, Key: r.Key, Rev: r.Rev, Read: r.Read, Marker: r.Marker, At: r.At}
}

// WatcherSpec is one watcher of the scenario.
type WatcherSpec struct {
	ID int `json:"id"`
	// Keys the watcher filters on (NATS subject wildcards allowed); empty
	// means every key.
	Keys []string `json:"keys,omitempty"`
	Mode string   `json:"mode"`
	// StartSeq is the stream's last sequence when the watch began: what a
	// latest or updates-only watcher is not expected to deliver. A watcher
	// started while clients write began somewhere between StartSeq and
	// StartedBy (the last sequence once it was running); revisions in
	// between may or may not be delivered.
	StartSeq  uint64 `json:"start_seq"`
	StartedBy uint64 `json:"started_by,omitempty"`
	// StartAt: when it began, ns since run start (0: before the clients).
	StartAt int64 `json:"start_at,omitempty"`
}

// Began is the last sequence by which the watcher was certainly running.
func (w WatcherSpec) Began() uint64 { return max(w.StartSeq, w.StartedBy) }

// Watches reports whether the watcher's filter covers key.
func (w WatcherSpec) Watches(key string) bool {
	if len(w.Keys) == 0 {
		return true
	}
	for _, f := range w.Keys {
		if SubjectMatches(f, key) {
			return true
		}
	}
	return false
}

// SubjectMatches matches a key against a NATS subject filter: tokens split
// by '.', '*' matches one token, '>' the rest.
func SubjectMatches(filter, key string) bool {
	ft, kt := strings.Split(filter, "."), strings.Split(key, ".")
	for i, f := range ft {
		if f == ">" {
			return len(kt) > i
		}
		if i >= len(kt) || f != "*" && f != kt[i] {
			return false
		}
	}
	return len(ft) == len(kt)
}

// Fault is one fault the nemesis injected, with its window.
type Fault struct {
	Kind   string `json:"kind"`   // kill, pause, partition, ...; heal: the wait for a healthy cluster after the last fault
	Target string `json:"target"` // node names, comma-separated, or "cluster"
	Start  int64  `json:"start"`  // ns since run start
	End    int64  `json:"end"`    // ns since run start: when it was healed
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Leadership is a stretch of the run in which Leader led the stream and was
// in contact with a quorum of its replicas: every instant in [From, To] is
// within leadershipGap of one at which the leader had last heard from
// enough current replicas to commit (ns since run start). Those instants
// come from the leader's own account of when it last heard from each
// replica, not from when it was asked, so a leader cut off from its
// followers ends its stretch when it lost them, however long it goes on
// calling itself leader.
//
// All marks the stretches in which the leader was in contact with every
// replica, not only a quorum: a direct get, which any replica may answer,
// can be stale outside them (a replica cut off misses removals too).
type Leadership struct {
	Leader string `json:"leader"`
	From   int64  `json:"from"`
	To     int64  `json:"to"`
	All    bool   `json:"all,omitempty"`
}

// End closes a history. Its absence means the run was killed.
type End struct {
	Interrupted bool  `json:"interrupted"`
	At          int64 `json:"at"`
	// LastSeq is the stream's last sequence when the run ended.
	LastSeq uint64 `json:"last_seq"`
	// WatchComplete: every sequence up to LastSeq was seen, by the
	// recording watcher or in the stream after the run, so a written value
	// never seen was never written.
	WatchComplete bool `json:"watch_complete"`
	// StoredComplete: the stored records are every message the stream held
	// after the run (per key, a suffix of what was written to it).
	StoredComplete bool `json:"stored_complete,omitempty"`
	// StoredError: why reading the stored messages stopped short, if an
	// error stopped it.
	StoredError string `json:"stored_error,omitempty"`
	// FinalReads: every key got a final record.
	FinalReads bool `json:"final_reads"`
	// BucketMissing: the bucket's stream was gone after the run.
	BucketMissing bool `json:"bucket_missing,omitempty"`
	// ReplicaNodes: the servers whose replicas were read key by key (replica
	// records); empty when they were not read (one node, R1).
	ReplicaNodes []string `json:"replica_nodes,omitempty"`
	// HistoryReads: the History() of every key (up to 10,000; an even
	// sample of more) was read: history records.
	HistoryReads bool `json:"history_reads,omitempty"`
	// Expiry: the keys whose last message after the run was a value written
	// with a TTL, followed until it went away (bounded).
	Expiry []Expiry `json:"expiry,omitempty"`

	// Cut: no end record was written; this one was made by the reader from
	// the reads after the run that the file holds (see cutEnd), never
	// written. FinalKeys and HistoryKeys count the keys of the Keys in the
	// meta line with a final read and with History() in it.
	Cut         bool `json:"-"`
	Keys        int  `json:"-"`
	FinalKeys   int  `json:"-"`
	HistoryKeys int  `json:"-"`
}

// MaxHistoryKeys bounds the keys whose History() a run reads after the
// workload (see workload.ReadKeyHistories).
const MaxHistoryKeys = 10_000

// Expiry is what became of one key's last message after the run, when it
// was a value written with a TTL: when it was last seen still there, and
// when it was first seen gone (0: not while it was followed). Times in ns
// since run start.
type Expiry struct {
	Key  string `json:"key"`
	Rev  uint64 `json:"rev"`
	Read string `json:"read"`
	Seen int64  `json:"seen,omitempty"`
	Gone int64  `json:"gone,omitempty"`
}

// SameMessage: two reads of a key's last message (final, replica) saw the
// same message.
func SameMessage(a, b Record) bool {
	return a.Rev == b.Rev && a.Found == b.Found && a.Read == b.Read && a.Marker == b.Marker
}

// IsWrite reports whether op changes the key.
func IsWrite(op string) bool {
	switch op {
	case OpPut, OpUpdate, OpCreate, OpDelete, OpPurge:
		return true
	}
	return false
}

// Ops lists every client operation, in a fixed order (op mixes are walked in
// this order so a seed reproduces the same sequence).
var Ops = []string{OpPut, OpUpdate, OpCreate, OpGet, OpDelete, OpPurge}
