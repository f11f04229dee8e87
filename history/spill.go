package history

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Spilled is a history too large to hold in memory, read once and cut by
// key into bucket files in a folder of its own: the run's meta
// line, end and faults stay in memory, every per-key record goes to its
// key's bucket. Groups of buckets are then read back one at a time.
type Spilled struct {
	// Whole holds the meta line, end, faults and how the file ended; no
	// per-key record.
	Whole   *History
	dir     string
	buckets int
	shelves []shelfCounts // per bucket: its records, by shelf
	groups  [][]int
	// keyIndex: the meta line's keys, numbered. They take the buckets in
	// turn — a hash would put two of 64 keys in one bucket now and then,
	// and a group can be no smaller than a bucket; other keys are hashed.
	keyIndex map[string]int
	routed   bool // a per-key record was routed: the buckets are fixed
}

// bucketOf is the bucket of key's records.
func (s *Spilled) bucketOf(key string) int {
	if i, ok := s.keyIndex[key]; ok {
		return i % s.buckets
	}
	return GroupOf(key, s.buckets)
}

// SpillOptions say how a history is cut.
type SpillOptions struct {
	Buckets int // how many bucket files the keys are cut into
	// Visit, if set, sees every record as the file is read (an invoke
	// never completed as an unknown op, see Scan).
	Visit func(*Record)
	// Keep, if set, says which per-key records go to the buckets; the
	// others are only visited.
	Keep func(*Record) bool
	// Progress, if set, is told now and then how many bytes of the file
	// have been read, and its size.
	Progress func(read, size int64)
}

// spillProgressEvery: records between two calls of SpillOptions.Progress.
const spillProgressEvery = 1 << 15

// Spill reads the history at path once and writes each per-key record to
// one of o.Buckets files in a temporary folder of its own (in TMPDIR),
// which Remove removes. It stops with ctx's error once ctx is done, its
// folder removed.
func Spill(ctx context.Context, path string, o SpillOptions) (_ *Spilled, err error) {
	r, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	dir, err := os.MkdirTemp("", "kvharness-spill-")
	if err != nil {
		return nil, err
	}
	s := &Spilled{Whole: &History{}, dir: dir, buckets: o.Buckets, shelves: make([]shelfCounts, o.Buckets)}
	defer func() {
		if err != nil {
			s.Remove()
		}
	}()
	buckets := o.Buckets
	files := make([]*os.File, buckets)
	writers := make([]*bufio.Writer, buckets)
	closeAll := func() error {
		var first error
		for i, f := range files {
			if f == nil {
				continue
			}
			if err := writers[i].Flush(); err != nil && first == nil {
				first = err
			}
			if err := f.Close(); err != nil && first == nil {
				first = err
			}
			files[i] = nil
		}
		return first
	}
	defer closeAll()
	for i := range files {
		if files[i], err = os.Create(s.bucketPath(i)); err != nil {
			return nil, err
		}
		writers[i] = bufio.NewWriterSize(files[i], 64<<10)
	}
	encoders := make([]spillWriter, buckets)
	whole := collector{h: s.Whole}
	var scratch, size []byte
	n := 0
	truncated, err := Scan(r, func(rec *Record) error {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if o.Progress != nil && n%spillProgressEvery == 0 {
			o.Progress(r.Consumed())
		}
		if o.Visit != nil {
			o.Visit(rec)
		}
		whole.cut.see(rec)
		shelf := shelfOf(rec)
		if shelf == shelfNone { // meta, fault, end
			if rec.Kind == KindMeta && !s.routed && rec.Meta != nil {
				s.keyIndex = map[string]int{}
				for i, k := range rec.Meta.Keys {
					s.keyIndex[k] = i
				}
			}
			whole.add(rec)
			return nil
		}
		s.routed = true
		if o.Keep != nil && !o.Keep(rec) {
			return nil
		}
		b := s.bucketOf(rec.Key)
		s.shelves[b][shelf]++
		scratch = encoders[b].appendSpill(scratch[:0], rec)
		size = binary.AppendUvarint(size[:0], uint64(len(scratch)))
		w := writers[b]
		w.Write(size)
		_, err := w.Write(scratch)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := closeAll(); err != nil {
		return nil, fmt.Errorf("spilling the history: %w", err)
	}
	s.Whole.Truncated, s.Whole.DamagedTail = truncated, r.Damaged()
	if s.Whole.Meta == nil {
		return nil, errNoMeta
	}
	if s.Whole.End == nil {
		s.Whole.End = whole.cut.end(s.Whole.Meta)
	}
	return s, nil
}

// Remove removes the bucket files.
func (s *Spilled) Remove() error { return os.RemoveAll(s.dir) }

func (s *Spilled) bucketPath(i int) string {
	return filepath.Join(s.dir, fmt.Sprintf("bucket-%04d", i))
}

// Plan groups the buckets, in order, into groups of at most maxRecords
// records (a bucket larger than that is a group of its own), and returns
// how many groups.
func (s *Spilled) Plan(maxRecords int) int {
	s.groups = nil
	var cur []int
	size := 0
	for b, counts := range s.shelves {
		n := counts.total()
		if len(cur) > 0 && size+n > maxRecords {
			s.groups = append(s.groups, cur)
			cur, size = nil, 0
		}
		cur = append(cur, b)
		size += n
	}
	if len(cur) > 0 {
		s.groups = append(s.groups, cur)
	}
	return len(s.groups)
}

// Each reads the groups back one at a time and hands each to yield, with
// the whole run's meta line (keys narrowed to the group's), end and faults.
func (s *Spilled) Each(yield func(*History) error) error {
	for _, g := range s.Groups() {
		h, err := g.Read()
		if err != nil {
			return err
		}
		if err := yield(h); err != nil {
			return err
		}
	}
	return nil
}

// SpilledGroup is one group of keys of a Spilled history (see Plan), not
// yet read back: read whole, or streamed a record at a time (a key too
// large to hold is checked a stretch of time at a time).
type SpilledGroup struct {
	s       *Spilled
	buckets []int
	// Records: how many per-key records the group holds; Ops how many of
	// them are operations.
	Records, Ops int
}

// Groups are the groups of keys Plan made (every bucket in one group if
// Plan was not called).
func (s *Spilled) Groups() []SpilledGroup {
	if s.groups == nil {
		s.Plan(int(^uint(0) >> 1))
	}
	out := make([]SpilledGroup, len(s.groups))
	for i, buckets := range s.groups {
		out[i] = SpilledGroup{s: s, buckets: buckets}
		for _, b := range buckets {
			out[i].Records += s.shelves[b].total()
			out[i].Ops += s.shelves[b][shelfOps]
		}
	}
	return out
}

// Empty is the group with no per-key record yet: the whole run's meta line
// (keys narrowed to the group's), end and faults.
func (g SpilledGroup) Empty() *History {
	in := map[int]bool{}
	for _, b := range g.buckets {
		in[b] = true
	}
	return g.s.Whole.EmptyGroup(func(key string) bool { return in[g.s.bucketOf(key)] })
}

// Read reads the whole group back.
func (g SpilledGroup) Read() (*History, error) {
	h := g.Empty()
	c := collector{h: h, strs: map[string]string{}}
	var size shelfCounts
	for _, b := range g.buckets {
		for i, n := range g.s.shelves[b] {
			size[i] += n
		}
	}
	c.reserve(size)
	for _, b := range g.buckets {
		err := g.s.readBucket(b, func(r *Record) error {
			c.add(r)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading back the history cut by key: %w", err)
		}
	}
	return h, nil
}

// Stream hands yield each of the group's records in the order the history
// held them, and stops at yield's first error. The records are decoded a
// batch ahead on another goroutine, so that decoding overlaps what yield
// does; the Record yield gets lives until the next call (yield copies what
// it keeps).
func (g SpilledGroup) Stream(yield func(*Record) error) error {
	return g.s.readAhead(g.buckets, false, yield)
}

// StreamWithoutValues is Stream with the values written and read (Value
// and Read) of op and watch records left empty: they are most of what
// decoding allocates, and planning a long key's spans needs neither.
func (g SpilledGroup) StreamWithoutValues(yield func(*Record) error) error {
	return g.s.readAhead(g.buckets, true, yield)
}

// readBucket hands add each record of bucket b, in one Record reused, and
// stops at add's first error.
func (s *Spilled) readBucket(b int, add func(*Record) error) error {
	var rec Record
	return s.decodeBucket(b, false, func() *Record { return &rec }, add)
}

// decodeBucket decodes each record of bucket b into the Record into
// returns (without the values of op and watch records if noValues, see
// StreamWithoutValues), then hands it to add; it stops at add's first
// error.
func (s *Spilled) decodeBucket(b int, noValues bool, into func() *Record, add func(*Record) error) error {
	f, err := os.Open(s.bucketPath(b))
	if err != nil {
		return err
	}
	defer f.Close()
	r := newSpillReader(f)
	r.noValues = noValues
	defer r.close()
	for {
		rec := into()
		switch err := r.next(rec); err {
		case nil:
			if err := add(rec); err != nil {
				return err
			}
		case io.EOF:
			return nil
		default:
			return err
		}
	}
}
