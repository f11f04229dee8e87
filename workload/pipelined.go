package workload

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// pendingWrite is a write (a put or an update) sent without waiting for its
// acknowledgement.
type pendingWrite struct {
	rec             history.Record
	ack             jetstream.PubAckFuture
	err             error // the publish itself failed
	start, intended time.Time
}

// runPipelined is throughput mode for writes: the client keeps up to
// c.inflight writes in flight, publishing each to the key's subject (what
// kv.Put does) without waiting for the previous acknowledgement, as
// `nats bench kv put` and batching producers do. Each write is recorded
// like any other — invoke line before it is sent, op line with its revision
// when its ack comes — so the history and checks are the same; latency is
// from the send to when the client took the ack (acks are taken in order,
// so a fast ack behind a slow one counts as slow). The mix is puts and
// updates only (the scenario checks that). An update is what kv.Update
// sends: the expected last subject sequence, here the revision the client
// last saw of the key when it sent it, so that the updates pipelined on a
// key all expect the same revision and all but one must be refused — a
// storm of CAS writes deep in the server's queues, which is where a server
// that skips a precondition check under change shows it.
func (c *Client) runPipelined(ctx context.Context, p Pacer) {
	pending := make(chan pendingWrite, c.inflight)
	collected := make(chan struct{})
	go func() { // acks come back in publish order; record them as they do
		defer close(collected)
		for pp := range pending {
			err := pp.err
			if err == nil {
				select {
				case ack := <-pp.ack.Ok():
					pp.rec.Rev = ack.Sequence
				case err = <-pp.ack.Err():
				}
			}
			c.finish(&pp.rec, err, pp.start, pp.intended)
		}
	}()
	for {
		intended, ok := p.Next(ctx)
		if !ok {
			break
		}
		plan := c.gen.Next()
		rec := history.Record{Kind: history.KindOp, Client: c.ID, Op: plan.Op, Key: plan.Key}
		var payload []byte
		rec.Value, payload = c.gen.NextValue()
		opts := []jetstream.PublishOpt{jetstream.WithStallWait(c.opTimeout)}
		if plan.Op == history.OpUpdate {
			rec.ExpectRev, rec.HasExpect = c.expected(plan.Key), true
			opts = append(opts, jetstream.WithExpectLastSequencePerSubject(rec.ExpectRev))
		}
		start := c.begin(&rec, intended)
		ack, err := c.js.PublishAsync(cluster.Subject(c.bucket, plan.Key), payload, opts...)
		pending <- pendingWrite{rec: rec, ack: ack, err: err, start: start, intended: intended} // blocks while the window is full
	}
	close(pending)
	<-collected
}
