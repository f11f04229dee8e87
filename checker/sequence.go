package checker

import (
	"cmp"
	"slices"

	"github.com/kvharness/kvharness/history"
)

// keySequence is the whole sequence of one key's messages, known when what
// the run saw of the stream — the watchers' deliveries, the messages stored
// after the run, the final reads, History(), the replicas and the revisions
// acknowledged to writers (eachMessage) — together holds every stream
// sequence up to the highest one seen (facts.seqsKnown).
//
// It lets the model place each write exactly: a write can only be the
// message that follows the key's current one. Without it, writes whose
// revision the client never learned (deletes, unknown outcomes) can be
// linearized almost anywhere, and Porcupine's search explodes.
type keySequence struct {
	msgs []message        // in revision order; shared, never changed
	at   map[uint64]int32 // a message's revision → its place in msgs
}

// noMessages is the sequence of a key the stream never held a message for.
var noMessages = &keySequence{at: map[uint64]int32{}}

// next is the message after the one at rev (0: the first message).
func (ks *keySequence) next(rev uint64) (message, bool) {
	i := -1
	if rev != 0 {
		j, ok := ks.at[rev]
		if !ok {
			return message{}, false
		}
		i = int(j)
	}
	if i+1 < len(ks.msgs) {
		return ks.msgs[i+1], true
	}
	return message{}, false
}

// prev is the revision of the message before the one at rev (0: none);
// false if the key has no message at rev.
func (ks *keySequence) prev(rev uint64) (uint64, bool) {
	i, ok := ks.at[rev]
	switch {
	case !ok:
		return 0, false
	case i == 0:
		return 0, true
	}
	return ks.msgs[i-1].Rev, true
}

// number is the message at rev counted from 1 (0 and false: none).
func (ks *keySequence) number(rev uint64) (int, bool) {
	i, ok := ks.at[rev]
	if !ok {
		return 0, false
	}
	return int(i) + 1, true
}

// ordered is the key's messages in revision order, not to be changed.
func (ks *keySequence) ordered() []message { return ks.msgs }

// message is one stored message: a value or a del/purge marker.
type message struct {
	Rev    uint64
	Marker string
	// Seen: when the recording watcher received it (ns since run start; 0
	// if it did not): the message existed by then.
	Seen int64
}

// sequences builds each key's keySequence from h's records. Only for a
// history whose every sequence number up to the highest seen is accounted
// for (facts.seqsKnown: a group of keys cannot tell) — else a "next" could
// skip a message nobody saw.
func sequences(h *history.History) map[string]*keySequence {
	byKey := map[string][]message{}
	seen := make(map[uint64]bool, len(h.Watch)+len(h.Stored))
	// What the stream was seen to hold comes first; acknowledgements fill
	// the gaps (a pipelined run outpaces the watcher). A sequence only
	// restricts where writes may be linearized, so a wrong acknowledgement
	// here can fail a run, never pass one; where the watcher saw a
	// conflicting message at the same revision, revisions-unique fails too.
	eachMessage(h, func(key string, rev uint64, marker string, seenAt int64) {
		if rev == 0 || seen[rev] {
			return
		}
		seen[rev] = true
		byKey[key] = append(byKey[key], message{Rev: rev, Marker: marker, Seen: seenAt})
	})
	out := make(map[string]*keySequence, len(byKey))
	for key, msgs := range byKey {
		slices.SortFunc(msgs, func(a, b message) int { return cmp.Compare(a.Rev, b.Rev) })
		ks := &keySequence{msgs: msgs, at: make(map[uint64]int32, len(msgs))}
		for i, m := range msgs {
			ks.at[m.Rev] = int32(i)
		}
		out[key] = ks
	}
	return out
}

// eachMessage hands yield every message some record shows the stream held
// (key, revision, marker or none, and when a watcher received it; 0 for
// the others): the recording watcher's deliveries first, then the stream
// after the run and the final reads, the acknowledged writes (a delete's
// revision is its marker's), the scenario's watchers, History() and the
// replicas. A revision may come more than once; sequences keeps the first.
// Gets are not among them: a get naming a message nothing else shows fails
// reads-valid, and must not also shape a key's sequence.
func eachMessage(h *history.History, yield func(key string, rev uint64, marker string, seenAt int64)) {
	for _, w := range h.Watch {
		yield(w.Key, w.Rev, w.Marker, w.At)
	}
	for _, list := range [][]history.Record{h.Stored, h.Final} {
		for _, r := range list {
			yield(r.Key, r.Rev, r.Marker, 0)
		}
	}
	for i := range h.Ops {
		if op := &h.Ops[i]; op.Outcome == history.OK && op.Rev != 0 && history.IsWrite(op.Op) {
			yield(op.Key, op.Rev, markerOf(op.Op), 0)
		}
	}
	for _, d := range h.Delivered {
		yield(d.Key, d.Rev, d.Marker, d.At)
	}
	for _, list := range [][]history.Record{h.KeyHistory, h.Replicas} {
		for _, r := range list {
			yield(r.Key, r.Rev, r.Marker, 0)
		}
	}
}

// reachesStreamEnd: the run finished and what was seen reaches the stream's
// last sequence as it stood after the run. Every sequence up to the highest
// seen, and up to that one: then every message is known, markers of
// acknowledged deletes included (in histories from before deletes kept
// their revision, nothing else fills such a gap). A killed run has no end record, and a run that could not read the
// stream's last sequence does not know it: their tails may hold markers
// nobody saw, and pinning would wrongly refuse those deletes.
func reachesStreamEnd(end *history.End, highest uint64) bool {
	switch {
	case cut(end):
		return false
	case end.WatchComplete:
		return true
	case end.LastSeq == 0:
		return highest == 0 // unknown end: only an empty stream is known whole
	}
	return highest >= end.LastSeq
}
