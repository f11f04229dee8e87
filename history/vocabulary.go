package history

import (
	"strconv"
	"strings"
)

// The values record fields take beyond plain data: the names a scenario
// file uses, the workload writes and the checker reads. One spelling each.

// Patterns: what a scenario's clients do instead of the op mix (Meta.Pattern).
const (
	PatternCounter  = "counter"  // get, then update with the count + 1, retry on conflict
	PatternLease    = "lease"    // leader election: create a lease key with a TTL, renew with CAS, release
	PatternSessions = "sessions" // session keys created with a TTL, touched, read, deleted
)

// MaxDepth is the most revisions a NATS KV bucket keeps per key (its
// history setting, 1..64): the default of a scenario's bucket, and what a
// history that does not say is checked against.
const MaxDepth = 64

// Read paths: how a get reaches the bucket (scenario read_path, and
// Record.Path of a get).
const (
	// PathDirect: nats.go's Get, a direct get that any replica may answer.
	// The default: a direct get's record leaves Path empty (PathOf).
	PathDirect = "direct"
	// PathLeader: a message get (STREAM.MSG.GET) that the stream leader
	// answers. Also the Node of replica records read that way, beside the
	// nodes' own replicas.
	PathLeader = "leader"
	// PathBoth (scenarios only): each get takes one of the two at random,
	// to compare them.
	PathBoth = "both"
)

// PathOf is the read path of a get record.
func PathOf(r *Record) string {
	if r.Path == "" {
		return PathDirect
	}
	return r.Path
}

// Watch modes, as nats.go offers them.
const (
	WatchLatest  = "latest"  // the latest entry of each key, then updates (nats.go's default)
	WatchHistory = "history" // every entry the bucket holds, then updates
	WatchUpdates = "updates" // only entries written after the watch began
)

// Error classes, the vocabulary shared by the workload's classifier (which
// assigns them) and the checker (which only needs to know a conflict).
const (
	ClassConflict     = "conflict"      // CAS precondition failed: nothing written
	ClassBusy         = "conflict-busy" // CAS refused while another write to the key was in flight: nothing written, precondition not evaluated
	ClassBadRequest   = "bad-request"   // refused by client or server before anything was written
	ClassNoResponders = "no-responders" // nobody stores the subject: nothing written
	ClassTimeout      = "timeout"       // no answer in time: may have been written
	ClassDisconnected = "disconnected"  // connection lost or closed mid-request
	ClassUnavailable  = "unavailable"   // no leader / cluster not ready
	ClassCanceled     = "canceled"      // the run stopped before an answer came
	ClassOther        = "other"         // unclassified: treated as unknown
	ClassNoCompletion = "no-completion" // the run was killed before the op completed
)

// IsCASRefusal: the class of a write refused by its precondition (or while
// another write to the key was in flight) — the API working as designed, so
// error rates leave it out.
func IsCASRefusal(class string) bool { return class == ClassConflict || class == ClassBusy }

// wrongLastSequence is how the server words a CAS refusal, 10071 "wrong
// last sequence: N" and 10164 "wrong last sequence".
const wrongLastSequence = "wrong last sequence"

// WrongLastSequence reads a CAS refusal's text: found, the text is one;
// named, it names the key's revision the server compared against, rev
// (10071 does on every release read here; 10164, a refusal that compared
// nothing, does not). A number too large for a revision is named with rev
// 0. Read by hand, not by a regular expression: the checker reads the
// millions of refusals of a long run with it.
func WrongLastSequence(text string) (rev uint64, named, found bool) {
	i := strings.Index(text, wrongLastSequence)
	if i < 0 {
		return 0, false, false
	}
	rest, ok := strings.CutPrefix(text[i+len(wrongLastSequence):], ": ")
	end := 0
	for ok && end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0, false, true
	}
	rev, err := strconv.ParseUint(rest[:end], 10, 64)
	if err != nil {
		rev = 0
	}
	return rev, true, true
}
