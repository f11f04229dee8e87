package fleet

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/workload"
)

// A worker's history is merged only as far as it is whole: every frame in
// order under the run's seal, ended by its sealed Done counting them. A
// frame gone missing, a Done from someone without the secret, or a Done
// that counts more frames than arrived each leave the worker lost, its
// records up to the break kept; a whole history is merged, its times moved
// by the worker's offset.
func TestMergeKeepsOnlyWholeHistories(t *testing.T) {
	ctl, err := StartControl("127.0.0.1:0", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Stop()
	nc, err := nats.Connect(ctl.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const secret, run = "fleet-secret", "run1"
	c, err := NewCoordinator(ctx, nc, run, secret, func() int64 { return 0 }, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	enc, _ := zstd.NewWriter(nil)
	frame := func(client int, at int64) []byte {
		r := history.Record{Kind: history.KindOp, Client: client, Op: history.OpPut, Key: "k", Value: "v" + strconv.FormatInt(at, 10),
			Outcome: history.OK, Rev: uint64(at), Invoke: at, Complete: at + 10}
		b, _ := json.Marshal(&r)
		return enc.EncodeAll(append(b, '\n'), nil)
	}
	// send publishes what a worker named name would, chunks numbered as
	// listed (0: skipped), then a Done counting done frames, sealed with
	// doneSecret ("": none).
	send := func(name string, chunks []int, done int, doneSecret string) {
		s := &streamSink{js: js, seal: sealer(secret, run), subject: historySubject(run, name), run: run, worker: name}
		for _, n := range chunks {
			s.chunks = n - 1
			if _, err := s.Write(frame(1, int64(1000*n))); err != nil {
				t.Fatal(err)
			}
		}
		body, _ := json.Marshal(Done{Chunks: done})
		if doneSecret != "" {
			s.seal = sealer(doneSecret, run)
		}
		if err := s.publish(body, nats.Header{hdrDone: []string{"1"}}); err != nil {
			t.Fatal(err)
		}
	}
	send("whole", []int{1, 2, 3}, 3, secret)
	send("gap", []int{1, 3}, 3, secret)
	send("forged", []int{1, 2}, 2, "not-the-secret")
	send("short", []int{1, 2}, 3, secret)
	for _, name := range []string{"whole", "gap", "forged", "short"} {
		c.workers = append(c.workers, &remote{name: name, ests: []estimate{{offset: 500, bound: 20}},
			job: Job{Workload: jobWorkload(1)}})
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	out, err := history.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	meta := &history.Meta{Scenario: "merge"}
	if err := c.Merge(ctx, out, meta); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		ops  int64
		lost string
	}{
		"whole":  {3, ""},
		"gap":    {1, "skips from frame 1 to 3"},
		"forged": {2, "fails its seal"},
		"short":  {2, "sent 3 frames of history, 2 arrived"},
	}
	for _, w := range meta.Workers {
		if got := want[w.Name]; w.Ops != got.ops || (got.lost == "") != (w.Lost == "") || !strings.Contains(w.Lost, got.lost) {
			t.Errorf("worker %s: %d ops, lost %q; want %d ops, lost %q", w.Name, w.Ops, w.Lost, got.ops, got.lost)
		}
		if w.OffsetNs != 500 || w.BoundNs != 20 {
			t.Errorf("worker %s: offset %d ± %d", w.Name, w.OffsetNs, w.BoundNs)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The first whole frame's op, invoked at 1000 on the worker's clock,
	// is at 500 on the run's.
	if !strings.Contains(string(b), `"invoke":500,`) {
		t.Errorf("times not moved by the offset:\n%s", b)
	}
}

// jobWorkload is a share of one client.
func jobWorkload(clients int) (w workload.Config) {
	w.Clients, w.FirstClient = clients, 1
	return w
}
