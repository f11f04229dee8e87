package cluster

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kvharness/kvharness/internal/testenv"
)

// startTestProcesses starts 3 processes of the nats-server `make test`
// built, or skips (fails under `make test`) without it.
func startTestProcesses(t *testing.T) *Processes {
	t.Helper()
	if testing.Short() {
		t.Skip("starts 3 nats-server processes")
	}
	bin := testenv.ServerBin(t, testenv.NATSServer)
	p, err := StartProcesses(ProcessConfig{Bin: bin, Nodes: 3, Dir: t.TempDir() + "/cluster"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// waitRoutes polls node i until cond holds for its route count.
func waitRoutes(t *testing.T, p *Processes, i int, what string, cond func(int) bool) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, err := p.Routes(context.Background(), i)
		if err == nil && cond(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s has %d routes (%v)", what, p.Names()[i], n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestPartitionCutsRoutesAndHealRestoresThem(t *testing.T) {
	p := startTestProcesses(t)
	full := waitRoutes(t, p, 0, "formed", func(n int) bool { return n > 0 })

	// Isolate n1: it loses every route; n2 and n3 keep theirs to each other.
	if err := p.Links.Partition([][]int{{0}, {1, 2}}, LinkReset); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, p, 0, "isolated", func(n int) bool { return n == 0 })
	waitRoutes(t, p, 1, "majority", func(n int) bool { return n > 0 && n < full })
	// It stays cut: the servers' retries and gossip do not get around it.
	time.Sleep(2 * time.Second)
	waitRoutes(t, p, 0, "still isolated", func(n int) bool { return n == 0 })

	p.Links.Heal()
	waitRoutes(t, p, 0, "healed", func(n int) bool { return n == full })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPauseStopsANodeAnsweringAndResumeRestoresIt(t *testing.T) {
	p := startTestProcesses(t)
	nc, err := nats.Connect(p.URLs()[1], nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ask := func() error {
		_, err := nc.Request("$JS.API.INFO", nil, 500*time.Millisecond)
		return err
	}
	if err := ask(); err != nil {
		t.Fatalf("before pause: %v", err)
	}
	if err := p.Pause(1); err != nil {
		t.Fatal(err)
	}
	if err := ask(); err != nats.ErrTimeout {
		t.Fatalf("paused node answered: %v", err)
	}
	if err := p.Resume(1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ask() != nil {
		if time.Now().After(deadline) {
			t.Fatal("resumed node does not answer")
		}
	}
}

func TestKillEndsTheProcessAndRestartRejoins(t *testing.T) {
	p := startTestProcesses(t)
	full := waitRoutes(t, p, 2, "formed", func(n int) bool { return n > 0 })
	pid := p.Pid(2)
	if err := p.Kill(2); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("killed node's pid %d still exists", pid)
	}
	if p.Running(2) {
		t.Fatal("killed node reported running")
	}
	if err := p.Restart(2); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, p, 2, "rejoined", func(n int) bool { return n == full })
}
