package workload

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// pendingPut is a put sent without waiting for its acknowledgement.
type pendingPut struct {
	rec             history.Record
	ack             jetstream.PubAckFuture
	err             error // the publish itself failed
	start, intended time.Time
}

// runPipelined is throughput mode for writes: the client keeps up to
// c.inflight puts in flight, publishing each to the key's subject (what
// kv.Put does) without waiting for the previous acknowledgement, as
// `nats bench kv put` and batching producers do. Each put is recorded like
// any other — invoke line before it is sent, op line with its revision when
// its ack comes — so the history and checks are the same; latency is from
// the send to when the client took the ack (acks are taken in order, so a
// fast ack behind a slow one counts as slow). The mix is puts only (the
// scenario checks that).
func (c *Client) runPipelined(ctx context.Context, p Pacer) {
	pending := make(chan pendingPut, c.inflight)
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
		rec := history.Record{Kind: history.KindOp, Client: c.ID, Op: history.OpPut, Key: plan.Key}
		var payload []byte
		rec.Value, payload = c.gen.NextValue()
		start := c.begin(&rec, intended)
		ack, err := c.js.PublishAsync(cluster.Subject(c.bucket, plan.Key), payload, jetstream.WithStallWait(c.opTimeout))
		pending <- pendingPut{rec: rec, ack: ack, err: err, start: start, intended: intended} // blocks while the window is full
	}
	close(pending)
	<-collected
}
