package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// msgGetResponse is the JetStream API answer to STREAM.MSG.GET.
type msgGetResponse struct {
	Message *struct {
		Subject string `json:"subject"`
		Seq     uint64 `json:"seq"`
		Header  []byte `json:"hdrs,omitempty"` // base64 in JSON; encoding/json decodes it
		Data    []byte `json:"data,omitempty"`
	} `json:"message"`
	Error *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// ReadLast reads key's last message through the stream leader with the
// STREAM.MSG.GET API — not a direct get, which any replica may answer —
// so final reads see what the cluster agreed on, markers included.
func ReadLast(ctx context.Context, nc *nats.Conn, bucket, key string) (history.Record, error) {
	rec := history.Record{Kind: history.KindFinal, Key: key}
	req, _ := json.Marshal(map[string]string{"last_by_subj": cluster.Subject(bucket, key)})
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+cluster.StreamName(bucket), req)
	if err != nil {
		return rec, err
	}
	var resp msgGetResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return rec, fmt.Errorf("bad STREAM.MSG.GET answer: %w", err)
	}
	if resp.Error != nil {
		if resp.Error.ErrCode == 10037 { // no message found: never written
			return rec, nil
		}
		// As nats.go reports API errors, so one classification table
		// serves both read paths.
		return rec, fmt.Errorf("STREAM.MSG.GET %s: %w", key, &jetstream.APIError{
			Code: resp.Error.Code, ErrorCode: jetstream.ErrorCode(resp.Error.ErrCode), Description: resp.Error.Description})
	}
	if resp.Message == nil {
		return rec, fmt.Errorf("STREAM.MSG.GET %s: empty answer", key)
	}
	rec.Rev = resp.Message.Seq
	if len(resp.Message.Header) > 0 {
		if h, err := nats.DecodeHeadersMsg(resp.Message.Header); err == nil {
			rec.Marker = markerOf(h)
		}
	}
	if rec.Marker == "" {
		rec.Found = true
		rec.Read, rec.Count = DecodeValue(resp.Message.Data), decodeCount(resp.Message.Data)
	}
	return rec, nil
}

// HoldsFrom asks the stream leader (STREAM.MSG.GET, next_by_subj) whether
// the bucket still holds any message at sequence seq or after. A reader
// waiting for messages that were removed meanwhile (a TTL ran out, a
// rollup or purge replaced them) learns from it that none will come.
func HoldsFrom(ctx context.Context, nc *nats.Conn, bucket string, seq uint64) (bool, error) {
	req, _ := json.Marshal(map[string]any{"seq": seq, "next_by_subj": cluster.Subject(bucket, ">")})
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+cluster.StreamName(bucket), req)
	if err != nil {
		return false, err
	}
	var resp msgGetResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return false, fmt.Errorf("bad STREAM.MSG.GET answer: %w", err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == 10037: // no message found
		return false, nil
	case resp.Error != nil:
		return false, fmt.Errorf("STREAM.MSG.GET from %d: %s (%d)", seq, resp.Error.Description, resp.Error.ErrCode)
	case resp.Message == nil:
		return false, fmt.Errorf("STREAM.MSG.GET from %d: empty answer", seq)
	}
	return resp.Message.Seq >= seq, nil
}

// markerOf reads the KV-Operation header: a delete or purge marker, or none.
// A marker the server placed itself (a key's TTL ran out) names its reason
// instead; it is read the way nats.go reads it.
func markerOf(h nats.Header) string {
	switch strings.ToUpper(h.Get(kvOperation)) {
	case kvDel:
		return history.MarkerDel
	case kvPurge:
		return history.MarkerPurge
	}
	switch h.Get(jetstream.MarkerReasonHeader) {
	case "MaxAge", "Purge":
		return history.MarkerPurge
	case "Remove":
		return history.MarkerDel
	}
	return history.MarkerNone
}

// FinalReads reads every key's last message, a few keys at a time so a
// large key space fits the final phase's budget. It reports whether every
// key was read, and each key's final record.
func FinalReads(ctx context.Context, nc *nats.Conn, bucket string, keys []string, clock Clock, out *history.Writer) (bool, map[string]history.Record) {
	var mu sync.Mutex
	last := make(map[string]history.Record, len(keys))
	ok := forEachKey(keys, 16, func(key string) bool {
		rec, err := readLastRetrying(ctx, nc, bucket, key, clock)
		if err != nil {
			return false
		}
		out.Write(&rec)
		mu.Lock()
		last[key] = rec
		mu.Unlock()
		return true
	})
	return ok, last
}

// ObserveExpiry follows, after the final reads, the keys whose last message
// is a value written with a TTL: it reads each again through the stream
// leader every expiryPoll until that message is no longer the key's last,
// for up to ttl + slack after its final read (at most maxExpiryWatch), and
// says when each went away. ttl-expiry tells from it a key that expired
// late (a fault may have left no quorum to remove it) from one that never
// expires.
func ObserveExpiry(ctx context.Context, nc *nats.Conn, bucket string, finals map[string]history.Record, ttl, slack time.Duration, clock Clock) []history.Expiry {
	var keys []string
	for key, f := range finals {
		if f.Found {
			keys = append(keys, key)
		}
	}
	if ttl <= 0 || len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	watch := min(ttl+slack, maxExpiryWatch)
	out := make([]history.Expiry, len(keys))
	forEachKey(keys, 16, func(key string) bool {
		i, _ := slices.BinarySearch(keys, key)
		f := finals[key]
		e := history.Expiry{Key: key, Rev: f.Rev, Read: f.Read}
		until := time.Duration(f.Complete) + watch
		for {
			rctx, cancel := context.WithTimeout(ctx, expiryRead)
			invoke := clock.Now()
			rec, err := ReadLast(rctx, nc, bucket, key)
			cancel()
			now := clock.Now()
			switch {
			case err == nil && (rec.Rev != f.Rev || !rec.Found):
				e.Gone = now // gone by the time the answer came
			case err == nil:
				e.Seen = invoke // there at some point after the read began
			}
			if e.Gone != 0 || time.Duration(now) >= until || ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(expiryPoll):
			}
		}
		out[i] = e
		return true
	})
	return out
}

// expiryPoll is how often ObserveExpiry reads a key again, and
// maxExpiryWatch how long it follows one at most.
// expiryRead bounds one read, so that a server that does not answer costs
// one key a poll, not the others their following.
const (
	expiryPoll     = 200 * time.Millisecond
	expiryRead     = 2 * time.Second
	maxExpiryWatch = 30 * time.Second
)

// forEachKey runs read for every key, parallel at a time, and reports
// whether every one succeeded.
func forEachKey(keys []string, parallel int, read func(key string) bool) bool {
	var wg sync.WaitGroup
	var failed atomic.Bool
	next := make(chan string)
	for i := 0; i < parallel; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range next {
				if !read(key) {
					failed.Store(true)
				}
			}
		}()
	}
	for _, key := range keys {
		next <- key
	}
	close(next)
	wg.Wait()
	return !failed.Load()
}

func readLastRetrying(ctx context.Context, nc *nats.Conn, bucket, key string, clock Clock) (history.Record, error) {
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		invoke := clock.Now()
		rec, err := ReadLast(rctx, nc, bucket, key)
		cancel()
		if err == nil {
			rec.Invoke, rec.Complete = invoke, clock.Now()
			return rec, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return history.Record{}, errors.Join(fmt.Errorf("final read of %q failed", key), last)
}

// SettledLastSeq waits (bounded) until the stream's last sequence stops
// moving: writes whose clients gave up (timeouts) may still be queued at the
// server and land after the workload stopped. Reading the final state before
// they land would leave the watcher and the final reads out of step.
func SettledLastSeq(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	last, err := StreamLastSeq(ctx, js, stream)
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return last, nil
		case <-time.After(250 * time.Millisecond):
		}
		now, err := StreamLastSeq(ctx, js, stream)
		if err != nil || now == last {
			return last, nil
		}
		last = now
	}
	return last, nil
}

// StreamLastSeq asks the stream leader for its last sequence, retrying
// while a cluster that just had faults elects leaders again.
func StreamLastSeq(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	var last error
	for ctx.Err() == nil {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		s, err := js.Stream(actx, stream)
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = s.Info(actx); err == nil {
				cancel()
				return info.State.LastSeq, nil
			}
		}
		cancel()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return 0, err // gone, not electing: waiting will not bring it back
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	return 0, last
}
