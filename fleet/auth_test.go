package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kvharness/kvharness/internal/testenv"
	"github.com/kvharness/kvharness/workload"
)

// goodJob is a job a worker with default limits takes.
func goodJob() Job {
	return Job{Run: "run1", Worker: "w", Target: []string{"nats://127.0.0.1:1"}, Bucket: "b",
		Workload: workload.Config{Clients: 2, FirstClient: 1, Duration: time.Second, Keys: workload.NewKeySpace(4, 0), Mix: workload.Mix{"put": 1}}}
}

// Only the coordinator of a run drives a worker: the control server admits
// no client without its token, and the worker refuses, with a line in its
// log, a command unsigned, signed with another secret, a job naming a
// binary to run, a target outside its allow list, or more load than its
// limits.
func TestWorkerRefuses(t *testing.T) {
	ctl, err := StartControl("127.0.0.1:0", "control-token", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Stop()
	if nc, err := nats.Connect(ctl.URL()); err == nil {
		nc.Close()
		t.Fatal("a client without the control server's token connected")
	}
	wnc, err := nats.Connect(ctl.URL(), nats.Token("control-token"))
	if err != nil {
		t.Fatal(err)
	}
	defer wnc.Close()
	var log testenv.SyncBuffer
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, wnc, WorkerConfig{Name: "w", Secret: "fleet-secret", Log: &log}) }()
	defer func() { stop(); <-served }()

	nc, err := nats.Connect(ctl.URL(), nats.Token("control-token"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// send sends a command as a coordinator would, signed by sig (nil:
	// unsigned) over its parts, and returns the worker's answer.
	type signer func(verb, nonce, sent string, body []byte) string
	bySecret := func(secret, run, worker string) signer {
		return func(verb, nonce, sent string, body []byte) string {
			return sign(secret, run, "cmd", verb, worker, nonce, sent, string(body))
		}
	}
	good := bySecret("fleet-secret", "run1", "w")
	send := func(verb string, body []byte, sig signer, n string, sent time.Time) (reply, *nats.Msg) {
		t.Helper()
		msg := nats.NewMsg(workerSubject("w", verb))
		msg.Data = body
		ts := strconv.FormatInt(sent.UnixNano(), 10)
		msg.Header.Set(hdrNonce, n)
		msg.Header.Set(hdrSent, ts)
		if sig != nil {
			msg.Header.Set(hdrAuth, sig(verb, n, ts, body))
		}
		var m *nats.Msg
		var err error
		for range 50 { // the worker's endpoints may not be up yet
			if m, err = nc.RequestMsg(msg, 2*time.Second); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		var r reply
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatalf("%s: %q", verb, m.Data)
		}
		return r, m
	}
	marshal := func(j Job) []byte { b, _ := json.Marshal(j); return b }
	job := marshal(goodJob())
	withField := bytes.Replace(job, []byte(`{"run"`), []byte(`{"server_bin":"/bin/sh","run"`), 1)
	far := goodJob()
	far.Target = []string{"nats://10.1.2.3:4222"}
	many := goodJob()
	many.Workload.Clients = 5000
	long := goodJob()
	long.Workload.Duration = 100 * time.Hour
	now := time.Now()
	for _, c := range []struct {
		name, verb string
		body       []byte
		sig        signer
		sent       time.Time
		logged     string
	}{
		{"unsigned", "prepare", job, nil, now, "refused prepare: unsigned"},
		{"another secret", "prepare", job, bySecret("other", "run1", "w"), now, "signed with another secret"},
		{"signed for another worker", "prepare", job, bySecret("fleet-secret", "run1", "w2"), now, "for another run, worker or command"},
		{"a binary to run", "prepare", withField, good, now, `unknown field "server_bin"`},
		{"a target not allowed", "prepare", marshal(far), good, now, "10.1.2.3:4222 is not a loopback address"},
		{"too many clients", "prepare", marshal(many), good, now, "5000 clients"},
		{"too long", "prepare", marshal(long), good, now, "at most 2h0m0s"},
		{"sent long ago", "prepare", job, good, now.Add(-10 * time.Minute), "sent 10m0s ago"},
		{"start with nothing prepared", "start", []byte("{}"), good, now, "refused start: no job prepared"},
		{"not JSON", "prepare", []byte("{"), good, now, "bad job"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := send(c.verb, c.body, c.sig, nonce(), c.sent)
			if !strings.HasPrefix(r.Error, "refused") {
				t.Errorf("answer %+v, want a refusal", r)
			}
			deadline := time.Now().Add(2 * time.Second)
			for !strings.Contains(log.String(), c.logged) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(log.String(), c.logged) {
				t.Errorf("the worker's log does not say %q:\n%s", c.logged, log.String())
			}
		})
	}
	// A properly signed job within the limits gets past every check above
	// (it then fails to reach the target, which is not there), and the
	// answer is signed for that very command.
	n := nonce()
	r, m := send("prepare", job, good, n, time.Now())
	if strings.HasPrefix(r.Error, "refused") || r.Error == "" {
		t.Errorf("a good job: %+v", r)
	}
	if err := verify("fleet-secret", "run1", m.Header.Get(hdrAuth), "reply", "prepare", "w", n, string(m.Data)); err != nil {
		t.Errorf("the answer's signature: %v", err)
	}
	// The same command again is a replay.
	if r, _ := send("prepare", job, func(verb, _, sent string, body []byte) string { return good(verb, n, sent, body) }, n, time.Now()); !strings.Contains(r.Error, "replayed") {
		t.Errorf("a replayed command: %+v", r)
	}
}

// Whatever a client puts on a worker's prepare subject is decoded and
// checked without a panic, and refused in one line.
func FuzzDecodeJob(f *testing.F) {
	good, _ := json.Marshal(goodJob())
	f.Add(good)
	f.Add([]byte(`{"run":"r","workload":{"Clients":-1}}`))
	f.Add([]byte(`{"server_bin":"/bin/sh"}`))
	f.Add([]byte(`{"run":"r","target":["nats://u:p@h:1"],"workload":{"Clients":1,"Ops":1,"Rate":1e309}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		job, err := decodeJob(data)
		if err == nil {
			err = DefaultLimits.check(job)
		}
		if err != nil {
			testenv.OneLine(t, err)
		}
	})
}

// A history frame opens only as what it was sealed for: its run's key, its
// worker's subject, its number, untouched.
func TestSealedFrames(t *testing.T) {
	a := sealer("fleet-secret", "run1")
	frame := []byte(`{"kind":"op","value":"c1-1"}` + "\n")
	sealed := seal(a, frame, sealedAs(historySubject("run1", "w1"), "1"))
	if bytes.Contains(sealed, []byte("c1-1")) {
		t.Fatal("a sealed frame shows its contents")
	}
	if got, err := unseal(a, sealed, sealedAs(historySubject("run1", "w1"), "1")); err != nil || !bytes.Equal(got, frame) {
		t.Fatalf("opened %q, %v", got, err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"another worker": func() ([]byte, error) { return unseal(a, sealed, sealedAs(historySubject("run1", "w2"), "1")) },
		"another number": func() ([]byte, error) { return unseal(a, sealed, sealedAs(historySubject("run1", "w1"), "2")) },
		"another secret": func() ([]byte, error) {
			return unseal(sealer("other", "run1"), sealed, sealedAs(historySubject("run1", "w1"), "1"))
		},
		"another run": func() ([]byte, error) {
			return unseal(sealer("fleet-secret", "run2"), sealed, sealedAs(historySubject("run1", "w1"), "1"))
		},
		"a flipped bit":   func() ([]byte, error) { return unseal(a, tampered, sealedAs(historySubject("run1", "w1"), "1")) },
		"a short message": func() ([]byte, error) { return unseal(a, sealed[:5], sealedAs(historySubject("run1", "w1"), "1")) },
	} {
		if _, err := try(); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}
