package history

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// Scan reads JSONL records and hands each to visit, in the file's order.
// An invoke is held until its op line; one that never got it (the run was
// killed with the write in flight) is handed on at the end as an unknown
// op, so visit never sees invoke records. A bad line in the middle is an
// error naming the line; a bad last line is tolerated — Scan returns how
// many it skipped (0 or 1). Memory is bounded by the writes in flight, not
// by the history's length. rec lives until visit returns: visit copies
// what it keeps (the strings and the meta line, end and fault it points to
// are its own).
//
// Parsing JSON is most of reading a long history, so lines are parsed in
// batches on every core while the caller visits the records of the batches
// before, in order. Batches are used again once visited: made new, an
// hour's history allocated 37 GB of them (and 6.5 GB of tables for the
// invokes waiting for their op, below), and collecting that garbage cost
// more than parsing.
func Scan(r io.Reader, visit func(rec *Record) error) (truncated int, err error) {
	// Writes started but not (yet) completed. Each invoke's record is its
	// own, used again once its op came: a map of records, emptied as fast
	// as filled, made a new table every few writes (6.5 GB over an hour's
	// history).
	var pendingWrites pendingInvokes
	var spare []*Record
	batches, stop, done := parseBatches(r)
	defer stop()
	line := 0
	var pending error
	for b := range batches {
		<-b.parsed
		for i := range b.recs {
			line++
			if b.empty[i] {
				continue
			}
			if pending != nil {
				return 0, pending
			}
			if b.errs[i] != nil {
				pending = fmt.Errorf("history line %d: %v", line, b.errs[i])
				continue
			}
			rec := &b.recs[i]
			switch rec.Kind {
			case KindInvoke:
				var inv *Record
				if n := len(spare); n > 0 {
					inv, spare = spare[n-1], spare[:n-1]
				} else {
					inv = &Record{} // only then: made first, it was made every time
				}
				*inv = *rec
				pendingWrites.add(inv)
				continue
			case KindOp:
				if err := validOp(rec); err != nil {
					pending = fmt.Errorf("history line %d: %v", line, err)
					continue
				}
				if inv := pendingWrites.take(rec.Client, rec.Invoke); inv != nil {
					spare = append(spare, inv)
				}
			case KindMeta, KindWatch, KindHistory, KindFinal, KindStored, KindReplica, KindFault, KindLeadership, KindEnd:
			default:
				pending = fmt.Errorf("history line %d: unknown kind %q", line, rec.Kind)
				continue
			}
			if err := visit(rec); err != nil {
				return 0, err
			}
		}
		if b.readErr != nil {
			return 0, fmt.Errorf("reading history: %w", b.readErr)
		}
		done(b)
	}
	if pending != nil {
		truncated = 1
	}
	for rec := range pendingWrites.all() {
		rec.Kind, rec.Outcome = KindOp, Unknown
		rec.ErrClass, rec.Error = ClassNoCompletion, "no completion recorded: the run was killed"
		if err := visit(rec); err != nil {
			return 0, err
		}
	}
	return truncated, nil
}

// batch is some consecutive lines of a history, parsed.
type batch struct {
	data    []byte
	ends    []int // line i is data[ends[i-1]:ends[i]]
	recs    []Record
	errs    []error
	empty   []bool
	readErr error         // reading stopped here with this error
	parsed  chan struct{} // closed once recs and errs are filled
}

const batchLines = 1024

// parseBatches reads r's lines into batches, parses them on every core and
// sends them on out in the file's order, each before it is parsed (wait on
// parsed). done hands a batch back once its records are visited, to be
// used again. stop ends it early; it returns once nothing reads r any
// more, so the caller may close r after it.
func parseBatches(r io.Reader) (out <-chan *batch, stop func(), done func(*batch)) {
	ordered := make(chan *batch, 2*runtime.GOMAXPROCS(0))
	work := make(chan *batch, 2*runtime.GOMAXPROCS(0))
	// free holds more batches than can be in flight (ordered's, one
	// visited, one filling): none is dropped, none is made after the first
	// few.
	free := make(chan *batch, 2*runtime.GOMAXPROCS(0)+2)
	fresh := func() *batch {
		select {
		case b := <-free:
			b.data, b.ends, b.readErr, b.parsed = b.data[:0], b.ends[:0], nil, make(chan struct{})
			return b
		default:
			return &batch{parsed: make(chan struct{})}
		}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // reader
		defer wg.Done()
		defer close(ordered)
		defer close(work)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		b := fresh()
		send := func() bool {
			// Stopped: no more reading, even when a send is ready too
			// (a select picks at random among ready cases).
			select {
			case <-quit:
				return false
			default:
			}
			select {
			case work <- b:
			case <-quit:
				return false
			}
			select {
			case ordered <- b:
			case <-quit:
				return false
			}
			b = fresh()
			return true
		}
		for sc.Scan() {
			b.data = append(b.data, sc.Bytes()...)
			b.ends = append(b.ends, len(b.data))
			if len(b.ends) == batchLines && !send() {
				return
			}
		}
		b.readErr = sc.Err()
		send()
	}()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() { // parsers
			defer wg.Done()
			for b := range work {
				b.parse()
			}
		}()
	}
	var once sync.Once
	done = func(b *batch) {
		select {
		case free <- b:
		default:
		}
	}
	return ordered, func() {
		once.Do(func() {
			close(quit)
			// Batches already handed to the parsers are parsed; the
			// reader stops at its next send.
			for range ordered {
			}
			wg.Wait()
		})
	}, done
}

func (b *batch) parse() {
	defer close(b.parsed)
	b.recs = reused(b.recs, len(b.ends))
	b.errs = reused(b.errs, len(b.ends))
	b.empty = reused(b.empty, len(b.ends))
	start := 0
	for i, end := range b.ends {
		line := b.data[start:end]
		start = end
		if len(line) == 0 {
			b.empty[i] = true
			continue
		}
		b.errs[i] = unmarshalRecord(line, &b.recs[i])
	}
}

// reused is l made n long and zero, in its own array when that is large
// enough.
func reused[T any](l []T, n int) []T {
	if cap(l) < n {
		return make([]T, n)
	}
	l = l[:n]
	clear(l)
	return l
}
