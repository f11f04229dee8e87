package history

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strings"
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

// A refused write's error text names the key's revision ("… wrong last
// sequence: 39630: nats: key revision mismatch"): a hundred bytes, in a
// fifth of an hour's records, which made half the spill files, written
// once and read back once per pass over a key. The next refusal's differs
// from it in a few bytes, so an error text is written as what it adds to
// the file's last one: how much of that it begins and ends with, and what
// it has between (or whole, when it shares little with it).
//
// The other strings of a small vocabulary (ops, keys, outcomes, error
// classes, read paths, markers, nodes: every string field but the values
// and the error text) are written as a reference to one of the last words
// the same field of the file held, when it is one of them: a byte instead
// of the word, and the reader hands out the string it holds instead of
// comparing or looking it up.
//
// spillWriter writes one spill file: it keeps the last error text and
// each field's last words, as the file's reader does.
type spillWriter struct {
	lastError string
	words     [fieldExpectRev]wordRing
}

// minSpillShared: an error text is written as what it adds to the last
// one if it shares this much with it, else whole.
const minSpillShared = 16

// appendSpill appends r (a per-key record) to b, the file's next.
func (w *spillWriter) appendSpill(b []byte, r *Record) []byte {
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
	for f, s := range strs {
		switch {
		case s == "":
		case f == fieldError:
			b = w.appendError(b, s)
		case f == fieldValue || f == fieldRead:
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		default:
			b = w.words[f].append(b, s)
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

// appendError appends error text e: odd, how much of the last it begins
// and ends with, then what it has between; even, its length, then itself.
func (w *spillWriter) appendError(b []byte, e string) []byte {
	last := w.lastError
	w.lastError = e
	front := commonPrefix(last, e)
	back := commonSuffix(last[front:], e[front:])
	if front+back < minSpillShared {
		b = binary.AppendUvarint(b, uint64(len(e))<<1)
		return append(b, e...)
	}
	b = binary.AppendUvarint(b, uint64(front)<<1|1)
	b = binary.AppendUvarint(b, uint64(back))
	b = binary.AppendUvarint(b, uint64(len(e)-front-back))
	return append(b, e[front:len(e)-back]...)
}

// wordRing is the last words one field of a spill file held, in the
// order they came (the oldest forgotten): the writer's and the reader's
// change alike, record by record, so that a reference names the same word
// on both sides.
type wordRing struct {
	words [8]string
	next  uint8 // the slot the next new word takes
}

// append appends word s: odd, its slot; even, its length, then itself.
func (r *wordRing) append(b []byte, s string) []byte {
	for i, w := range r.words {
		if w == s {
			return binary.AppendUvarint(b, uint64(i)<<1|1)
		}
	}
	r.add(s)
	b = binary.AppendUvarint(b, uint64(len(s))<<1)
	return append(b, s...)
}

// add puts s in the next slot.
func (r *wordRing) add(s string) {
	r.words[r.next] = s
	r.next = (r.next + 1) % uint8(len(r.words))
}

// commonPrefix is how many bytes a and b begin with alike.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i+8 <= n && a[i:i+8] == b[i:i+8] {
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// commonSuffix is how many bytes a and b end with alike.
func commonSuffix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[len(a)-1-i] == b[len(b)-1-i] {
		i++
	}
	return i
}

// spillReader reads records a spillWriter wrote, sharing one copy of each
// string of a small vocabulary (ops, outcomes, keys, error texts).
type spillReader struct {
	r     *bufio.Reader
	buf   []byte
	words map[string]string
	// recent: each field's last words, as the writer kept them (see
	// wordRing).
	recent [fieldExpectRev]wordRing
	// lastError: the last error text read, which the next may be written
	// as an addition to (see spillWriter).
	lastError string
	// noValues: the values of op and watch records are skipped, not read
	// (see SpilledGroup.StreamWithoutValues); skipValues: the record in
	// hand is one of those.
	noValues, skipValues bool
}

// maxSpillWords bounds the words a spill reader shares (a field's words
// not among its recent, and short error texts): an error text may name a
// revision ("wrong last sequence: 8"), so a bucket of refused writes holds
// as many distinct ones, and a map of them all, growing, was a third of
// reading an hour's spill back. The few words that repeat are met early.
const maxSpillWords = 1 << 10

// maxSpillWord: a longer error text is not looked for in the map: it names
// a revision, and is shared with the last one only.
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
	s.skipValues = s.noValues && (r.Kind == KindOp || r.Kind == KindWatch)
	for m := mask & (1<<fieldExpectRev - 1); m != 0; m &= m - 1 {
		f := bits.TrailingZeros32(m)
		var w string
		var ok bool
		if w, b, ok = s.str(f, b); !ok {
			return errSpillDamaged
		}
		switch f {
		case fieldOp:
			r.Op = w
		case fieldKey:
			r.Key = w
		case fieldValue:
			r.Value = w
		case fieldOutcome:
			r.Outcome = Outcome(w)
		case fieldRead:
			r.Read = w
		case fieldMarker:
			r.Marker = w
		case fieldError:
			r.Error = w
		case fieldErrClass:
			r.ErrClass = w
		case fieldPath:
			r.Path = w
		case fieldNode:
			r.Node = w
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

// str reads string field f from the front of b and returns the rest;
// false if b does not hold it.
func (s *spillReader) str(f int, b []byte) (string, []byte, bool) {
	l, k := uvarint(b)
	if k <= 0 {
		return "", nil, false
	}
	b = b[k:]
	switch f {
	case fieldError:
		return s.errorText(l, b)
	case fieldValue, fieldRead: // seldom repeated: not looked up
		raw, rest, ok := split(b, l)
		if s.skipValues {
			return "", rest, ok
		}
		return string(raw), rest, ok
	}
	recent := &s.recent[f]
	if l&1 == 1 { // a reference to a recent word
		if l >>= 1; l >= uint64(len(recent.words)) || recent.words[l] == "" {
			return "", nil, false
		}
		return recent.words[l], b, true
	}
	raw, rest, ok := split(b, l>>1)
	if !ok {
		return "", nil, false
	}
	w := s.word(raw)
	recent.add(w)
	return w, rest, true
}

// split is the first l bytes of b and the rest; false if b is shorter.
func split(b []byte, l uint64) (head, rest []byte, ok bool) {
	if uint64(len(b)) < l {
		return nil, nil, false
	}
	return b[:l], b[l:], true
}

// errorText reads an error text (see spillWriter.appendError) from b,
// after its first varint l; it is shared with the last one when it is
// that one again.
func (s *spillReader) errorText(l uint64, b []byte) (string, []byte, bool) {
	if l&1 == 0 { // itself
		raw, rest, ok := split(b, l>>1)
		switch {
		case !ok:
			return "", nil, false
		case len(raw) <= maxSpillWord: // a word ("nats: timeout")
			s.lastError = s.word(raw)
		case string(raw) != s.lastError:
			s.lastError = string(raw)
		}
		return s.lastError, rest, true
	}
	last := s.lastError
	front := l >> 1
	back, k := uvarint(b)
	if k <= 0 {
		return "", nil, false
	}
	b = b[k:]
	between, k := uvarint(b)
	if k <= 0 || front > uint64(len(last)) || back > uint64(len(last))-front {
		return "", nil, false
	}
	mid, rest, ok := split(b[k:], between)
	if !ok {
		return "", nil, false
	}
	if len(mid) > 0 || int(front+back) < len(last) {
		var e strings.Builder // one allocation, no copy to a string
		e.Grow(int(front) + len(mid) + int(back))
		e.WriteString(last[:front])
		e.Write(mid)
		e.WriteString(last[uint64(len(last))-back:])
		s.lastError = e.String()
	}
	return s.lastError, rest, true
}

// word is the shared copy of raw.
func (s *spillReader) word(raw []byte) string {
	w, ok := s.words[string(raw)]
	if !ok {
		w = string(raw)
		if len(s.words) < maxSpillWords {
			s.words[w] = w
		}
	}
	return w
}
