package workload

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/history"
)

// RecordingWatcher watches the whole bucket from its first message and
// writes every entry into the history. It is the checker's evidence of what
// the server actually stored: a write with an unknown outcome whose value it
// saw did happen, at that revision.
type RecordingWatcher struct {
	ID    int
	w     jetstream.KeyWatcher
	clock Clock
	out   *history.Writer

	mu sync.Mutex
	// contiguous is the highest sequence such that every sequence from 1 to
	// it was delivered; gap says some sequence was skipped (a message
	// discarded before the watcher reached it).
	contiguous uint64
	gap        bool
	progress   chan struct{}
	done       chan struct{}
}

// StartWatcher starts watching. IncludeHistory makes the consumer start at
// the first sequence of the (fresh) bucket, so nothing written before the
// consumer existed is missed.
func StartWatcher(ctx context.Context, kv jetstream.KeyValue, id int, clock Clock, out *history.Writer) (*RecordingWatcher, error) {
	w, err := kv.WatchAll(ctx, jetstream.IncludeHistory())
	if err != nil {
		return nil, err
	}
	rw := &RecordingWatcher{ID: id, w: w, clock: clock, out: out, progress: make(chan struct{}, 1), done: make(chan struct{})}
	go rw.loop()
	return rw, nil
}

func (rw *RecordingWatcher) loop() {
	defer close(rw.done)
	for e := range rw.w.Updates() {
		if e == nil {
			continue // end of initial values
		}
		rec := history.Record{Kind: history.KindWatch, Watcher: rw.ID, Key: e.Key(), Rev: e.Revision(), At: rw.clock.Now()}
		switch e.Operation() {
		case jetstream.KeyValueDelete:
			rec.Marker = history.MarkerDel
		case jetstream.KeyValuePurge:
			rec.Marker = history.MarkerPurge
		default:
			rec.Read = DecodeValue(e.Value())
		}
		rw.out.Write(&rec)
		rw.mu.Lock()
		switch {
		case rec.Rev == rw.contiguous+1:
			rw.contiguous = rec.Rev
		case rec.Rev > rw.contiguous+1:
			rw.gap = true
			rw.contiguous = rec.Rev
		}
		rw.mu.Unlock()
		select {
		case rw.progress <- struct{}{}:
		default:
		}
	}
}

// WaitFor waits until the watcher has delivered sequence seq, or ctx ends.
// It reports whether every sequence up to seq was seen without a gap.
func (rw *RecordingWatcher) WaitFor(ctx context.Context, seq uint64) bool {
	for {
		rw.mu.Lock()
		reached, gap := rw.contiguous >= seq, rw.gap
		rw.mu.Unlock()
		if reached {
			return !gap
		}
		select {
		case <-ctx.Done():
			return false
		case <-rw.progress:
		case <-rw.done:
			return false
		}
	}
}

// Stop ends the watch and waits for the loop to finish writing.
func (rw *RecordingWatcher) Stop() {
	_ = rw.w.Stop()
	<-rw.done
}
