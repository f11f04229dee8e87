package workload

import (
	"context"
	"strconv"
	"time"

	"github.com/kvharness/kvharness/history"
)

// The seed's use cases, as loops a client runs instead of the op mix. Every
// request is an ordinary recorded operation, so every core check applies;
// each pattern adds what its own check needs (Record.Count, Record.TTL).

// runCounter increments a counter until the pacer says stop. One increment
// reads the counter and writes count + 1 with a CAS on the revision read
// (create when there is none), and starts over on a conflict — the way an
// application keeps a counter exact without a lock. Each try is recorded.
func (c *Client) runCounter(ctx context.Context, p Pacer) {
	for {
		intended, ok := p.Next(ctx)
		if !ok {
			return
		}
		key := c.gen.Next().Key
		for try := 0; try < 100 && ctx.Err() == nil; try++ {
			if try > 0 {
				intended = time.Now() // a retry is its own request, not late
			}
			get := history.Record{Kind: history.KindOp, Client: c.ID, Op: history.OpGet, Key: key, Path: c.gen.getPath()}
			if c.perform(&get, nil, intended); get.Outcome != history.OK {
				continue
			}
			id, _ := c.gen.NextValue()
			w := history.Record{Kind: history.KindOp, Client: c.ID, Op: history.OpCreate, Key: key, Value: id, Count: 1}
			if get.Found {
				w.Op, w.ExpectRev, w.HasExpect, w.Count = history.OpUpdate, get.Rev, true, get.Count+1
			}
			c.perform(&w, encodeCount(id, w.Count, c.gen.valSize), time.Now())
			if w.Outcome != history.Fail || !history.IsCASRefusal(w.ErrClass) {
				break // done, or unknown: the checker resolves it
			}
		}
	}
}

// encodeCount is a counter value: "id|count|xxxx".
func encodeCount(id string, n int64, size int) []byte {
	return EncodeValue(id+"|"+strconv.FormatInt(n, 10), size)
}

// decodeCount reads the count of a counter value; 0 for any other value.
func decodeCount(b []byte) int64 {
	var start = -1
	for i, ch := range b {
		if ch != '|' {
			continue
		}
		if start < 0 {
			start = i + 1
			continue
		}
		n, _ := strconv.ParseInt(string(b[start:i]), 10, 64)
		return n
	}
	if start >= 0 {
		n, _ := strconv.ParseInt(string(b[start:]), 10, 64)
		return n
	}
	return 0
}

// runLease is one candidate of a leader election on the lease key (the
// first key): acquire with a create carrying the TTL, renew with a CAS
// update carrying it again every third of the TTL, and after leading for
// one to three TTLs either release (a CAS delete) or go silent as if it
// crashed, leaving the lease to expire. A candidate considers itself leader
// only until its last acknowledged write's invocation + TTL (the checker's
// rule, see checker.CheckMutualExclusion), and stops at the first renewal
// that fails or whose outcome it does not learn.
func (c *Client) runLease(ctx context.Context, p Pacer) {
	ttl := c.keyTTL
	key := c.gen.keys[0]
	rng := c.gen.rng // the run's seed and this client's stream, like its ops
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	jitter := func(d time.Duration) time.Duration { return d/2 + time.Duration(rng.Int64N(int64(d))) }
	write := func(rec history.Record) history.Record {
		rec.Kind, rec.Client, rec.Key = history.KindOp, c.ID, key
		var payload []byte
		if rec.Op != history.OpDelete {
			rec.Value, payload = c.gen.NextValue()
			rec.TTL = int64(ttl)
		}
		c.perform(&rec, payload, time.Now())
		return rec
	}
	for ctx.Err() == nil {
		if _, ok := p.Next(ctx); !ok {
			return
		}
		got := write(history.Record{Op: history.OpCreate})
		if got.Outcome != history.OK {
			if !sleep(jitter(ttl / 4)) {
				return
			}
			continue
		}
		// Leader.
		rev, deadline := got.Rev, got.Invoke+int64(ttl)
		leadFor := time.Duration(1+rng.IntN(3)) * ttl
		until := time.Now().Add(leadFor)
		for {
			wait := ttl / 3
			if !sleep(wait) {
				write(history.Record{Op: history.OpDelete, ExpectRev: rev, HasExpect: true}) // step down on the way out
				return
			}
			if time.Now().After(until) {
				if rng.IntN(2) == 0 {
					write(history.Record{Op: history.OpDelete, ExpectRev: rev, HasExpect: true})
				} else if !sleep(ttl) { // "crash": stop renewing, let the lease expire
					return
				}
				break
			}
			if c.clock.Now() >= deadline {
				break // it ran out while we slept: not leader any more
			}
			renew := write(history.Record{Op: history.OpUpdate, ExpectRev: rev, HasExpect: true})
			if renew.Outcome != history.OK {
				break
			}
			rev, deadline = renew.Rev, renew.Invoke+int64(ttl)
		}
		if !sleep(jitter(ttl / 4)) {
			return
		}
	}
}
