package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kvharness/kvharness/workload"
)

// syncBuffer is a worker's log, read while it writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

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
	var log syncBuffer
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, wnc, WorkerConfig{Name: "w", Secret: "fleet-secret", Log: &log}) }()
	defer func() { stop(); <-served }()

	nc, err := nats.Connect(ctl.URL(), nats.Token("control-token"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	send := func(verb string, body []byte, signature string) reply {
		t.Helper()
		msg := nats.NewMsg(workerSubject("w", verb))
		msg.Data = body
		if signature != "" {
			msg.Header.Set(hdrAuth, signature)
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
		return r
	}
	marshal := func(j Job) []byte { b, _ := json.Marshal(j); return b }
	good := marshal(goodJob())
	withField := bytes.Replace(good, []byte(`{"run"`), []byte(`{"server_bin":"/bin/sh","run"`), 1)
	far := goodJob()
	far.Target = []string{"nats://10.1.2.3:4222"}
	many := goodJob()
	many.Workload.Clients = 5000
	long := goodJob()
	long.Workload.Duration = 100 * time.Hour
	for _, c := range []struct {
		name, verb string
		body       []byte
		signature  string
		logged     string
	}{
		{"unsigned", "prepare", good, "", "refused prepare: unsigned"},
		{"another secret", "prepare", good, sign("other", "run1", "prepare", good), "signed with another secret"},
		{"signed for another verb", "prepare", good, sign("fleet-secret", "run1", "start", good), "signed with another secret"},
		{"a binary to run", "prepare", withField, sign("fleet-secret", "run1", "prepare", withField), `unknown field "server_bin"`},
		{"a target not allowed", "prepare", marshal(far), sign("fleet-secret", "run1", "prepare", marshal(far)), "10.1.2.3:4222 is not a loopback address"},
		{"too many clients", "prepare", marshal(many), sign("fleet-secret", "run1", "prepare", marshal(many)), "5000 clients"},
		{"too long", "prepare", marshal(long), sign("fleet-secret", "run1", "prepare", marshal(long)), "at most 2h0m0s"},
		{"start with nothing prepared", "start", []byte("{}"), sign("fleet-secret", "run1", "start", []byte("{}")), "refused start: no job prepared"},
		{"not JSON", "prepare", []byte("{"), "x", "bad job"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := send(c.verb, c.body, c.signature)
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
	// (it then fails to reach the target, which is not there).
	r := send("prepare", good, sign("fleet-secret", "run1", "prepare", good))
	if strings.HasPrefix(r.Error, "refused") || r.Error == "" {
		t.Errorf("a good job: %+v", r)
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
		if err != nil && (err.Error() == "" || strings.ContainsAny(err.Error(), "\n\r")) {
			t.Fatalf("not one line: %q", err.Error())
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
