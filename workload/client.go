package workload

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
)

// Client is one concurrent worker: its own generator, its own view of the
// revisions it last saw per key, its own latency recorder.
type Client struct {
	ID     int
	kv     jetstream.KeyValue
	nc     *nats.Conn // the client's connection, for gets routed to the stream leader
	gen    *Generator
	clock  Clock
	out    *history.Writer
	lat    *latency.Recorder // from the intended start (= actual start in a closed loop)
	svc    *latency.Recorder // open loop only: service time, from the actual start
	recent *latency.Window   // live progress only: the last second's latencies
	// measureFrom: the end of the warm-up; an op intended before it is
	// not recorded in lat or svc (zero: no warm-up). Set before Run.
	measureFrom time.Time
	opTimeout   time.Duration
	// js: the client's JetStream context. With inflight > 1, puts are
	// pipelined (see runPipelined) through js, which then bounds its
	// pending acks to inflight.
	js       jetstream.JetStream
	bucket   string
	inflight int
	// lastRev is the revision this client last saw per key, from its own
	// reads and writes: what its next update expects, so that clients
	// race each other and real CAS conflicts happen. revMu guards it in
	// throughput mode, where acks are taken on a goroutine of their own.
	lastRev map[string]uint64
	revMu   sync.Mutex
	// keyTTL, when set, gives every put, create and update a per-message
	// TTL (sessions, leases).
	keyTTL time.Duration
	// pattern: a use case's loop instead of the op mix (patterns.go).
	pattern string
	// Live counters, read by the progress display and at the end of the run:
	// definite failures other than CAS refusals, and outcomes never learned.
	errors, unknowns atomic.Int64
}

// Run issues operations until the pacer says stop. Each operation gets its
// own timeout from a background context: stopping the run stops new ops
// but lets the ones in flight finish, so stopping creates no unknowns.
func (c *Client) Run(ctx context.Context, p Pacer) {
	switch {
	case c.inflight > 1:
		c.runPipelined(ctx, p)
		return
	case c.pattern == history.PatternCounter:
		c.runCounter(ctx, p)
		return
	case c.pattern == history.PatternLease:
		c.runLease(ctx, p)
		return
	}
	for {
		intended, ok := p.Next(ctx)
		if !ok {
			return
		}
		c.do(c.gen.Next(), intended)
	}
}

func (c *Client) do(p Planned, intended time.Time) {
	rec := history.Record{Kind: history.KindOp, Client: c.ID, Op: p.Op, Key: p.Key, Path: p.Path}
	var payload []byte
	if p.Op == history.OpPut || p.Op == history.OpUpdate || p.Op == history.OpCreate {
		rec.Value, payload = c.gen.NextValue()
	}
	switch p.Op {
	case history.OpUpdate:
		rec.ExpectRev, rec.HasExpect = c.expected(p.Key), true
	case history.OpDelete, history.OpPurge:
		if r := c.expected(p.Key); p.CAS && r != 0 {
			rec.ExpectRev, rec.HasExpect = r, true
		}
	}

	if c.keyTTL > 0 && (p.Op == history.OpPut || p.Op == history.OpUpdate || p.Op == history.OpCreate) {
		rec.TTL = int64(c.keyTTL)
	}
	c.perform(&rec, payload, intended)
}

// perform runs one recorded operation on its own timeout.
func (c *Client) perform(rec *history.Record, payload []byte, intended time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.opTimeout)
	defer cancel()
	start := c.begin(rec, intended)
	err := c.execute(ctx, rec, payload)
	c.finish(rec, err, start, intended)
	return err
}

// begin stamps an operation's invocation and, for a write, records it
// before its request goes out; it returns the actual start.
func (c *Client) begin(rec *history.Record, intended time.Time) time.Time {
	start := time.Now()
	rec.Invoke = c.clock.Now()
	if lag := start.Sub(intended); lag > 0 {
		rec.Intended = rec.Invoke - int64(lag) // open loop: the op's slot passed while clients were busy
	}
	if history.IsWrite(rec.Op) {
		inv := *rec
		inv.Kind = history.KindInvoke
		c.out.Write(&inv)
	}
	return start
}

// finish records a completed (or given up) operation: its outcome, the
// client's counters and view of revisions, its latency and its line.
func (c *Client) finish(rec *history.Record, err error, start, intended time.Time) {
	rec.Complete = c.clock.Now() // for an unknown op: when the client gave up; the checker uses infinity
	done := time.Now()
	rec.Outcome, rec.ErrClass = Classify(rec.Op, err)
	if err != nil && rec.ErrClass != "" {
		rec.Error = err.Error()
	}
	switch {
	case rec.Outcome == history.Unknown:
		c.unknowns.Add(1)
	case rec.Outcome == history.Fail && !history.IsCASRefusal(rec.ErrClass):
		c.errors.Add(1)
	}
	c.learn(rec)
	if !intended.Before(c.measureFrom) {
		c.lat.Record(rec.Op, string(rec.Outcome), done.Sub(intended))
		if c.svc != nil {
			c.svc.Record(rec.Op, string(rec.Outcome), done.Sub(start))
		}
	}
	c.recent.Record(done.Sub(intended))
	c.out.Write(rec)
}

// execute performs one operation with nats.go, as an application would.
func (c *Client) execute(ctx context.Context, rec *history.Record, payload []byte) error {
	var err error
	switch rec.Op {
	case history.OpPut, history.OpUpdate:
		if rec.TTL > 0 {
			// nats.go's Put and Update take no TTL: publish the way they
			// do, with the TTL header added (see publishWithTTL).
			rec.Rev, err = c.publishWithTTL(ctx, rec, payload)
		} else if rec.Op == history.OpPut {
			rec.Rev, err = c.kv.Put(ctx, rec.Key, payload)
		} else {
			rec.Rev, err = c.kv.Update(ctx, rec.Key, payload, rec.ExpectRev)
		}
	case history.OpCreate:
		var opts []jetstream.KVCreateOpt
		if rec.TTL > 0 {
			opts = append(opts, jetstream.KeyTTL(time.Duration(rec.TTL)))
		}
		rec.Rev, err = c.kv.Create(ctx, rec.Key, payload, opts...)
	case history.OpDelete, history.OpPurge:
		rec.Rev, err = c.publishMarker(ctx, rec)
	case history.OpGet:
		if rec.Path == history.PathLeader {
			var last history.Record
			if last, err = ReadLast(ctx, c.nc, c.bucket, rec.Key); err == nil && last.Found {
				// A marker reads as "not found", as nats.go's Get has it.
				rec.Found, rec.Rev, rec.Read, rec.Count = true, last.Rev, last.Read, last.Count
			}
			break
		}
		var e jetstream.KeyValueEntry
		e, err = c.kv.Get(ctx, rec.Key)
		if err == nil {
			rec.Found, rec.Rev, rec.Read, rec.Count = true, e.Revision(), DecodeValue(e.Value()), decodeCount(e.Value())
		}
	}
	return err
}

// expected is the revision of key this client last saw (0: none).
func (c *Client) expected(key string) uint64 {
	c.revMu.Lock()
	defer c.revMu.Unlock()
	return c.lastRev[key]
}

// learn updates the revision this client will expect next time.
func (c *Client) learn(rec *history.Record) {
	if rec.Outcome != history.OK {
		return
	}
	c.revMu.Lock()
	defer c.revMu.Unlock()
	switch {
	case rec.Op == history.OpGet && !rec.Found, rec.Op == history.OpDelete, rec.Op == history.OpPurge:
		// The key is gone: the next write to it starts afresh (a marker's
		// revision is recorded, not expected).
		delete(c.lastRev, rec.Key)
	case rec.Rev != 0:
		c.lastRev[rec.Key] = rec.Rev
	}
}

// publishMarker is nats.go's Delete or Purge (jetstream/kv.go, v1.55.0):
// the same message to the same subject — a "KV-Operation: DEL" or "PURGE"
// marker, a purge rolling up the subject, LastRevision as the expected
// last subject sequence — so the server sees what an application's delete
// sends. Unlike nats.go it keeps the acknowledgement's sequence: the
// marker's revision, which lets the checker place the delete exactly and
// hold it to no-lost-writes like any write.
func (c *Client) publishMarker(ctx context.Context, rec *history.Record) (uint64, error) {
	msg := nats.NewMsg(cluster.Subject(c.bucket, rec.Key))
	if rec.Op == history.OpPurge {
		msg.Header.Set(kvOperation, kvPurge)
		msg.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	} else {
		msg.Header.Set(kvOperation, kvDel)
	}
	if rec.HasExpect {
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(rec.ExpectRev, 10))
	}
	ack, err := c.js.PublishMsg(ctx, msg)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// kvOperation is the header nats.go marks a delete or purge with, and its
// two values.
const (
	kvOperation = "KV-Operation"
	kvDel       = "DEL"
	kvPurge     = "PURGE"
)

// publishWithTTL is Put (no precondition) or Update (expected last
// revision) with a per-message TTL: what renews a lease or touches a
// session, since nats.go's Update cannot set one.
func (c *Client) publishWithTTL(ctx context.Context, rec *history.Record, payload []byte) (uint64, error) {
	opts := []jetstream.PublishOpt{jetstream.WithMsgTTL(time.Duration(rec.TTL))}
	if rec.HasExpect {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(rec.ExpectRev))
	}
	ack, err := c.js.PublishMsg(ctx, &nats.Msg{Subject: cluster.Subject(c.bucket, rec.Key), Data: payload}, opts...)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}
