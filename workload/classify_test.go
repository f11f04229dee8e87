package workload

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// The classification table is only worth something if the errors it was
// written for are the errors real servers return. These tests provoke each
// class against embedded nats-server instances (one single node, one
// three-node cluster, shared by all subtests) with real nats.go KeyValue
// calls, and assert what Classify makes of them. Each subtest logs what the
// raw error looked like (see describeErr), so a nats.go or server upgrade
// that changes an error shows up here first.
//
// Observed on nats-server v2.15.2 / nats.go v1.55.0 (go test -v shows it):
//
//   - Update with a wrong revision, R1 and R3 alike: *fmt.wrapErrors "nats:
//     nats: API error: code=400 err_code=10071 description=wrong last
//     sequence: N: nats: key revision mismatch". errors.As finds
//     *jetstream.APIError{Code: 400, ErrorCode: 10071}; errors.Is finds
//     jetstream.ErrKeyRevisionMismatch (nats.go wraps both with %w: %w).
//     Update of a missing key expecting a revision: the same, N = 0.
//   - 10164 is NOT "the R3 code": a settled conflict on R3 is 10071 too.
//     10164 (description "wrong last sequence", no number) comes only from
//     a replicated stream's leader refusing a CAS on a key that has another
//     write proposed but not yet applied — provoked here by racing CAS
//     writes; same %w wrapping, same ErrKeyRevisionMismatch.
//   - Delete/Purge with a LastRevision mismatch: identical to Update.
//   - Create on an existing key: *fmt.wrapError "...description=wrong last
//     sequence: N: key exists", code 10071; errors.Is(ErrKeyExists) holds.
//   - Get of a missing or a deleted key: *jetstream.jsError "nats: key not
//     found" (jetstream.ErrKeyNotFound; never ErrKeyDeleted from Get).
//   - Invalid key: jetstream.ErrInvalidKey, refused by the client.
//   - Value above the bucket's MaxValueSize: *fmt.wrapError around
//     APIError{Code: 400, ErrorCode: 10054, "message size exceeds maximum
//     allowed"} from the server.
//   - Message above the server's max_payload: nats.ErrMaxPayload ("nats:
//     maximum payload exceeded"), refused by the client before sending.
//   - Put to a deleted bucket: jetstream.ErrNoStreamResponse ("nats: no
//     response from stream") after nats.go's two retries (~500 ms).
//   - Expired context: context.DeadlineExceeded (bare, not wrapped);
//     canceled context: context.Canceled; closed connection, and a
//     connection lost (NoReconnect) under an unanswered put:
//     nats.ErrConnectionClosed.
//   - R3 put to the one surviving node of three: no answer at all, so
//     context.DeadlineExceeded at the client's deadline — checked for 12 s
//     after the loss, never no-responders or a 503.

// describeErr renders an error for the test log: its dynamic type, its
// message, and the API error inside it, if any.
func describeErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := fmt.Sprintf("type=%T msg=%q", err, err.Error())
	var api *jetstream.APIError
	if errors.As(err, &api) {
		s += fmt.Sprintf(" api{code=%d err_code=%d description=%q}", api.Code, api.ErrorCode, api.Description)
	}
	return s
}

// classifyEnv is the servers, connections and buckets shared by subtests.
type classifyEnv struct {
	one, three     *cluster.Embedded
	nc1, nc3       *nats.Conn
	js1, js3       jetstream.JetStream
	kv1, kv3       jetstream.KeyValue // R1 on one node, R3 on three nodes
	small1, small3 jetstream.KeyValue // MaxValueSize smallMax
}

const smallMax = 128

func startClassifyEnv(t *testing.T) *classifyEnv {
	t.Helper()
	e := &classifyEnv{}
	// Start both in parallel: the 3-node cluster dominates startup.
	type started struct {
		emb *cluster.Embedded
		err error
	}
	ch1, ch3 := make(chan started, 1), make(chan started, 1)
	go func() {
		emb, err := cluster.StartEmbedded(cluster.EmbeddedConfig{Nodes: 1})
		ch1 <- started{emb, err}
	}()
	go func() {
		emb, err := cluster.StartEmbedded(cluster.EmbeddedConfig{Nodes: 3})
		ch3 <- started{emb, err}
	}()
	r1, r3 := <-ch1, <-ch3
	if r1.emb != nil {
		t.Cleanup(r1.emb.Shutdown)
	}
	if r3.emb != nil {
		t.Cleanup(r3.emb.Shutdown)
	}
	if r1.err != nil {
		t.Fatalf("starting 1-node server: %v", r1.err)
	}
	if r3.err != nil {
		t.Fatalf("starting 3-node cluster: %v", r3.err)
	}
	e.one, e.three = r1.emb, r3.emb

	e.nc1, e.js1 = connect(t, e.one.ClientURLs())
	e.nc3, e.js3 = connect(t, e.three.ClientURLs())

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mk := func(js jetstream.JetStream, name string, replicas int, maxValue int32) jetstream.KeyValue {
		kv, err := cluster.CreateBucket(ctx, js, cluster.BucketConfig{
			Name: name, Replicas: replicas, Storage: "memory", History: 8, MaxValueSize: maxValue,
		})
		if err != nil {
			t.Fatalf("creating bucket %s: %v", name, err)
		}
		return kv
	}
	e.kv1 = mk(e.js1, "cls1", 1, -1)
	e.small1 = mk(e.js1, "small1", 1, smallMax)
	e.kv3 = mk(e.js3, "cls3", 3, -1)
	e.small3 = mk(e.js3, "small3", 3, smallMax)
	return e
}

func connect(t *testing.T, urls []string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		t.Fatalf("connecting to %v: %v", urls, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// opCtx is the per-op context of a well-behaved op.
func opCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// expect asserts Classify(op, err) and logs the raw error.
func expect(t *testing.T, op string, err error, wantOutcome history.Outcome, wantClass string) {
	t.Helper()
	got, class := Classify(op, err)
	t.Logf("%s: %s -> %s/%q", op, describeErr(err), got, class)
	if got != wantOutcome || class != wantClass {
		t.Errorf("Classify(%q, %v) = %s/%q, want %s/%q", op, err, got, class, wantOutcome, wantClass)
	}
}

// expectAPICode asserts that err carries a JetStream API error with code.
func expectAPICode(t *testing.T, err error, code jetstream.ErrorCode) {
	t.Helper()
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		t.Errorf("error %s carries no *jetstream.APIError", describeErr(err))
		return
	}
	if api.ErrorCode != code {
		t.Errorf("error %s: err_code %d, want %d", describeErr(err), api.ErrorCode, code)
	}
}

// settled runs a CAS that must be refused as a settled mismatch (10071)
// until the R3 leader stops answering 10164: a CAS sent right after the
// put before it was acknowledged can still be refused unevaluated, as if
// that put were in flight (seen once in a CI run of this test on 2.15.2).
// R1 never answers 10164.
func settled(t *testing.T, cas func() error) error {
	t.Helper()
	for i := 0; ; i++ {
		err := cas()
		var api *jetstream.APIError
		if i == 50 || !errors.As(err, &api) || api.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequenceConstant {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustPut(t *testing.T, kv jetstream.KeyValue, key, id string) uint64 {
	t.Helper()
	rev, err := kv.Put(opCtx(t), key, EncodeValue(id, 32))
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return rev
}

func TestClassify(t *testing.T) {
	start := time.Now()
	e := startClassifyEnv(t)
	t.Logf("servers and buckets ready in %s", time.Since(start).Round(time.Millisecond))

	buckets := []struct {
		name     string
		kv       jetstream.KeyValue
		small    jetstream.KeyValue
		conflict jetstream.ErrorCode // the code a settled CAS conflict carries
	}{
		// A CAS against a key with no write in flight is 10071 "wrong last
		// sequence: N" on R1 *and* R3 (v2.15.2). 10164 only appears on
		// replicated streams while another write to the key is in flight
		// (see R3/conflict-inflight) — or was, a moment ago: see settled.
		{"R1", e.kv1, e.small1, jetstream.JSErrCodeStreamWrongLastSequence},
		{"R3", e.kv3, e.small3, jetstream.JSErrCodeStreamWrongLastSequence},
	}

	for _, b := range buckets {
		t.Run(b.name, func(t *testing.T) {
			kv := b.kv
			t.Run("update-conflict", func(t *testing.T) {
				rev := mustPut(t, kv, "upd", "u1")
				err := settled(t, func() error {
					_, err := kv.Update(opCtx(t), "upd", EncodeValue("u2", 32), rev+1000)
					return err
				})
				expect(t, history.OpUpdate, err, history.Fail, history.ClassConflict)
				expectAPICode(t, err, b.conflict)
				if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
					t.Errorf("update conflict does not match ErrKeyRevisionMismatch: %s", describeErr(err))
				}
				// Update of a key that does not exist, expecting a revision.
				err = settled(t, func() error {
					_, err := kv.Update(opCtx(t), "upd-missing", EncodeValue("u3", 32), rev)
					return err
				})
				expect(t, history.OpUpdate, err, history.Fail, history.ClassConflict)
				expectAPICode(t, err, b.conflict)
			})
			t.Run("delete-conflict", func(t *testing.T) {
				rev := mustPut(t, kv, "del", "d1")
				err := settled(t, func() error { return kv.Delete(opCtx(t), "del", jetstream.LastRevision(rev+1000)) })
				expect(t, history.OpDelete, err, history.Fail, history.ClassConflict)
				expectAPICode(t, err, b.conflict)
				err = settled(t, func() error { return kv.Purge(opCtx(t), "del", jetstream.LastRevision(rev+1000)) })
				expect(t, history.OpPurge, err, history.Fail, history.ClassConflict)
				expectAPICode(t, err, b.conflict)
				// And the matching revision succeeds.
				err = kv.Delete(opCtx(t), "del", jetstream.LastRevision(rev))
				expect(t, history.OpDelete, err, history.OK, "")
			})
			t.Run("create-exists", func(t *testing.T) {
				mustPut(t, kv, "crt", "c1")
				err := settled(t, func() error {
					_, err := kv.Create(opCtx(t), "crt", EncodeValue("c2", 32))
					return err
				})
				expect(t, history.OpCreate, err, history.Fail, history.ClassConflict)
				expectAPICode(t, err, b.conflict)
				if !errors.Is(err, jetstream.ErrKeyExists) {
					t.Errorf("create on existing key does not match ErrKeyExists: %s", describeErr(err))
				}
			})
			t.Run("get-not-found", func(t *testing.T) {
				_, err := kv.Get(opCtx(t), "never-written")
				if err == nil {
					t.Fatal("get of a missing key succeeded")
				}
				expect(t, history.OpGet, err, history.OK, "")

				mustPut(t, kv, "gone", "g1")
				if err := kv.Delete(opCtx(t), "gone"); err != nil {
					t.Fatalf("delete: %v", err)
				}
				// Direct gets may be answered by a replica that has not
				// applied the delete yet (R3): wait until one says so.
				deadline := time.Now().Add(5 * time.Second)
				for {
					_, err = kv.Get(opCtx(t), "gone")
					if err != nil || time.Now().After(deadline) {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				if err == nil {
					t.Fatal("get of a deleted key kept returning a value")
				}
				expect(t, history.OpGet, err, history.OK, "")
			})
			t.Run("bad-request", func(t *testing.T) {
				_, err := kv.Put(opCtx(t), "bad key*", EncodeValue("b1", 32))
				expect(t, history.OpPut, err, history.Fail, history.ClassBadRequest)
				_, err = kv.Create(opCtx(t), "bad key*", EncodeValue("b2", 32))
				expect(t, history.OpCreate, err, history.Fail, history.ClassBadRequest)
				err = kv.Delete(opCtx(t), "bad key*")
				expect(t, history.OpDelete, err, history.Fail, history.ClassBadRequest)
				// A get of an invalid key is a failed read.
				_, err = kv.Get(opCtx(t), "bad key*")
				expect(t, history.OpGet, err, history.Fail, history.ClassBadRequest)

				// Larger than the bucket's MaxValueSize: refused by the server.
				_, err = b.small.Put(opCtx(t), "big", EncodeValue("b3", smallMax+1))
				expect(t, history.OpPut, err, history.Fail, history.ClassBadRequest)
				expectAPICode(t, err, jetstream.JSErrCodeStreamMessageExceedsMaximum)
				_, err = b.small.Update(opCtx(t), "big", EncodeValue("b4", 4*smallMax), 0)
				expect(t, history.OpUpdate, err, history.Fail, history.ClassBadRequest)

				// Larger than the server's max_payload: refused by the client.
				max := e.nc1.MaxPayload()
				_, err = kv.Put(opCtx(t), "huge", EncodeValue("b5", int(max)+1))
				expect(t, history.OpPut, err, history.Fail, history.ClassBadRequest)
				if !errors.Is(err, nats.ErrMaxPayload) {
					t.Errorf("oversized message: want nats.ErrMaxPayload, got %s", describeErr(err))
				}
			})
			t.Run("timeout", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
				defer cancel()
				<-ctx.Done()
				_, err := kv.Put(ctx, "to", EncodeValue("t1", 32))
				expect(t, history.OpPut, err, history.Unknown, history.ClassTimeout)
				_, err = kv.Update(ctx, "to", EncodeValue("t2", 32), 1)
				expect(t, history.OpUpdate, err, history.Unknown, history.ClassTimeout)
				_, err = kv.Create(ctx, "to", EncodeValue("t3", 32))
				expect(t, history.OpCreate, err, history.Unknown, history.ClassTimeout)
				err = kv.Delete(ctx, "to")
				expect(t, history.OpDelete, err, history.Unknown, history.ClassTimeout)
				// Reads: a timeout is a failed read, never unknown.
				_, err = kv.Get(ctx, "to")
				expect(t, history.OpGet, err, history.Fail, history.ClassTimeout)
			})
			t.Run("canceled", func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_, err := kv.Put(ctx, "cx", EncodeValue("x1", 32))
				expect(t, history.OpPut, err, history.Unknown, history.ClassCanceled)
				err = kv.Purge(ctx, "cx")
				expect(t, history.OpPurge, err, history.Unknown, history.ClassCanceled)
				_, err = kv.Get(ctx, "cx")
				expect(t, history.OpGet, err, history.Fail, history.ClassCanceled)
			})
		})
	}

	t.Run("R3-conflict-inflight", func(t *testing.T) {
		// On a replicated stream the leader checks a CAS before proposing
		// it; while another write to the same key is proposed but not yet
		// applied it refuses at once with 10164 "wrong last sequence" (no
		// number). Nothing is written: a definite conflict. Provoke it with
		// concurrent CAS writes expecting the same, current, revision.
		const racers = 4
		seen := map[jetstream.ErrorCode]int{}
		for round := 0; round < 50 && seen[jetstream.JSErrCodeStreamWrongLastSequenceConstant] == 0; round++ {
			key := fmt.Sprintf("race%d", round)
			rev := mustPut(t, e.kv3, key, "r0")
			ops := make([]string, racers)
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for i := 0; i < racers; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i%2 == 0 {
						ops[i] = history.OpUpdate
						_, errs[i] = e.kv3.Update(opCtx(t), key, EncodeValue(fmt.Sprintf("r%d", i+1), 32), rev)
					} else {
						ops[i] = history.OpDelete
						errs[i] = e.kv3.Delete(opCtx(t), key, jetstream.LastRevision(rev))
					}
				}()
			}
			wg.Wait()
			winners := 0
			for i, err := range errs {
				if err == nil {
					winners++
					continue
				}
				want := history.ClassConflict
				var api *jetstream.APIError
				if errors.As(err, &api) {
					if api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant {
						want = history.ClassBusy
					}
					seen[api.ErrorCode]++
				}
				if out, class := Classify(ops[i], err); out != history.Fail || class != want {
					t.Errorf("racing %s: %s classified %s/%q, want fail/%s", ops[i], describeErr(err), out, class, want)
				}
			}
			if winners > 1 {
				t.Errorf("round %d: %d CAS writes expecting revision %d all succeeded", round, winners, rev)
			}
		}
		t.Logf("conflict codes seen: %v", seen)
		if seen[jetstream.JSErrCodeStreamWrongLastSequenceConstant] == 0 {
			t.Errorf("no 10164 in 50 rounds of racing CAS writes on R3")
		}
	})

	t.Run("no-responders", func(t *testing.T) {
		// A handle obtained before its bucket is deleted: the publish
		// reaches no stream. nats.go retries twice on no responders.
		kv, err := cluster.CreateBucket(opCtx(t), e.js1, cluster.BucketConfig{Name: "doomed", Replicas: 1, Storage: "memory", History: 1})
		if err != nil {
			t.Fatalf("creating bucket: %v", err)
		}
		if err := cluster.DeleteBucket(opCtx(t), e.js1, "doomed"); err != nil {
			t.Fatalf("deleting bucket: %v", err)
		}
		_, err = kv.Put(opCtx(t), "k", EncodeValue("n1", 32))
		expect(t, history.OpPut, err, history.Fail, history.ClassNoResponders)
		if !errors.Is(err, jetstream.ErrNoStreamResponse) {
			t.Errorf("want jetstream.ErrNoStreamResponse, got %s", describeErr(err))
		}
	})

	t.Run("disconnected", func(t *testing.T) {
		nc, js := connect(t, e.one.ClientURLs())
		kv, err := js.KeyValue(opCtx(t), "cls1")
		if err != nil {
			t.Fatalf("binding bucket: %v", err)
		}
		nc.Close()
		_, err = kv.Put(opCtx(t), "dc", EncodeValue("z1", 32))
		expect(t, history.OpPut, err, history.Unknown, history.ClassDisconnected)
		_, err = kv.Update(opCtx(t), "dc", EncodeValue("z2", 32), 1)
		expect(t, history.OpUpdate, err, history.Unknown, history.ClassDisconnected)
		err = kv.Delete(opCtx(t), "dc")
		expect(t, history.OpDelete, err, history.Unknown, history.ClassDisconnected)
		_, err = kv.Get(opCtx(t), "dc")
		expect(t, history.OpGet, err, history.Fail, history.ClassDisconnected)
	})

	// Last: it breaks the shared 3-node cluster.
	t.Run("quorum-loss", func(t *testing.T) {
		if testing.Short() {
			t.Skip("quorum loss waits for op timeouts")
		}
		servers := e.three.Servers()
		survivor := servers[0]
		_, js := connect(t, []string{survivor.ClientURL()})
		kv, err := js.KeyValue(opCtx(t), "cls3")
		if err != nil {
			t.Fatalf("binding bucket: %v", err)
		}
		mustPut(t, kv, "q", "q0") // the bucket works through this node
		// For the last step; binding needs the meta leader, so bind now.
		lost, err := nats.Connect(survivor.ClientURL(), nats.NoReconnect())
		if err != nil {
			t.Fatalf("connecting: %v", err)
		}
		t.Cleanup(lost.Close)
		ljs, err := jetstream.New(lost)
		if err != nil {
			t.Fatalf("jetstream: %v", err)
		}
		lkv, err := ljs.KeyValue(opCtx(t), "cls3")
		if err != nil {
			t.Fatalf("binding bucket: %v", err)
		}
		for _, s := range servers[1:] {
			s.Shutdown()
		}
		for _, s := range servers[1:] {
			s.WaitForShutdown()
		}
		// Several attempts: the first lands while the survivor may still
		// think it leads, later ones after it may have stepped down. Once
		// it has, the stream's subjects have no subscriber anywhere (only a
		// stream leader subscribes to them), so "no responders" is the
		// answer: a definite failure, nothing could have stored the write.
		// Which of the two each attempt gets is a race, so both are right.
		for i := 0; i < 2; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			t0 := time.Now()
			_, err := kv.Put(ctx, "q", EncodeValue(fmt.Sprintf("q%d", i+1), 32))
			cancel()
			out, class := Classify(history.OpPut, err)
			t.Logf("put %d without quorum after %s: %s -> %s/%q", i+1, time.Since(t0).Round(time.Millisecond), describeErr(err), out, class)
			if err == nil {
				t.Errorf("put without quorum succeeded")
				continue
			}
			noLeader := out == history.Fail && class == history.ClassNoResponders
			if out != history.Unknown && !noLeader {
				t.Errorf("put without quorum classified %s/%q, want unknown (or fail/no-responders once no leader is left)", out, class)
			}
		}

		// A connection lost while a write waits for its ack: the survivor
		// goes down under a put it has not answered.
		done := make(chan error, 1)
		go func() {
			_, err := lkv.Put(opCtx(t), "q", EncodeValue("q-lost", 32))
			done <- err
		}()
		time.Sleep(100 * time.Millisecond)
		survivor.Shutdown()
		err = <-done
		expect(t, history.OpPut, err, history.Unknown, history.ClassDisconnected)
	})
}

// TestClassifySynthetic covers errors we cannot easily provoke: other
// server versions' codes, wrapping, and errors the table does not know.
func TestClassifySynthetic(t *testing.T) {
	wrongSeq := func(code jetstream.ErrorCode) error {
		return &jetstream.APIError{Code: 400, ErrorCode: code, Description: "wrong last sequence: 5"}
	}
	cases := []struct {
		name    string
		op      string
		err     error
		outcome history.Outcome
		class   string
	}{
		{"nil write", history.OpPut, nil, history.OK, ""},
		{"nil read", history.OpGet, nil, history.OK, ""},
		{"10071", history.OpUpdate, wrongSeq(10071), history.Fail, history.ClassConflict},
		{"10164", history.OpUpdate, wrongSeq(10164), history.Fail, history.ClassBusy},
		{"10071 naming no revision", history.OpUpdate, &jetstream.APIError{Code: 400, ErrorCode: 10071, Description: "wrong last sequence"}, history.Fail, history.ClassBusy},
		{"10071 wrapped like nats.go", history.OpDelete, fmt.Errorf("nats: %w", wrongSeq(10071)), history.Fail, history.ClassConflict},
		{"old code, description", history.OpUpdate, wrongSeq(10999), history.Fail, history.ClassConflict},
		{"old server, text only", history.OpCreate, errors.New("nats: wrong last sequence: 5"), history.Fail, history.ClassConflict},
		{"503", history.OpPut, &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, history.Unknown, history.ClassUnavailable},
		{"503 read", history.OpGet, &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, history.Fail, history.ClassUnavailable},
		{"no leader text", history.OpPut, errors.New("nats: no leader"), history.Unknown, history.ClassUnavailable},
		{"400 other", history.OpPut, &jetstream.APIError{Code: 400, ErrorCode: 10054, Description: "message size exceeds maximum allowed"}, history.Fail, history.ClassBadRequest},
		{"msg not found on read", history.OpGet, &jetstream.APIError{Code: 404, ErrorCode: 10037, Description: "no message found"}, history.OK, ""},
		{"not found on write", history.OpPut, jetstream.ErrKeyNotFound, history.Unknown, history.ClassOther},
		{"async ack timeout", history.OpPut, jetstream.ErrAsyncPublishTimeout, history.Unknown, history.ClassTimeout},
		{"nats timeout", history.OpPut, nats.ErrTimeout, history.Unknown, history.ClassTimeout},
		{"reconnecting", history.OpPut, nats.ErrConnectionReconnecting, history.Unknown, history.ClassDisconnected},
		{"wrapped deadline", history.OpPut, fmt.Errorf("op: %w", context.DeadlineExceeded), history.Unknown, history.ClassTimeout},
		{"odd write", history.OpPut, errors.New("something odd"), history.Unknown, history.ClassOther},
		{"odd read", history.OpGet, errors.New("something odd"), history.Fail, history.ClassOther},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, class := Classify(c.op, c.err)
			if out != c.outcome || class != c.class {
				t.Errorf("Classify(%q, %v) = %s/%q, want %s/%q", c.op, c.err, out, class, c.outcome, c.class)
			}
		})
	}
}
