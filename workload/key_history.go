package workload

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/history"
)

// maxHistoryKeys bounds the keys whose History() is read: each read is a
// consumer on the server, and a million-key run would spend minutes on it.
// Beyond it an even sample is read.
const maxHistoryKeys = history.MaxHistoryKeys

// historyKeys is the keys whose History() the final phase reads.
func historyKeys(keys []string) []string {
	if len(keys) <= maxHistoryKeys {
		return keys
	}
	out := make([]string, 0, maxHistoryKeys)
	for i := 0; i < maxHistoryKeys; i++ {
		out = append(out, keys[i*len(keys)/maxHistoryKeys])
	}
	return out
}

// ReadKeyHistories asks nats.go for keys' History() after the run — the
// versions an application reads back — and records each entry, in the
// order returned, for the history-matches check; a key with no history
// gets one record without a revision, so the checker knows it was read. It
// reports whether every key was read. Beyond maxHistoryKeys keys, an even
// sample is read.
func ReadKeyHistories(ctx context.Context, kv jetstream.KeyValue, keys []string, clock Clock, out *history.Writer) bool {
	return forEachKey(historyKeys(keys), 8, func(key string) bool {
		recs, err := keyHistoryRetrying(ctx, kv, key, clock)
		if err != nil {
			return false
		}
		// One key's entries together, in order: the writer is shared.
		out.WriteAll(recs)
		return true
	})
}

func keyHistoryRetrying(ctx context.Context, kv jetstream.KeyValue, key string, clock Clock) ([]history.Record, error) {
	var last error
	for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		entries, err := kv.History(hctx, key)
		cancel()
		if errors.Is(err, jetstream.ErrKeyNotFound) { // no message: an empty history
			return []history.Record{{Kind: history.KindHistory, Key: key, At: clock.Now()}}, nil
		}
		if err == nil {
			at := clock.Now()
			recs := make([]history.Record, 0, len(entries))
			for _, e := range entries {
				rec := watchRecord(e, 0, clock)
				rec.Kind, rec.At = history.KindHistory, at
				recs = append(recs, rec)
			}
			return recs, nil
		}
		last = err
	}
	if last == nil {
		last = ctx.Err()
	}
	return nil, last
}
