package history

import (
	"errors"
	"fmt"
)

// readAheadBatch is how many records are decoded before the consumer gets
// them: two batches (about 0.5 MB) are in flight at most.
const readAheadBatch = 1024

var errReadAheadStopped = errors.New("read ahead stopped")

// readAhead hands yield the records of buckets in order, decoded on
// another goroutine a batch ahead: checking a long key reads its bucket
// file three times (see checker/spans.go), and on two cores decoding the
// next batch while the checks work on this one saves most of a pass. It
// stops at yield's first error, and returns once the decoding goroutine
// has ended.
func (s *Spilled) readAhead(buckets []int, noValues bool, yield func(*Record) error) error {
	type batch struct {
		recs []Record
		err  error // decoding stopped after recs with this error
	}
	full := make(chan batch, 1)
	free := make(chan []Record, 2)
	free <- make([]Record, 0, readAheadBatch)
	free <- make([]Record, 0, readAheadBatch)
	stop, done := make(chan struct{}), make(chan struct{})
	defer func() {
		close(stop)
		<-done
	}()
	go func() {
		defer close(done)
		defer close(full)
		send := func(b batch) bool {
			select {
			case full <- b:
				return true
			case <-stop:
				return false
			}
		}
		recs := <-free
		// Decoded where the batch holds it: a record is a few hundred
		// bytes, and copying each in was a sixth of reading a spill back.
		slot := false // the last record of recs is a slot not decoded into (yet)
		into := func() *Record {
			recs, slot = recs[:len(recs)+1], true
			return &recs[len(recs)-1]
		}
		for _, b := range buckets {
			err := s.decodeBucket(b, noValues, into, func(*Record) error {
				if slot = false; len(recs) < readAheadBatch {
					return nil
				}
				if !send(batch{recs: recs}) {
					return errReadAheadStopped
				}
				select {
				case recs = <-free:
					recs = recs[:0]
					return nil
				case <-stop:
					return errReadAheadStopped
				}
			})
			if slot { // the end of the bucket, or an error, left it empty
				recs, slot = recs[:len(recs)-1], false
			}
			if err == errReadAheadStopped {
				return
			}
			if err != nil {
				send(batch{recs: recs, err: err})
				return
			}
		}
		send(batch{recs: recs})
	}()
	for b := range full {
		for i := range b.recs {
			if err := yield(&b.recs[i]); err != nil {
				return err
			}
		}
		if b.err != nil {
			return fmt.Errorf("reading back the history cut by key: %w", b.err)
		}
		free <- b.recs
	}
	return nil
}
