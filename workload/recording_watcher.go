package workload

import (
	"context"
	"sync"
	"time"

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
	// next is the sequence the watcher expects next; gaps are the ranges it
	// skipped (messages discarded by the history limit or a purge before it
	// reached them). Memory grows with gaps, which are rare, not with ops.
	next     uint64
	gaps     []SeqRange
	progress chan struct{}
	done     chan struct{}
}

// SeqRange is an inclusive range of stream sequences.
type SeqRange struct{ From, To uint64 }

// StartWatcher starts watching; the watch ends with Stop or when ctx ends.
// IncludeHistory makes the consumer start at the first sequence of the
// (fresh) bucket, so nothing written before the consumer existed is missed.
func StartWatcher(ctx context.Context, kv jetstream.KeyValue, id int, clock Clock, out *history.Writer) (*RecordingWatcher, error) {
	w, err := kv.WatchAll(ctx, jetstream.IncludeHistory())
	if err != nil {
		return nil, err
	}
	rw := &RecordingWatcher{ID: id, w: w, clock: clock, out: out, next: 1, progress: make(chan struct{}, 1), done: make(chan struct{})}
	go rw.loop()
	return rw, nil
}

func (rw *RecordingWatcher) loop() {
	defer close(rw.done)
	for e := range rw.w.Updates() {
		if e == nil {
			continue // end of initial values
		}
		rec := watchRecord(e, rw.ID, rw.clock)
		rw.out.Write(&rec)
		rw.mu.Lock()
		if rec.Rev > rw.next {
			rw.gaps = append(rw.gaps, SeqRange{rw.next, rec.Rev - 1})
		}
		if rec.Rev >= rw.next {
			rw.next = rec.Rev + 1
		}
		rw.mu.Unlock()
		select {
		case rw.progress <- struct{}{}:
		default:
		}
	}
}

// WaitFor waits until the watcher has delivered sequence seq, or ctx ends,
// or — when holds says so — the stream no longer holds anything the
// watcher has yet to deliver: messages removed before it reached them (TTLs
// that ran out while its consumer was recreated after a fault) never come,
// and waiting for them would let more of the bucket expire before the
// final reads. holds is asked only after a second without progress. It
// returns the sequences up to seq that the watcher did not deliver.
func (rw *RecordingWatcher) WaitFor(ctx context.Context, seq uint64, holds func(ctx context.Context, from uint64) bool) []SeqRange {
	idle := time.NewTicker(time.Second)
	defer idle.Stop()
	var asked uint64
wait:
	for {
		rw.mu.Lock()
		next := rw.next
		rw.mu.Unlock()
		if next > seq {
			break
		}
		select {
		case <-rw.progress:
		case <-idle.C:
			if holds != nil && next == asked && !holds(ctx, next) {
				break wait
			}
			asked = next
		case <-ctx.Done():
			break wait
		case <-rw.done:
			break wait
		}
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	missed := append([]SeqRange(nil), rw.gaps...)
	if rw.next <= seq {
		missed = append(missed, SeqRange{rw.next, seq})
	}
	return missed
}

// Stop ends the watch and waits for the loop to finish writing.
func (rw *RecordingWatcher) Stop() {
	_ = rw.w.Stop()
	<-rw.done
}

// watchRecord is one delivered entry as a history line, stamped on receipt.
func watchRecord(e jetstream.KeyValueEntry, watcher int, clock Clock) history.Record {
	rec := history.Record{Kind: history.KindWatch, Watcher: watcher, Key: e.Key(), Rev: e.Revision(), At: clock.Now()}
	switch e.Operation() {
	case jetstream.KeyValueDelete:
		rec.Marker = history.MarkerDel
	case jetstream.KeyValuePurge:
		rec.Marker = history.MarkerPurge
	default:
		rec.Read = DecodeValue(e.Value())
	}
	return rec
}
