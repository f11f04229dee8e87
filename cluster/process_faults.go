package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kvharness/kvharness/internal/lazyfs"
)

// StoreDir is node i's JetStream store directory; it outlives a kill. On
// a lazy store it is the backing folder: what is on "disk".
func (p *Processes) StoreDir(i int) string {
	return filepath.Join(p.cfg.Dir, fmt.Sprintf("n%d", i+1))
}

// LosePower throws away everything node i wrote and did not fsync, as a
// power cut would, and says how much that was. The node must be down (Kill
// it first); its store must be on a lazyfs (ProcessConfig.LazyStores).
func (p *Processes) LosePower(i int) (lazyfs.Loss, error) {
	if p.Running(i) {
		return lazyfs.Loss{}, fmt.Errorf("%s is running: kill it before its power is lost", p.names[i])
	}
	if i >= len(p.lazy) {
		return lazyfs.Loss{}, fmt.Errorf("%s's store cannot lose unsynced writes (not on a lazy store)", p.names[i])
	}
	return p.lazy[i].DropUnsynced()
}

// Settle makes the file at path, in node i's store (as StoreDir names it),
// durable as it is now: a fault changed it on the disk, below the lazy
// store, whose record of it no longer holds. Nothing to do without lazy
// stores.
func (p *Processes) Settle(i int, path string) error {
	if i >= len(p.lazy) {
		return nil
	}
	return p.lazy[i].Forget(path)
}

// LazyStores: the nodes' stores can lose what was not fsynced.
func (p *Processes) LazyStores() bool { return len(p.lazy) > 0 }

// Running reports whether node i has a live process (paused counts; one
// that exited on its own, a zombie until reaped, does not).
func (p *Processes) Running(i int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmds[i] != nil && processState(p.cmds[i].Process.Pid) != 'Z'
}

// Pid is node i's process id, 0 when it is down.
func (p *Processes) Pid(i int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmds[i] == nil {
		return 0
	}
	return p.cmds[i].Process.Pid
}

// Pause freezes node i with SIGSTOP: its sockets stay open, nothing
// answers — a long GC pause or a stalled VM.
func (p *Processes) Pause(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cmds[i]
	if c == nil {
		return fmt.Errorf("%s is not running", p.names[i])
	}
	if err := c.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	p.paused[i] = true
	// A signal is delivered when the kernel next schedules the process: wait
	// until it is really stopped, so the fault window starts when it does.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if processState(c.Process.Pid) == 'T' {
			return nil
		}
	}
	return fmt.Errorf("%s did not stop within 2s of SIGSTOP", p.names[i])
}

// processState is the state letter of /proc/PID/stat (R, S, T, ...).
func processState(pid int) byte {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: the state follows
	// the last ')'.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2]
	}
	return 0
}

// Resume continues a paused node with SIGCONT.
func (p *Processes) Resume(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cmds[i]
	if c == nil || !p.paused[i] {
		return nil
	}
	p.paused[i] = false
	return c.Process.Signal(syscall.SIGCONT)
}

// Shutdown stops node i gracefully (SIGTERM, then SIGKILL after timeout):
// a planned restart, as an operator or an upgrade does it.
func (p *Processes) Shutdown(i int, timeout time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cmds[i]
	if c == nil {
		return fmt.Errorf("%s is not running", p.names[i])
	}
	if p.paused[i] {
		_ = c.Process.Signal(syscall.SIGCONT)
		p.paused[i] = false
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-time.After(timeout):
		_ = c.Process.Kill()
		<-done
		err = fmt.Errorf("%s did not stop within %s: killed", p.names[i], timeout)
	}
	p.cmds[i] = nil
	return err
}

// SetBin makes node i's next start run bin: a rolling upgrade.
func (p *Processes) SetBin(i int, bin string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bins[i] = bin
}

// Routes asks node i's monitoring endpoint how many routes it has.
func (p *Processes) Routes(ctx context.Context, i int) (int, error) {
	var rz struct {
		NumRoutes int `json:"num_routes"`
	}
	if err := getJSON(ctx, p.monitors[i]+"/routez", &rz); err != nil {
		return 0, err
	}
	return rz.NumRoutes, nil
}

// WaitHealthy waits until every node answers its /healthz with status ok
// (JetStream up and current), or ctx ends.
func (p *Processes) WaitHealthy(ctx context.Context) error {
	for i := range p.names {
		for {
			var hz struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			}
			err := getJSON(ctx, p.monitors[i]+"/healthz", &hz)
			if err == nil && hz.Status == "ok" {
				break
			}
			if err == nil {
				err = fmt.Errorf("%s", hz.Error)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not healthy: %v", p.names[i], err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

func getJSON(ctx context.Context, url string, v any) error {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
