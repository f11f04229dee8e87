package checker

import (
	"fmt"

	"github.com/kvharness/kvharness/history"
)

// facts are what the checks need to know about the whole history, whichever
// group of keys they look at (see keyGroup). They are gathered in one pass
// over every record, in memory bounded by the stream's length in revisions
// and the run's in milliseconds, never by its operations.
type facts struct {
	anyTTL bool           // some write asked for a per-message TTL
	gets   map[string]int // answered gets, by read path
	// seqsKnown: every stream sequence up to the highest seen, and up to
	// the stream's last sequence after the run, is accounted for — so each
	// key's whole message sequence is known (see sequences).
	seqsKnown bool
	// known[i] is the highest revision known to exist (acknowledged or
	// seen by the recording watcher) before millisecond i+1 of the run;
	// see window.
	known []uint64
	// crossKey: revisions two records place in different keys, which a
	// group of keys sees only when it holds both (see revisionsUnique).
	crossKey []crossKeyClaim
}

// crossKeyClaim: revision rev was placed in key first, then per by in second.
type crossKeyClaim struct {
	rev           uint64
	first, second string
	by            string
}

func (c crossKeyClaim) String() string {
	return fmt.Sprintf("revision %d holds a message of key %q, and per %s one of key %q", c.rev, c.first, c.by, c.second)
}

// factsBuilder gathers facts record by record.
type factsBuilder struct {
	f       facts
	seen    []uint64 // bitset of the revisions accounted for
	count   uint64   // how many distinct ones
	highest uint64
	tooHigh bool // a revision beyond maxFactRev was seen
	// claims[rev] is 1 + the id of the key some record placed rev in.
	claims []uint32
	keyIDs map[string]uint32
	keys   []string
}

func newFactsBuilder() *factsBuilder {
	return &factsBuilder{f: facts{gets: map[string]int{}}, keyIDs: map[string]uint32{}}
}

// maxKnownMs bounds the timeline (about 4.6 hours, 134 MB): a later time
// counts as its last millisecond, which only makes window claim less.
const maxKnownMs = 1 << 24

// maxFactRev bounds the revisions the facts index (a bitset and a key id
// each: 1.1 GB at this bound, 290 MB for an hour at 20k writes/s). A
// history with a higher one — a stream used long before the run — gets no
// key sequences (a search instead of the sweep), and revisions placed in
// two keys are then found only within a group of keys.
const maxFactRev = 1 << 28

// observe takes one record of the history as it is read.
func (b *factsBuilder) observe(r *history.Record) {
	switch r.Kind {
	case history.KindOp:
		b.op(r)
	case history.KindWatch:
		b.delivered(r.Rev, r.Key, r.At, r.Watcher == 0)
	case history.KindStored, history.KindFinal:
		b.readAfterRun(r.Rev, r.Key)
	case history.KindHistory:
		b.claim(r.Rev, r.Key, "History()")
	}
}

// delivered takes a watch entry; the recording watcher's also account for
// their revision and say it existed by then.
func (b *factsBuilder) delivered(rev uint64, key string, at int64, recording bool) {
	if recording {
		b.account(rev)
		b.knownAt(at, rev)
	}
	b.claim(rev, key, "a watcher")
}

// readAfterRun takes a stored message or a final read.
func (b *factsBuilder) readAfterRun(rev uint64, key string) {
	b.account(rev)
	b.claim(rev, key, "a read after the run")
}

// claim notes that a record placed revision rev in key.
func (b *factsBuilder) claim(rev uint64, key, by string) {
	if rev == 0 || rev > maxFactRev {
		return
	}
	id, ok := b.keyIDs[key]
	if !ok {
		id = uint32(len(b.keys))
		b.keyIDs[key] = id
		b.keys = append(b.keys, key)
	}
	if rev >= uint64(len(b.claims)) {
		b.claims = append(b.claims, make([]uint32, int(rev)+1-len(b.claims)+len(b.claims)/4)...)
	}
	switch prev := b.claims[rev]; {
	case prev == 0:
		b.claims[rev] = id + 1
	case prev != id+1:
		b.f.crossKey = append(b.f.crossKey, crossKeyClaim{rev: rev, first: b.keys[prev-1], second: key, by: by})
	}
}

func (b *factsBuilder) op(r *history.Record) {
	if r.TTL > 0 {
		b.f.anyTTL = true
	}
	if r.Op == history.OpGet && r.Outcome == history.OK {
		b.f.gets[history.PathOf(r)]++
	}
	if r.Outcome == history.OK && r.Rev != 0 && history.IsWrite(r.Op) {
		b.account(r.Rev)
		b.knownAt(r.Complete, r.Rev)
	}
	switch {
	case history.IsWrite(r.Op) && r.Value != "":
		b.claim(r.Rev, r.Key, "a write's acknowledgement")
	case r.Op == history.OpGet && r.Outcome == history.OK && r.Found:
		b.claim(r.Rev, r.Key, "a get")
	}
}

func (b *factsBuilder) account(rev uint64) {
	if rev == 0 {
		return
	}
	if rev > maxFactRev {
		b.tooHigh = true
		return
	}
	word := rev / 64
	if word >= uint64(len(b.seen)) {
		b.seen = append(b.seen, make([]uint64, int(word)+1-len(b.seen)+len(b.seen)/4)...)
	}
	if b.seen[word]&(1<<(rev%64)) == 0 {
		b.seen[word] |= 1 << (rev % 64)
		b.count++
	}
	b.highest = max(b.highest, rev)
}

func (b *factsBuilder) knownAt(at int64, rev uint64) {
	ms := min(max(at/1e6, 0), maxKnownMs)
	if ms >= int64(len(b.f.known)) {
		b.f.known = append(b.f.known, make([]uint64, int(ms)+1-len(b.f.known))...)
	}
	b.f.known[ms] = max(b.f.known[ms], rev)
}

// done closes the pass; end is the history's end record (nil if the run
// was killed).
func (b *factsBuilder) done(end *history.End) facts {
	b.f.seqsKnown = !b.tooHigh && b.count == b.highest && reachesStreamEnd(end, b.highest)
	for i := 1; i < len(b.f.known); i++ {
		b.f.known[i] = max(b.f.known[i], b.f.known[i-1])
	}
	return b.f
}

// knownBefore is the highest revision known to exist before time at (ns):
// the timeline's last full millisecond before it.
func (f *facts) knownBefore(at int64) uint64 {
	ms := min(at/1e6, maxKnownMs) - 1
	if ms < 0 || len(f.known) == 0 {
		return 0
	}
	return f.known[min(ms, int64(len(f.known))-1)]
}

// factsOf gathers the facts of a history held in memory, as observe does
// record by record.
func factsOf(h *history.History) facts {
	b := newFactsBuilder()
	for i := range h.Ops {
		b.op(&h.Ops[i])
	}
	for _, r := range h.Watch {
		b.delivered(r.Rev, r.Key, r.At, true)
	}
	for _, d := range h.Delivered {
		b.delivered(d.Rev, d.Key, d.At, false)
	}
	for _, list := range [][]history.Record{h.Stored, h.Final} {
		for _, r := range list {
			b.readAfterRun(r.Rev, r.Key)
		}
	}
	for _, r := range h.KeyHistory {
		b.claim(r.Rev, r.Key, "History()")
	}
	return b.done(h.End)
}
