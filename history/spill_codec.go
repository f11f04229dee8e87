package history

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
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
	b = append(b, byte(kind), flags)
	for _, s := range []string{r.Op, r.Key, r.Value, string(r.Outcome), r.Read, r.Marker, r.Error, r.ErrClass, r.Path, r.Node} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, r.ExpectRev)
	b = binary.AppendUvarint(b, r.Rev)
	for _, v := range []int64{int64(r.Client), r.Intended, r.Invoke, r.Complete, r.TTL, r.Count, int64(r.Watcher), r.At} {
		b = binary.AppendVarint(b, v)
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
	recent [spillWordFields]recentWords
}

// maxSpillWords bounds the words a spill reader shares: an error text
// names a revision ("wrong last sequence: 8"), so a bucket of refused
// writes holds as many distinct ones, and a map of them all, growing, was
// a third of reading an hour's spill back. The few words that repeat are
// met early, or found among the recent.
const maxSpillWords = 1 << 10

// maxSpillWord: a longer string is looked for in the map only, not among
// the field's recent words. The long ones are error texts: compared with
// the recent ones over a long common prefix, one naming a revision ("wrong
// last sequence: 8") missed them all; one that does not ("wrong last
// sequence: nats: key revision mismatch", newer servers) is in the map.
const maxSpillWord = 40

// uvarint is binary.Uvarint, one byte read inline: most lengths and
// revisions of a record.
func uvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return binary.Uvarint(b)
}

// spillWordFields: how many fields of a spilled record are words.
const spillWordFields = 8

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

func newSpillReader(r io.Reader) *spillReader {
	return &spillReader{r: bufio.NewReaderSize(r, 1<<20), words: map[string]string{}}
}

var errSpillDamaged = errors.New("damaged spill record")

// next reads one record into r; io.EOF after the last.
func (s *spillReader) next(r *Record) error {
	n, err := binary.ReadUvarint(s.r)
	if err != nil {
		return err
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
	if len(b) < 2 || int(b[0]) >= len(spillKinds) {
		return errSpillDamaged
	}
	*r = Record{Kind: spillKinds[b[0]], Found: b[1]&spillFound != 0, HasExpect: b[1]&spillHasExpect != 0}
	b = b[2:]
	// str reads a string; a word shares one copy of each, and is first
	// looked for among the words read at the same place before.
	words := 0
	str := func(word bool) string {
		l, k := uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			b = nil
			return ""
		}
		raw := b[k : k+int(l)]
		b = b[k+int(l):]
		if !word {
			return string(raw)
		}
		recent := &s.recent[words]
		words++
		if l == 0 { // most fields of most records
			return ""
		}
		if l <= maxSpillWord {
			if w, ok := recent.find(raw); ok {
				return w
			}
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
	r.Op, r.Key, r.Value = str(true), str(true), str(false)
	r.Outcome = Outcome(str(true))
	r.Read, r.Marker, r.Error, r.ErrClass, r.Path, r.Node = str(false), str(true), str(true), str(true), str(true), str(true)
	u := func() uint64 {
		v, k := uvarint(b)
		if k <= 0 {
			b = nil
			return 0
		}
		b = b[k:]
		return v
	}
	r.ExpectRev, r.Rev = u(), u()
	var ints [8]int64
	for i := range ints {
		v, k := binary.Varint(b)
		if k <= 0 {
			return errSpillDamaged
		}
		ints[i], b = v, b[k:]
	}
	r.Client, r.Intended, r.Invoke, r.Complete, r.TTL, r.Count, r.Watcher, r.At =
		int(ints[0]), ints[1], ints[2], ints[3], ints[4], ints[5], int(ints[6]), ints[7]
	return nil
}
