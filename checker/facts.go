package checker

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/kvharness/kvharness/history"
)

// facts are what the checks need to know about the whole history, whichever
// group of keys they look at (see keyGroup). They are gathered in one pass
// over every record, in memory bounded by the stream's length in revisions
// and the run's in milliseconds, never by its operations.
type facts struct {
	// ttlKeys: the keys some write asked a per-message TTL of (the
	// linearizability checks leave them to ttl-expiry); see anyTTL.
	ttlKeys map[string]bool
	gets    map[string]int // answered gets, by read path
	// seqsKnown: every stream sequence up to the highest seen, and up to
	// the stream's last sequence after the run, is accounted for — so each
	// key's whole message sequence is known (see sequences).
	seqsKnown bool
	// highest is the highest revision any record showed: the stream's end
	// is at least there, whatever its last sequence read after the run
	// says.
	highest uint64
	// known: the highest revision known to exist (acknowledged or seen by
	// the recording watcher) by each millisecond of the run; see window.
	known revTimeline
	// crossKey: revisions two records place in different keys, which a
	// group of keys sees only when it holds both (see revisionsUnique).
	crossKey []crossKeyClaim
	// observed: the highest revision seen to exist — acknowledged,
	// returned by a get, delivered to any watcher, read after the run — by
	// each millisecond of the run; see revisionOrder. Unlike known, every
	// sighting counts: this is what the order of the bucket's revisions is
	// checked against, not what resolution relies on.
	observed revTimeline
	// sightings goes over the history's sightings again, in the order the
	// facts first met them: who saw a revision first is asked only to
	// explain a violation, and keeping it for every millisecond would cost
	// four times the timeline (see firstSightings).
	sightings func(see func(revSighting)) error
	// disorder: deliveries of one watcher (0: the recording watcher) whose
	// revision was not above the one it delivered before, for another key
	// (an ordered consumer delivers in stream order, whatever the key; a
	// group of keys sees only its own). The first maxDisorder, and how
	// many in all per watcher.
	disorder      []disorder
	disorderCount map[int]int
	// timelines: per watcher (0: the recording watcher), how far it had
	// got in the stream by when — what the skip rule asks (watch_skips.go),
	// the same for every group of keys.
	timelines map[int]*watchTimeline
}

// watchTimeline is how far one watcher had got in the stream: by the end
// of 10 ms step bucket[i] it had delivered up to revision upTo[i] (an
// entry only where that grew, so a watcher costs at most 1.2 kB a second).
type watchTimeline struct {
	first  uint64 // the first revision it delivered
	bucket []uint32
	upTo   []uint64
}

// timelineStep is a watch timeline's resolution: a watcher is taken to
// have gone past a revision at the end of the step it did, which only
// counts more messages as stored by then (see watch_skips.go).
const timelineStep = 10 * int64(time.Millisecond)

// add notes a delivery of rev at time at.
func (tl *watchTimeline) add(rev uint64, at int64) {
	b := uint32(min(max(at, 0)/timelineStep, math.MaxUint32))
	n := len(tl.bucket)
	switch {
	case n == 0:
		tl.first = rev
		tl.bucket, tl.upTo = append(tl.bucket, b), append(tl.upTo, rev)
	case rev <= tl.upTo[n-1]:
	case b <= tl.bucket[n-1]:
		tl.upTo[n-1] = rev
	default:
		tl.bucket, tl.upTo = append(tl.bucket, b), append(tl.upTo, rev)
	}
}

// passed is when the watcher had delivered something above rev (false: it
// never did).
func (tl *watchTimeline) passed(rev uint64) (int64, bool) {
	i := sort.Search(len(tl.upTo), func(i int) bool { return tl.upTo[i] > rev })
	if i == len(tl.upTo) {
		return 0, false
	}
	return (int64(tl.bucket[i]) + 1) * timelineStep, true
}

// anyTTL: some write asked for a per-message TTL.
func (f *facts) anyTTL() bool { return len(f.ttlKeys) > 0 }

// disorder is a delivery that came after a higher or equal revision of
// another key, to the same watcher.
type disorder struct {
	watcher      int
	rev, prevRev uint64
	key, prevKey string
	at           int64
}

func (d disorder) String() string {
	who := fmt.Sprintf("watcher %d", d.watcher)
	if d.watcher == 0 {
		who = "the recording watcher"
	}
	return fmt.Sprintf("%s delivered revision %d (key %q) at %.3fs after revision %d (key %q): a watch delivers in stream order",
		who, d.rev, d.key, float64(d.at)/1e9, d.prevRev, d.prevKey)
}

// maxDisorder bounds the deliveries out of stream order the facts keep.
const maxDisorder = 100

// lastDelivery is a watcher's latest delivery so far, in the file's order,
// which is the order the watcher received them (one goroutine writes each
// watcher's entries as they come).
type lastDelivery struct {
	rev uint64
	key string
}

// revSighting is a record's evidence that a revision existed by a time: a
// write's acknowledgement, a get, a watcher's delivery or a read after the
// run.
type revSighting struct {
	at  int64 // ns since the run's start
	rev uint64
	by  observer
}

// observer says who made a sighting: which kind of record, of which
// client or watcher, of which key.
type observer struct {
	kind   observerKind
	client int
	key    string
}

type observerKind uint8

const (
	sawAck observerKind = iota + 1
	sawGet
	sawDelivery
	sawFinal
)

func (o observer) String() string {
	key := ""
	if o.key != "" {
		key = fmt.Sprintf(" of key %q", o.key)
	}
	switch o.kind {
	case sawAck:
		return fmt.Sprintf("the acknowledgement of a write%s to client %d", key, o.client)
	case sawGet:
		return fmt.Sprintf("a get%s by client %d", key, o.client)
	case sawDelivery:
		if o.client == 0 {
			return fmt.Sprintf("the recording watcher's delivery%s", key)
		}
		return fmt.Sprintf("watcher %d's delivery%s", o.client, key)
	case sawFinal:
		return fmt.Sprintf("the final read%s", key)
	}
	return "a record that could not be found again"
}

// opSighting: an acknowledged write or an answered get saw its revision.
func opSighting(r *history.Record, see func(revSighting)) {
	if r.Outcome != history.OK || r.Rev == 0 {
		return
	}
	switch {
	case history.IsWrite(r.Op):
		see(revSighting{r.Complete, r.Rev, observer{sawAck, r.Client, r.Key}})
	case r.Op == history.OpGet && r.Found:
		see(revSighting{r.Complete, r.Rev, observer{sawGet, r.Client, r.Key}})
	}
}

// recordSighting hands see the sighting record r is, if it is one.
func recordSighting(r *history.Record, see func(revSighting)) {
	switch r.Kind {
	case history.KindOp:
		opSighting(r, see)
	case history.KindWatch:
		see(revSighting{r.At, r.Rev, observer{sawDelivery, r.Watcher, r.Key}})
	case history.KindFinal:
		see(revSighting{r.Complete, r.Rev, observer{sawFinal, 0, r.Key}})
	}
}

// historySightings hands see the sightings of a history held in memory,
// shelf by shelf, in the order factsOf meets them.
func historySightings(h *history.History, see func(revSighting)) {
	for i := range h.Ops {
		opSighting(&h.Ops[i], see)
	}
	for _, r := range h.Watch {
		see(revSighting{r.At, r.Rev, observer{sawDelivery, 0, r.Key}})
	}
	for _, d := range h.Delivered {
		see(revSighting{d.At, d.Rev, observer{sawDelivery, d.Watcher, d.Key}})
	}
	for _, r := range h.Final {
		see(revSighting{r.Complete, r.Rev, observer{sawFinal, 0, r.Key}})
	}
}

// firstSightings finds who first saw each of revs, as the timeline has it:
// the first sighting, in the history's order, in the millisecond where
// observed first reached the revision (one more pass over the history).
// A revision it cannot place has no observer.
func (f *facts) firstSightings(revs []uint64) (map[uint64]observer, error) {
	want := map[uint64]int{} // revision: its millisecond
	for _, rev := range revs {
		if ms := f.observed.firstReaching(rev); ms < f.observed.len() && f.observed.at(ms) == rev {
			want[rev] = ms
		}
	}
	found := map[uint64]observer{}
	if len(want) == 0 || f.sightings == nil {
		return found, nil
	}
	err := f.sightings(func(s revSighting) {
		if ms, ok := want[s.rev]; ok && msOf(s.at) == ms {
			if _, done := found[s.rev]; !done {
				found[s.rev] = s.by
			}
		}
	})
	return found, err
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
	tooHigh bool      // a revision beyond maxFactRev was seen
	claims  revClaims // per revision, the key some record placed it in
	keyIDs  map[string]uint32
	keys    []string
	last    map[int]lastDelivery // per watcher
}

func newFactsBuilder() *factsBuilder {
	return &factsBuilder{f: facts{gets: map[string]int{}, disorderCount: map[int]int{}, timelines: map[int]*watchTimeline{}}, keyIDs: map[string]uint32{}, last: map[int]lastDelivery{}}
}

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
		b.delivered(r.Rev, r.Key, r.At, r.Watcher)
	case history.KindStored:
		b.readAfterRun(r.Rev, r.Key)
	case history.KindFinal:
		b.readAfterRun(r.Rev, r.Key)
	case history.KindHistory:
		b.account(r.Rev)
		b.claim(r.Rev, r.Key, "History()")
	case history.KindReplica:
		b.account(r.Rev)
	}
	recordSighting(r, b.sighted)
}

// delivered takes a watch entry: any watcher's accounts for its revision
// (a watch delivers only stored messages); the recording watcher's also
// say it existed by then, for resolution.
func (b *factsBuilder) delivered(rev uint64, key string, at int64, watcher int) {
	b.account(rev)
	if watcher == 0 {
		b.f.known.raise(msOf(at), rev)
	}
	b.claim(rev, key, "a watcher")
	tl := b.f.timelines[watcher]
	if tl == nil {
		tl = &watchTimeline{}
		b.f.timelines[watcher] = tl
	}
	tl.add(rev, at)
	// Within a key the watch checks see the order themselves.
	if prev, ok := b.last[watcher]; ok && rev <= prev.rev && key != prev.key {
		b.f.disorderCount[watcher]++
		if len(b.f.disorder) < maxDisorder {
			b.f.disorder = append(b.f.disorder, disorder{watcher: watcher, rev: rev, prevRev: prev.rev, key: key, prevKey: prev.key, at: at})
		}
	}
	if prev := b.last[watcher]; rev > prev.rev {
		b.last[watcher] = lastDelivery{rev: rev, key: key}
	}
}

// disorderOf lists the deliveries out of stream order across keys of the
// recording watcher (recording) or of the scenario's watchers, and counts
// them.
func (f *facts) disorderOf(recording bool) (found []string, count int) {
	for _, d := range f.disorder {
		if (d.watcher == 0) == recording {
			found = append(found, d.String())
		}
	}
	for w, n := range f.disorderCount {
		if (w == 0) == recording {
			count += n
		}
	}
	return found, count
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
	id := b.keyID(key)
	switch prev := b.claims.at(rev); {
	case prev == 0:
		b.claims.set(rev, id+1)
	case prev != id+1:
		b.f.crossKey = append(b.f.crossKey, crossKeyClaim{rev: rev, first: b.keys[prev-1], second: key, by: by})
	}
}

// keyID numbers keys as they first appear.
func (b *factsBuilder) keyID(key string) uint32 {
	id, ok := b.keyIDs[key]
	if !ok {
		id = uint32(len(b.keys))
		b.keyIDs[key] = id
		b.keys = append(b.keys, key)
	}
	return id
}

func (b *factsBuilder) op(r *history.Record) {
	if r.TTL > 0 {
		if b.f.ttlKeys == nil {
			b.f.ttlKeys = map[string]bool{}
		}
		b.f.ttlKeys[r.Key] = true
	}
	if r.Op == history.OpGet && r.Outcome == history.OK {
		b.f.gets[history.PathOf(r)]++
	}
	if r.Outcome == history.OK && r.Rev != 0 && history.IsWrite(r.Op) {
		b.account(r.Rev)
		b.f.known.raise(msOf(r.Complete), r.Rev)
	}
	switch {
	case history.IsWrite(r.Op): // a value, or a delete's marker (recorded since deletes kept their revision)
		b.claim(r.Rev, r.Key, "a write's acknowledgement")
	case r.Op == history.OpGet && r.Outcome == history.OK && r.Found:
		b.claim(r.Rev, r.Key, "a get")
	}
}

// sighted notes a sighting on the observed timeline.
func (b *factsBuilder) sighted(s revSighting) {
	if s.rev != 0 {
		b.f.observed.raise(msOf(s.at), s.rev)
	}
}

func (b *factsBuilder) account(rev uint64) {
	if rev == 0 {
		return
	}
	b.highest = max(b.highest, rev)
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
}

// done closes the pass; end is the history's end record (nil if the run
// was killed).
func (b *factsBuilder) done(end *history.End) facts {
	b.f.seqsKnown = !b.tooHigh && b.count == b.highest && reachesStreamEnd(end, b.highest)
	b.f.highest = b.highest
	b.f.known.settle()
	b.f.observed.settle()
	return b.f
}

// factsOf gathers the facts of a history held in memory, as observe does
// record by record.
func factsOf(h *history.History) facts {
	b := newFactsBuilder()
	for i := range h.Ops {
		b.op(&h.Ops[i])
	}
	for _, r := range h.Watch {
		b.delivered(r.Rev, r.Key, r.At, 0)
	}
	for _, d := range h.Delivered {
		b.delivered(d.Rev, d.Key, d.At, d.Watcher)
	}
	for _, r := range h.Stored {
		b.readAfterRun(r.Rev, r.Key)
	}
	for _, r := range h.Final {
		b.readAfterRun(r.Rev, r.Key)
	}
	for i := range h.KeyHistory {
		b.observe(&h.KeyHistory[i])
	}
	for i := range h.Replicas {
		b.observe(&h.Replicas[i])
	}
	historySightings(h, b.sighted)
	f := b.done(h.End)
	f.sightings = func(see func(revSighting)) error {
		historySightings(h, see)
		return nil
	}
	return f
}
