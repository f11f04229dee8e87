package workload

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/history"
)

// readKeyHistories asks nats.go for every key's History() after the run —
// the versions an application reads back — and records each entry, in the
// order returned, for the history-matches check. It reports whether every
// key was read.
func readKeyHistories(ctx context.Context, kv jetstream.KeyValue, keys []string, clock Clock, out *history.Writer) bool {
	const parallel = 8
	var wg sync.WaitGroup
	var failed atomic.Bool
	next := make(chan string)
	for i := 0; i < parallel; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range next {
				recs, err := keyHistoryRetrying(ctx, kv, key, clock)
				if err != nil {
					failed.Store(true)
					continue
				}
				// One key's entries together, in order: the writer is
				// shared, so write them under one lock.
				out.WriteAll(recs)
			}
		}()
	}
	for _, key := range keys {
		next <- key
	}
	close(next)
	wg.Wait()
	return !failed.Load()
}

func keyHistoryRetrying(ctx context.Context, kv jetstream.KeyValue, key string, clock Clock) ([]history.Record, error) {
	var last error
	for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		entries, err := kv.History(hctx, key)
		cancel()
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, nil // never written: an empty history
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
