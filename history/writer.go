package history

import (
	"bufio"
	"fmt"
	"os"
	"sync"
	"time"
)

// Writer streams records to a JSONL file. It is safe for concurrent use.
// Lines are buffered and flushed every FlushEvery and on Close, so a crash
// loses at most the last interval, and a SIGKILL leaves at worst one partial
// last line, which Reader skips.
type Writer struct {
	mu     sync.Mutex
	f      *os.File
	buf    *bufio.Writer
	line   []byte // scratch for one encoded record, reused under mu
	err    error
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	closed bool
}

// FlushEvery is how often buffered lines reach the file.
const FlushEvery = 200 * time.Millisecond

// Create opens path for writing and starts the periodic flusher.
func Create(path string) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating history: %w", err)
	}
	buf := bufio.NewWriterSize(f, 256<<10)
	w := &Writer{f: f, buf: buf, stop: make(chan struct{}), done: make(chan struct{})}
	go w.flushLoop()
	return w, nil
}

func (w *Writer) flushLoop() {
	defer close(w.done)
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.Flush()
		}
	}
}

// Discard returns a Writer that drops every record: runs with recording
// off, to measure what recording costs.
func Discard() *Writer { return &Writer{closed: true} }

// Write appends one record. The first error sticks and is returned by Close.
func (w *Writer) Write(r *Record) {
	if w.f == nil {
		return // Discard: not even the lock
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.closed {
		return
	}
	w.line = appendRecord(w.line[:0], r)
	_, w.err = w.buf.Write(w.line)
}

// WriteAll appends records as one block: no other writer's line comes
// between them.
func (w *Writer) WriteAll(rs []Record) {
	if w.f == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range rs {
		if w.err != nil || w.closed {
			return
		}
		w.line = appendRecord(w.line[:0], &rs[i])
		_, w.err = w.buf.Write(w.line)
	}
}

// Flush pushes buffered lines to the file.
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil && !w.closed {
		w.err = w.buf.Flush()
	}
}

// Close flushes, syncs and closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.err
	}
	w.mu.Unlock()
	w.once.Do(func() { close(w.stop) })
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err == nil {
		w.err = w.buf.Flush()
	}
	if err := w.f.Sync(); err != nil && w.err == nil {
		w.err = err
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.err = err
	}
	return w.err
}
