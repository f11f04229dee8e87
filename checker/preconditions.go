package checker

import (
	"fmt"

	"github.com/kvharness/kvharness/history"
)

// A write with a precondition (an update, or a delete or purge with an
// expected revision) is stored only if the key's last message is the one it
// expects: NATS compares the expected last subject sequence with the last
// message of the key's subject. Where every message of the key is known
// (keySequence), the message a stored write followed is known too, so a
// write stored after any other message broke its precondition: whatever
// the timing, NATS could not have stored it so, and no search is needed to
// say so. (The model holds a write to both the message before it and its
// expectation, so it agrees wherever it knows the key's revision exactly;
// where it keeps only a bound, after a write of unknown revision, it is
// more lenient than the server.) This matters on long, busy keys: with many writes in flight the
// sweep cannot place such a write, and the search that would prove it
// illegal does not finish (a storm of pipelined CAS writes on 32 keys ran
// out of the two minutes on every key and left the check unknown).
//
// Keys written with a TTL are left out: a message that expired before the
// write arrived leaves an older one last. Creates are left out too: nats.go
// sends two requests for one and records no expected revision.

// brokenPreconditions adds to r.early, per key, the first write stored after
// a message other than the one it expected.
func (r *resolved) brokenPreconditions(f *facts) {
	for _, op := range r.ops {
		if !op.HasExpect || op.Rev == 0 || op.Outcome == history.Fail || f.ttlKeys[op.Key] {
			continue
		}
		if _, dup := r.early[op.Key]; dup {
			continue
		}
		seq, ok := r.seqs[op.Key]
		if !ok {
			continue
		}
		after, ok := seq.prev(op.Rev)
		if !ok || after == op.ExpectRev {
			continue
		}
		r.early[op.Key] = brokenPrecondition(op, after, seq)
	}
}

// brokenPrecondition says what op, stored right after the message at
// revision after, did: a lost update when it expected an older message of
// the key (or none) and so wrote over the ones after it unseen.
func brokenPrecondition(op *history.Record, after uint64, seq *keySequence) string {
	expected := fmt.Sprintf("revision %d", op.ExpectRev)
	_, held := seq.at[op.ExpectRev]
	if op.ExpectRev == 0 {
		expected, held = "no message", true
	}
	what := "lost update"
	if !held || op.ExpectRev > after {
		what = "precondition broken"
		if !held {
			expected += ", which the key never held"
		}
	}
	over := fmt.Sprintf("over revision %d", after)
	if after == 0 {
		over = "as the key's first message"
	}
	return fmt.Sprintf("%s: client %d %s(%s), invoked at %.3fs, expected %s, yet was stored at revision %d, %s (every message of the key is known)",
		what, op.Client, op.Op, op.Value, float64(op.Invoke)/1e9, expected, op.Rev, over)
}
