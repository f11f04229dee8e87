package history

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sync"
)

// The spill files hold per-key records in a compact binary form: the file
// was parsed once as JSON already, and reading a group back is then a
// matter of varints and strings, several times faster than JSON. It is a
// private format of one check, never kept: no versioning.

const (
	spillFound = 1 << iota
	spillHasExpect
)

var spillKinds = []Kind{KindOp, KindWatch, KindFinal, KindStored, KindReplica, KindHistory}

// A spilled record is its kind, its flags, a mask of the fields it holds
// (three bytes, a bit per field in the order below), then those fields
// alone: most fields of most records are empty, and a field not there
// costs neither a byte nor a call to read back. Invoke and complete are
// written as differences within the record (from intended, from invoke): a
// few bytes each instead of six.
const (
	fieldOp = iota
	fieldKey
	fieldValue
	fieldOutcome
	fieldRead
	fieldMarker
	fieldError
	fieldErrClass
	fieldPath
	fieldNode
	fieldExpectRev
	fieldRev
	fieldClient
	fieldIntended
	fieldInvoke
	fieldComplete
	fieldTTL
	fieldCount
	fieldWatcher
	fieldAt
	spillFields
)

// appendSpill appends r (a per-key record) to b.
func appendSpill(b []byte, r *Record) []byte {
	kind := slices.Index(spillKinds, r.Kind)
	if kind < 0 {
		panic(fmt.Sprintf("spill: a %q record has no key to be cut by", r.Kind)) // Spill routes only per-key records here
	}
	var flags byte
	if r.Found {
		flags |= spillFound
	}
	if r.HasExpect {
		flags |= spillHasExpect
	}
	strs := [...]string{r.Op, r.Key, r.Value, string(r.Outcome), r.Read, r.Marker, r.Error, r.ErrClass, r.Path, r.Node}
	ints := [...]int64{int64(r.ExpectRev), int64(r.Rev), int64(r.Client), r.Intended, r.Invoke - r.Intended, r.Complete - r.Invoke, r.TTL, r.Count, int64(r.Watcher), r.At}
	var mask uint32
	for i, s := range strs {
		if s != "" {
			mask |= 1 << i
		}
	}
	for i, v := range ints {
		if v != 0 {
			mask |= 1 << (fieldExpectRev + i)
		}
	}
	b = append(b, byte(kind), flags, byte(mask), byte(mask>>8), byte(mask>>16))
	for _, s := range strs {
		if s != "" {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	for i, v := range ints {
		switch {
		case v == 0:
		case i < 2: // revisions
			b = binary.AppendUvarint(b, uint64(v))
		default:
			b = binary.AppendVarint(b, v)
		}
	}
	return b
}

// spillReader reads records appendSpill wrote, sharing one copy of each
// string of a small vocabulary (ops, outcomes, keys, error texts).
type spillReader struct {
	r     *bufio.Reader
	buf   []byte
	words map[string]string
	// recent: each field's last few words, which the next record of a
	// bucket most often repeats (its key; one of a handful of ops and
	// outcomes): a few comparisons instead of a map lookup, which was a
	// fifth of reading a spill back.
	recent [fieldExpectRev]recentWords // by field; Value and Read are not words
	long   [fieldExpectRev]string      // by field: the last long word (see word)
}

// maxSpillWords bounds the words a spill reader shares: an error text
// names a revision ("wrong last sequence: 8"), so a bucket of refused
// writes holds as many distinct ones, and a map of them all, growing, was
// a third of reading an hour's spill back. The few words that repeat are
// met early, or found among the recent.
const maxSpillWords = 1 << 10

// maxSpillWord: a longer string is compared with the field's last long
// one only, neither with its recent words nor in the map. The long ones are
// error texts: compared with the recent ones over a long common prefix, one
// naming a revision ("wrong last sequence: 8") missed them all; one that
// does not ("wrong last sequence: nats: key revision mismatch", newer
// servers) is the last long one.
const maxSpillWord = 40

// uvarint is binary.Uvarint, one byte read inline: most lengths and
// revisions of a record.
func uvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return binary.Uvarint(b)
}

// varint is binary.Varint, one byte read inline.
func varint(b []byte) (int64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		u := b[0]
		return int64(u>>1) ^ -int64(u&1), 1
	}
	return binary.Varint(b)
}

// recentWords are the last words one field read, newest first.
type recentWords [8]string

// find is the copy of raw held, if raw is one of w.
func (w *recentWords) find(raw []byte) (string, bool) {
	for _, s := range w {
		if s == string(raw) {
			return s, true
		}
	}
	return "", false
}

// add makes s the newest word, forgetting the oldest.
func (w *recentWords) add(s string) {
	copy(w[1:], w[:len(w)-1])
	w[0] = s
}

// spillBuffers are the readers' buffers, kept from one file to the next: a
// bucket is read back once per pass over it, and a fresh megabyte zeroed
// for each was a twentieth of reading a spill back.
var spillBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 1<<20) }}

func newSpillReader(r io.Reader) *spillReader {
	br := spillBuffers.Get().(*bufio.Reader)
	br.Reset(r)
	return &spillReader{r: br, words: map[string]string{}}
}

// close hands the reader's buffer on to the next; s is not used after.
func (s *spillReader) close() {
	s.r.Reset(nil)
	spillBuffers.Put(s.r)
	s.r = nil
}

var errSpillDamaged = errors.New("damaged spill record")

// maxSpillRecord: a longer length can only be a damaged one (a record is
// one line of the history, which the reader takes up to 64 MB).
const maxSpillRecord = 1 << 30

// next reads one record into r; io.EOF after the last.
func (s *spillReader) next(r *Record) error {
	n, err := binary.ReadUvarint(s.r)
	if err != nil {
		return err
	}
	if n > maxSpillRecord {
		return fmt.Errorf("%w: %d bytes long", errSpillDamaged, n)
	}
	if cap(s.buf) < int(n) && int(n) > s.r.Size() {
		s.buf = make([]byte, n)
	}
	// Decoded where the reader holds it (every string is copied out, and
	// the reader moves past it once it is decoded), or copied first when
	// the record is larger than the reader's buffer.
	b, err := s.r.Peek(int(n))
	switch {
	case err == nil:
		defer s.r.Discard(int(n))
	case err == bufio.ErrBufferFull:
		b = s.buf[:n]
		if _, err := io.ReadFull(s.r, b); err != nil {
			return fmt.Errorf("%w: %v", errSpillDamaged, err)
		}
	default:
		return fmt.Errorf("%w: %v", errSpillDamaged, err)
	}
	if len(b) < 5 || int(b[0]) >= len(spillKinds) {
		return errSpillDamaged
	}
	mask := uint32(b[2]) | uint32(b[3])<<8 | uint32(b[4])<<16
	if mask>>spillFields != 0 {
		return errSpillDamaged
	}
	*r = Record{Kind: spillKinds[b[0]], Found: b[1]&spillFound != 0, HasExpect: b[1]&spillHasExpect != 0}
	b = b[5:]
	for m := mask & (1<<fieldExpectRev - 1); m != 0; m &= m - 1 {
		f := bits.TrailingZeros32(m)
		l, k := uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return errSpillDamaged
		}
		raw := b[k : k+int(l)]
		b = b[k+int(l):]
		switch f {
		case fieldOp:
			r.Op = s.word(f, raw)
		case fieldKey:
			r.Key = s.word(f, raw)
		case fieldValue:
			r.Value = string(raw)
		case fieldOutcome:
			r.Outcome = Outcome(s.word(f, raw))
		case fieldRead:
			r.Read = string(raw)
		case fieldMarker:
			r.Marker = s.word(f, raw)
		case fieldError:
			r.Error = s.word(f, raw)
		case fieldErrClass:
			r.ErrClass = s.word(f, raw)
		case fieldPath:
			r.Path = s.word(f, raw)
		case fieldNode:
			r.Node = s.word(f, raw)
		}
	}
	var ints [spillFields - fieldExpectRev]int64
	for m := mask >> fieldExpectRev; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		var k int
		if i+fieldExpectRev <= fieldRev {
			var v uint64
			v, k = uvarint(b)
			ints[i] = int64(v)
		} else {
			ints[i], k = varint(b)
		}
		if k <= 0 {
			return errSpillDamaged
		}
		b = b[k:]
	}
	r.ExpectRev, r.Rev, r.Client = uint64(ints[fieldExpectRev-fieldExpectRev]), uint64(ints[fieldRev-fieldExpectRev]), int(ints[fieldClient-fieldExpectRev])
	r.Intended = ints[fieldIntended-fieldExpectRev]
	r.Invoke = r.Intended + ints[fieldInvoke-fieldExpectRev]
	r.Complete = r.Invoke + ints[fieldComplete-fieldExpectRev]
	r.TTL, r.Count = ints[fieldTTL-fieldExpectRev], ints[fieldCount-fieldExpectRev]
	r.Watcher, r.At = int(ints[fieldWatcher-fieldExpectRev]), ints[fieldAt-fieldExpectRev]
	return nil
}

// word is the shared copy of raw, a string of field f: looked for first
// among the words read at the same place before.
func (s *spillReader) word(f int, raw []byte) string {
	recent := &s.recent[f]
	if len(raw) > maxSpillWord {
		// A long word: shared only with the field's last long one. Most
		// name a revision, which a few refusals in a row repeat at most:
		// looked up in the map, they missed it (full of the first ones)
		// and only cost a hash of a hundred bytes.
		if string(raw) == s.long[f] {
			return s.long[f]
		}
		s.long[f] = string(raw)
		return s.long[f]
	}
	if w, ok := recent.find(raw); ok {
		return w
	}
	w, ok := s.words[string(raw)]
	if !ok {
		w = string(raw)
		if len(s.words) < maxSpillWords {
			s.words[w] = w
		}
	}
	recent.add(w)
	return w
}
