package history

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Writer streams records to a history file. It is safe for concurrent use.
// Lines collect in memory and reach the file every FlushEvery and on
// Close, so a crash loses at most the last interval, in order: what the
// file holds is always a prefix of what was written. Writers never wait
// for the disk or the compressor: the flusher swaps the pending lines out
// under the lock and writes them outside it.
//
// A path ending in ".zst" is written compressed: each flush is one
// independent zstd frame, so a run killed at any moment leaves complete
// frames and at worst one partial last frame, which the reader drops (and
// counts). Other paths are plain JSONL, where a SIGKILL leaves at worst
// one partial last line.
type Writer struct {
	mu      sync.Mutex
	pending []byte // encoded lines not yet handed to the flusher
	spare   []byte // the other buffer, reused
	line    []byte // scratch for one encoded record, reused under mu
	err     error
	closed  bool

	flushMu sync.Mutex // one flush at a time, in order
	f       Sink
	zenc    *zstd.Encoder // nil: plain
	frame   []byte        // scratch for one compressed frame

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// FlushEvery is how often buffered lines reach the file.
const FlushEvery = 200 * time.Millisecond

// Compressed reports whether path names a compressed history.
func Compressed(path string) bool { return strings.HasSuffix(path, ".zst") }

// Sink is where a Writer's lines go: a file, or a worker's stream to its
// coordinator. Each Write is one flush: a whole number of lines, or one
// whole zstd frame.
type Sink interface {
	io.Writer
	Sync() error
	Close() error
}

// Create opens path for writing and starts the periodic flusher.
func Create(path string) (*Writer, error) {
	// Owner-only: the history holds every value the run wrote and read.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating history: %w", err)
	}
	w, err := NewWriter(f, Compressed(path))
	if err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// NewWriter streams records to s, each flush compressed as one zstd frame
// if compressed, and starts the periodic flusher.
func NewWriter(s Sink, compressed bool) (*Writer, error) {
	w := &Writer{f: s, stop: make(chan struct{}), done: make(chan struct{})}
	if compressed {
		// The fastest level: a load generator's CPU belongs to its clients.
		var err error
		w.zenc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("creating history: %w", err)
		}
	}
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
	w.pending = append(w.pending, w.line...)
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
		w.pending = append(w.pending, w.line...)
	}
}

// Flush hands the lines written so far to the file (one frame when
// compressed).
func (w *Writer) Flush() {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	if w.err != nil || w.closed || len(w.pending) == 0 {
		w.mu.Unlock()
		return
	}
	out := w.pending
	w.pending, w.spare = w.spare[:0], nil
	w.mu.Unlock()

	err := w.writeOut(out)
	w.mu.Lock()
	w.spare = out[:0]
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// writeOut writes lines to the file, compressed as one frame or plain.
// Only the flusher (under flushMu) calls it.
func (w *Writer) writeOut(lines []byte) error {
	data := lines
	if w.zenc != nil {
		w.frame = w.zenc.EncodeAll(lines, w.frame[:0])
		data = w.frame
	}
	_, err := w.f.Write(data)
	return err
}

// Close writes what is pending, syncs and closes the file. Records written
// after Close are dropped.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.err
	}
	w.mu.Unlock()
	w.once.Do(func() { close(w.stop) })
	<-w.done
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.err
	}
	w.closed = true
	out, err := w.pending, w.err
	w.pending = nil
	w.mu.Unlock()
	if err == nil && len(out) > 0 {
		err = w.writeOut(out)
	}
	if e := w.f.Sync(); e != nil && err == nil {
		err = e
	}
	if e := w.f.Close(); e != nil && err == nil {
		err = e
	}
	if w.zenc != nil {
		_ = w.zenc.Close()
	}
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
	return err
}

// File names of a run's history in its results folder: plain JSONL, or
// compressed (zstd frames).
const (
	FileName           = "history.jsonl"
	CompressedFileName = "history.jsonl.zst"
)

// FindIn returns the history file of a results folder, plain or
// compressed.
func FindIn(dir string) (string, error) {
	for _, name := range []string{FileName, CompressedFileName} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s holds no %s or %s: not a results folder", dir, FileName, CompressedFileName)
}
