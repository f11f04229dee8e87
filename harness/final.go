package harness

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/workload"
)

// finalPhase reads, on a healed cluster, what the checks compare the
// workload's history with, each step on a budget of its own: it waits
// (bounded) for the recording watcher to catch up with the stream, reads
// every key's last message through the stream leader, stops the scenario's
// watchers once they delivered those, records the messages the stream
// still holds where unknown outcomes or watchers need them, each key's
// History(), every node's replica, and last when the keys whose values
// carry a TTL went away.
func finalPhase(b *runBucket, keys []string, load *workload.Load, keyTTL, ttlTolerance time.Duration, anyUnknown bool, clock workload.Clock, out *history.Writer) history.End {
	end := history.End{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lastSeq, err := workload.SettledLastSeq(ctx, b.js, cluster.StreamName(b.name))
	// Without a last sequence there is nothing to wait for, but the
	// watcher stops all the same, before the history closes.
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	missed := load.RecordingMissed(wctx, lastSeq)
	wcancel()
	end.LastSeq = lastSeq
	end.BucketMissing = errors.Is(err, jetstream.ErrStreamNotFound)

	var finals map[string]history.Record
	end.FinalReads, finals = workload.FinalReads(ctx, b.control, b.name, keys, clock, out)
	lastRevs := make(map[string]uint64, len(finals))
	for key, f := range finals {
		lastRevs[key] = f.Rev
	}
	// On a budget of its own (not ctx's): a watcher whose consumer was on a
	// killed node may take workload.WatcherRecovery to deliver again.
	wctx, wcancel = context.WithTimeout(context.Background(), workload.WatcherRecovery)
	load.StopWatchers(wctx, lastRevs)
	wcancel()
	// What follows reads the bucket again, on a budget of its own: the
	// wait above may have taken most of the first one.
	ctx, cancel = context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err == nil {
		var stored map[uint64]bool
		// The scenario's watchers are checked against what the bucket
		// holds at the end: record it.
		if len(missed) > 0 && lastSeq > 0 || anyUnknown || load.HasWatchers() {
			var err error
			stored, end.StoredComplete, err = workload.RecordStored(ctx, b.js, b.name, lastSeq, clock, out)
			if err != nil {
				end.StoredError = err.Error() // the next inconclusive run says why
			}
		}
		end.WatchComplete = workload.Covered(missed, stored)
	}
	if kv, err := b.js.KeyValue(ctx, b.name); err == nil {
		hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
		end.HistoryReads = workload.ReadKeyHistories(hctx, kv, keys, clock, out)
		hcancel()
	}
	if b.replicas > 1 {
		// Last, on a budget of its own: what resolves unknowns comes first.
		rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
		end.ReplicaNodes = workload.ReadReplicas(rctx, b.target, b.control, b.name, keys, clock, out)
		rcancel()
	}
	// end.At is when the reads above were done: checks excuse what may
	// have expired by then. The following below comes after it.
	end.At = clock.Now()
	// Last, on a budget of its own: it waits for the keys' TTLs to run
	// out, which would take from the phases above what they read.
	ectx, ecancel := context.WithTimeout(context.Background(), 40*time.Second)
	end.Expiry = workload.ObserveExpiry(ectx, b.control, b.name, finals, keyTTL, ttlTolerance+expirySlack, clock)
	ecancel()
	return end
}

// expirySlack: how long past a key's TTL and the tolerance the final phase
// keeps following it — long enough for a cluster just healed to elect a
// leader (nats-server's longest election timeout is 9 s) and remove it.
const expirySlack = 10 * time.Second
