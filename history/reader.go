package history

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"

	json "github.com/goccy/go-json"

	"github.com/klauspost/compress/zstd"
)

// History is a whole history file in memory, split by kind.
type History struct {
	Meta  *Meta
	Ops   []Record
	Watch []Record
	Final []Record
	// Replicas: each node's own answer for each key after the run.
	Replicas []Record
	Stored   []Record
	// Delivered: what the scenario's watchers received (watch records with
	// Watcher > 0); Watch holds the recording watcher's.
	Delivered []Delivery
	// KeyHistory: keys' History() after the run, in returned order (a
	// record without a revision: read, and empty).
	KeyHistory []Record
	Faults     []Fault
	// Leadership: the stretches in which the stream had a leader in
	// contact with a quorum (when Meta.ObservesLeadership).
	Leadership []Leadership
	End        *End
	// Truncated counts trailing lines that could not be parsed: the tail
	// of a file whose writer was killed mid-line.
	Truncated int
	// DamagedTail: a compressed history ended in a frame that could not be
	// decoded (a writer killed mid-frame), and why; what came before it
	// was read.
	DamagedTail string
}

// Records counts the per-key records h holds (not its meta line, end,
// faults or leadership).
func (h *History) Records() int {
	return len(h.Ops) + len(h.Watch) + len(h.Final) + len(h.Replicas) + len(h.Stored) + len(h.Delivered) + len(h.KeyHistory)
}

// ReadFile reads a history written by Writer, plain or compressed
// (recognised by its content, whatever its name).
func ReadFile(path string) (*History, error) {
	r, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h, err := Read(r)
	if h != nil {
		h.DamagedTail = r.damaged
	}
	return h, err
}

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// Reader is a history's JSONL, decompressed if the file is compressed.
// A compressed file that ends in a partial or damaged frame (a killed
// writer) reads up to the last frame it could decode, then ends; Damaged
// says why it ended early.
type Reader struct {
	r       io.Reader
	dec     *zstd.Decoder
	damaged string
	file    *counted // when OpenFile opened it
}

// counted is a file that counts the bytes read from it, for progress: read
// on the goroutine that reads ahead, asked on another.
type counted struct {
	*os.File
	size int64
	n    atomic.Int64
}

func (c *counted) Read(p []byte) (int, error) {
	n, err := c.File.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Consumed is how many bytes of the file OpenFile opened have been read
// (the decoder reads a little ahead of the records handed on), and its
// size; 0, 0 for a Reader over anything else.
func (r *Reader) Consumed() (read, size int64) {
	if r.file == nil {
		return 0, 0
	}
	return r.file.n.Load(), r.file.size
}

// Open recognises a compressed history by its first bytes.
func Open(f io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(f, 1<<20)
	head, _ := br.Peek(len(zstdMagic))
	if !bytes.Equal(head, zstdMagic) {
		return &Reader{r: br}, nil
	}
	dec, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	return &Reader{r: dec, dec: dec}, nil
}

func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.dec != nil {
		r.damaged = err.Error()
		return n, io.EOF
	}
	return n, err
}

// Damaged is why a compressed history ended before its end ("" if it did
// not): the tail a killed writer left half-written.
func (r *Reader) Damaged() string { return r.damaged }

// OpenFile opens the history at path, plain or compressed; Close closes
// the file too.
func OpenFile(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	c := &counted{File: f}
	if info, err := f.Stat(); err == nil {
		c.size = info.Size()
	}
	r, err := Open(c)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.file = c
	return r, nil
}

// Close releases the decoder and the file OpenFile opened.
func (r *Reader) Close() {
	if r.dec != nil {
		r.dec.Close()
	}
	if r.file != nil {
		r.file.Close()
	}
}

// Read parses JSONL records into a History held in memory. A bad line in
// the middle is an error naming the line; a bad last line is tolerated,
// because a killed writer leaves one.
func Read(r io.Reader) (*History, error) {
	h := &History{}
	c := collector{h: h, strs: map[string]string{}}
	truncated, err := Scan(r, func(rec *Record) error {
		c.cut.see(rec)
		c.add(rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.Truncated = truncated
	if h.Meta == nil {
		return nil, errNoMeta
	}
	if h.End == nil {
		h.End = c.cut.end(h.Meta)
	}
	return h, nil
}

// unmarshalRecord parses one line into r, a zero Record. Reading is most
// of checking a long history: the lines appendRecord writes by hand are
// read by hand (decodeFlat); the rest — and anything decodeFlat is unsure
// of — by go-json, which decodes about twice as fast as encoding/json
// (TestAppendRecordRoundTrips and FuzzDecodeFlat hold all three to the
// same result).
func unmarshalRecord(line []byte, r *Record) error {
	if decodeFlat(line, r) {
		return nil
	}
	*r = Record{} // what decodeFlat set before it gave up
	return json.Unmarshal(line, r)
}

// ParseLine parses one line of a history (a worker's, read back by its
// coordinator) into r, a zero Record.
func ParseLine(line []byte, r *Record) error { return unmarshalRecord(line, r) }

var errNoMeta = fmt.Errorf("history has no meta line: not a kvharness history")

// shelf is which of a History's lists a record goes to.
type shelf int

const (
	shelfNone shelf = iota // meta, end, fault: not per key
	shelfOps
	shelfWatch
	shelfDelivered
	shelfKeyHistory
	shelfFinal
	shelfStored
	shelfReplicas
	shelves
)

func shelfOf(rec *Record) shelf {
	switch rec.Kind {
	case KindOp:
		return shelfOps
	case KindWatch:
		if rec.Watcher > 0 {
			return shelfDelivered
		}
		return shelfWatch
	case KindHistory:
		return shelfKeyHistory
	case KindFinal:
		return shelfFinal
	case KindStored:
		return shelfStored
	case KindReplica:
		return shelfReplicas
	}
	return shelfNone
}

// list is h's list of records on shelf s; nil for shelfNone and
// shelfDelivered, which hold no records.
func (h *History) list(s shelf) *[]Record {
	switch s {
	case shelfOps:
		return &h.Ops
	case shelfWatch:
		return &h.Watch
	case shelfKeyHistory:
		return &h.KeyHistory
	case shelfFinal:
		return &h.Final
	case shelfStored:
		return &h.Stored
	case shelfReplicas:
		return &h.Replicas
	}
	return nil
}

// shelfCounts counts records per shelf, so lists read back from a spill
// are made at their size once: growing a slice of a million records by
// appending copies it again and again, and the copy of a large slice
// holding pointers cannot be preempted, stalling the collector (it was
// half the time of checking a 2-minute run).
type shelfCounts [shelves]int

// total is how many records there are on all shelves.
func (n shelfCounts) total() int {
	t := 0
	for _, c := range n {
		t += c
	}
	return t
}

// Append files one per-key record (an op, a delivery, a read after the
// run) into h's list for its kind; other records are not h's to take.
func (h *History) Append(rec *Record) {
	switch s := shelfOf(rec); s {
	case shelfNone:
	case shelfDelivered:
		h.Delivered = append(h.Delivered, DeliveryOf(*rec))
	default:
		l := h.list(s)
		*l = append(*l, *rec)
	}
}

// collector files records into a History by kind.
type collector struct {
	h    *History
	strs map[string]string // interned keys and values of deliveries
	cut  cutEnd            // what the end of a history without one can claim
}

// reserve makes room in c's lists for n more records.
func (c *collector) reserve(n shelfCounts) {
	for s := range shelves {
		if l := c.h.list(s); l != nil {
			if *l == nil && (s == shelfOps || s == shelfWatch) { // the lists Recycle gives back
				*l = NewRecords(n[s])
			} else {
				*l = slices.Grow(*l, n[s])
			}
		}
	}
	c.h.Delivered = slices.Grow(c.h.Delivered, n[shelfDelivered])
}

func (c *collector) intern(s string) string {
	if v, ok := c.strs[s]; ok {
		return v
	}
	c.strs[s] = s
	return s
}

func (c *collector) add(rec *Record) {
	h := c.h
	switch s := shelfOf(rec); s {
	case shelfDelivered:
		// Each watcher names the same keys and values: one copy.
		d := DeliveryOf(*rec)
		d.Key, d.Read = c.intern(d.Key), c.intern(d.Read)
		h.Delivered = append(h.Delivered, d)
	case shelfNone:
		switch rec.Kind {
		case KindMeta:
			h.Meta = rec.Meta
		case KindFault:
			if rec.Fault != nil {
				h.Faults = append(h.Faults, *rec.Fault)
			}
		case KindLeadership:
			if rec.Leadership != nil {
				h.Leadership = append(h.Leadership, *rec.Leadership)
			}
		case KindEnd:
			h.End = rec.End
		}
	default:
		h.Append(rec)
	}
}

// validOp rejects op records the checker cannot reason about, so a damaged
// or hand-edited history is one clear error rather than a failure deep in
// the checker.
func validOp(r *Record) error {
	known := false
	for _, op := range Ops {
		known = known || r.Op == op
	}
	switch {
	case !known:
		return fmt.Errorf("unknown op %q", r.Op)
	case r.Key == "":
		return fmt.Errorf("%s without a key", r.Op)
	case r.Outcome != OK && r.Outcome != Fail && r.Outcome != Unknown:
		return fmt.Errorf("unknown outcome %q", r.Outcome)
	case r.Outcome != Unknown && r.Complete < r.Invoke:
		return fmt.Errorf("%s completes (%d) before it is invoked (%d)", r.Op, r.Complete, r.Invoke)
	case IsWrite(r.Op) && r.Op != OpDelete && r.Op != OpPurge && r.Value == "":
		return fmt.Errorf("%s without a value", r.Op)
	}
	return nil
}
