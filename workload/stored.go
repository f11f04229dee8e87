package workload

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// RecordStored writes every message the bucket's stream still holds, from
// its first sequence up to lastSeq, into the history. It is the evidence of
// what was stored when the recording watcher is off or skipped sequences;
// it returns the sequences it saw and whether it reached lastSeq. Only retained messages are read — at
// most keys × history — so its cost does not grow with run length.
func RecordStored(ctx context.Context, js jetstream.JetStream, bucket string, lastSeq uint64, clock Clock, out *history.Writer) (map[uint64]bool, bool, error) {
	seen := map[uint64]bool{}
	if lastSeq == 0 {
		return seen, true, nil
	}
	cons, err := js.OrderedConsumer(ctx, cluster.StreamName(bucket), jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return seen, false, err
	}
	prefix := cluster.Subject(bucket, "")
	var next uint64 = 1 // the next sequence the dump can bring
	empty := 0          // fetches in a row that brought nothing
	refused := 0        // fetches in a row answered "no responders"
	for ctx.Err() == nil {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return seen, false, err
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				continue
			}
			rec := history.Record{Kind: history.KindStored, Key: strings.TrimPrefix(msg.Subject(), prefix), Rev: meta.Sequence.Stream, At: clock.Now()}
			if rec.Marker = markerOf(msg.Headers()); rec.Marker == history.MarkerNone {
				rec.Read = DecodeValue(msg.Data())
			}
			out.Write(&rec)
			seen[rec.Rev] = true
			next = rec.Rev + 1
			if rec.Rev >= lastSeq {
				return seen, true, nil
			}
		}
		err = batch.Error()
		if n == 0 && errors.Is(err, nats.ErrNoResponders) {
			// Each Fetch of an ordered consumer makes a new consumer, on
			// any node of the stream's group; when that is not the
			// control connection's server, the pull request can get there
			// before the new consumer's interest does and is answered "no
			// responders" at once (1 to 3 in 100 such fetches on a 3-node
			// cluster, a few in a row under load). Nothing was fetched: the
			// next Fetch starts again where the last one stopped, after a
			// pause, as retrying at once meets the same race.
			if refused++; refused < storedNoResponderFetches {
				select {
				case <-time.After(time.Duration(refused) * storedNoResponderPause):
				case <-ctx.Done():
				}
				continue
			}
			return seen, false, err
		}
		refused = 0
		if err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return seen, false, err
		}
		if n == 0 {
			// Short of lastSeq and nothing came: either the stream no
			// longer holds anything from next on (the last messages were
			// removed: TTLs ran out, a purge), which the leader can say,
			// or a server is slow. Only the first makes the dump complete:
			// counting a slow server's silence would turn "not seen" into
			// "did not happen". A server just restarted after a fault can
			// take more than one fetch's wait to answer: a few tries.
			hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			held, err := HoldsFrom(hctx, js.Conn(), bucket, next)
			cancel()
			if err == nil && !held {
				return seen, true, nil
			}
			if empty++; empty < storedEmptyFetches {
				continue
			}
			return seen, false, nil
		}
		empty = 0
	}
	return seen, false, ctx.Err()
}

// Covered reports whether every sequence of the ranges is in seen.
func Covered(ranges []SeqRange, seen map[uint64]bool) bool {
	for _, r := range ranges {
		for s := r.From; s <= r.To; s++ {
			if !seen[s] {
				return false
			}
		}
	}
	return true
}

// storedEmptyFetches is how many fetches in a row may bring nothing before
// RecordStored gives up: one (1 s) left a config-sharing run under corrupt
// faults inconclusive in make soak-faults, with every message still there.
const storedEmptyFetches = 3

// storedNoResponderFetches is how many fetches in a row answered "no
// responders" RecordStored makes before it gives up, pausing
// storedNoResponderPause times the count before each retry (about 2 s in
// all): a service-status run came out UNKNOWN (watch-complete) about once
// in 20 to 100 runs when the first such answer ended the dump.
const (
	storedNoResponderFetches = 10
	storedNoResponderPause   = 50 * time.Millisecond
)
