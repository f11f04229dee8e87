package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/internal/lazyfs"
)

// ProcessConfig describes a cluster of separate nats-server processes.
type ProcessConfig struct {
	// Bin is the nats-server binary to run (any release).
	Bin   string
	Nodes int
	// Dir holds configs and stores; removed by Stop unless Keep.
	Dir  string
	Keep bool
	// LogDir receives <node>.log (default: Dir); logs there outlive Stop.
	LogDir string
	// SelfServe: Bin is kvharness itself, run as `kvharness server -c CONF`.
	SelfServe bool
	// ReadyTimeout bounds the wait for every node to serve JetStream.
	ReadyTimeout time.Duration
	// Seed seeds the link proxies' jitter.
	Seed uint64
	// Sync: how often the stores are fsynced.
	Sync SyncInterval
	// LazyStores puts each node's store on a lazyfs, which can lose what
	// the node did not fsync (see LosePower).
	LazyStores bool
	// SystemAccount gives the nodes a system account the harness alone
	// can use (see Replace); clients without credentials stay in one
	// account with JetStream, as without it.
	SystemAccount bool
}

// Processes is a running cluster of nats-server processes.
type Processes struct {
	cfg    ProcessConfig
	mu     sync.Mutex // guards cmds, bins and paused against a nemesis changing nodes
	cmds   []*exec.Cmd
	bins   []string // per node: a rolling upgrade swaps them one by one
	paused []bool
	confs  []string
	logs   []string
	urls   []string
	names  []string
	// monitors are the nodes' HTTP monitoring URLs (/routez, /jsz, ...).
	monitors []string
	// Links carries every route between nodes (nil for one node), so
	// partitions and latency need no root.
	Links *Links
	// lazy: each node's lazyfs store, with LazyStores.
	lazy []*lazyfs.FS
	// sys: the system account's user, with SystemAccount; replaced counts
	// the nodes replaced, which take the next names (n6, n7 on five).
	sys      *systemUser
	replaced int
}

// StartProcesses starts cfg.Nodes nats-server processes clustered over
// loopback. Each child gets SIGKILL when this process dies (Pdeathsig), so a
// crashed harness leaves no servers behind.
//
// A fresh cluster is only ready when it can place a stream on every node:
// nats-server 2.10 sometimes settles, for good, on fewer peers than it has
// nodes ("Decreasing our clustersize"), while every node looks healthy. Such
// a start is thrown away and tried again on new ports.
func StartProcesses(cfg ProcessConfig) (*Processes, error) {
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := startProcessesOnce(cfg)
		if err == nil {
			return p, nil
		}
		last = err
	}
	return nil, last
}

func startProcessesOnce(cfg ProcessConfig) (*Processes, error) {
	if cfg.Nodes < 1 {
		return nil, fmt.Errorf("nodes must be at least 1")
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	if err := cfg.Sync.Validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.Bin); err != nil {
		return nil, fmt.Errorf("nats-server binary: %w", err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	ports, err := FreePorts(3 * cfg.Nodes)
	if err != nil {
		return nil, err
	}
	client, route, monitor := ports[:cfg.Nodes], ports[cfg.Nodes:2*cfg.Nodes], ports[2*cfg.Nodes:]
	p := &Processes{cfg: cfg}
	if cfg.SystemAccount {
		if p.sys, err = newSystemUser(); err != nil {
			return nil, err
		}
	}
	if cfg.Nodes > 1 {
		var addrs []string
		for _, port := range route {
			addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", port))
		}
		if p.Links, err = NewLinks(addrs, cfg.Seed); err != nil {
			return nil, err
		}
	}
	for i := 0; i < cfg.Nodes; i++ {
		name := fmt.Sprintf("n%d", i+1)
		storeDir := p.StoreDir(i)
		if cfg.LazyStores {
			// The server writes through the mount; StoreDir keeps what is
			// on "disk" (and outlives the run with Keep).
			l, err := lazyfs.Mount(filepath.Join(cfg.Dir, name+".mnt"), storeDir)
			if err != nil {
				p.Stop()
				return nil, err
			}
			p.lazy = append(p.lazy, l)
			storeDir = l.Mountpoint()
		}
		conf := fmt.Sprintf("server_name: %s\nlisten: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\njetstream { store_dir: %q%s }\n", name, client[i], monitor[i], storeDir, cfg.Sync.conf())
		if cfg.Nodes > 1 {
			conf += fmt.Sprintf("cluster { name: kvh, listen: 127.0.0.1:%d, advertise: %q, routes: [%s] }\n",
				route[i], p.Links.Advertise(), strings.Join(p.Links.RoutesFor(i), ", "))
		}
		conf += p.sys.conf()
		confPath := filepath.Join(cfg.Dir, name+".conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
			p.Stop()
			return nil, err
		}
		logDir := cfg.Dir
		if cfg.LogDir != "" {
			logDir = cfg.LogDir
			if err := os.MkdirAll(logDir, 0o700); err != nil {
				p.Stop()
				return nil, err
			}
		}
		p.confs = append(p.confs, confPath)
		p.logs = append(p.logs, filepath.Join(logDir, name+".log"))
		cmd, err := p.launch(len(p.confs)-1, cfg.Bin, os.O_CREATE|os.O_TRUNC|os.O_WRONLY)
		if err != nil {
			p.Stop()
			return nil, err
		}
		p.cmds = append(p.cmds, cmd)
		p.bins = append(p.bins, cfg.Bin)
		p.paused = append(p.paused, false)
		p.monitors = append(p.monitors, fmt.Sprintf("http://127.0.0.1:%d", monitor[i]))
		p.names = append(p.names, name)
		p.urls = append(p.urls, fmt.Sprintf("nats://127.0.0.1:%d", client[i]))
		time.Sleep(50 * time.Millisecond) // staggered starts make a short-sized cluster rarer
	}
	if err := p.waitReady(); err != nil {
		p.Stop()
		return nil, err
	}
	if err := p.probePlacement(); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// probePlacement creates and deletes a stream replicated on every node.
func (p *Processes) probePlacement() error {
	if p.cfg.Nodes == 1 {
		return nil
	}
	nc, err := nats.Connect(strings.Join(p.urls, ","), nats.Timeout(time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KVHARNESS_PROBE", Subjects: []string{"kvharness.probe"}, Replicas: p.cfg.Nodes, Storage: jetstream.MemoryStorage})
		if err == nil {
			return js.DeleteStream(ctx, "KVHARNESS_PROBE")
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("nats-server cluster of %d cannot place a stream on every node: %v", p.cfg.Nodes, last)
}

// waitReady waits until every node answers the JetStream API.
func (p *Processes) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.ReadyTimeout)
	defer cancel()
	for i, u := range p.urls {
		for {
			nc, err := nats.Connect(u, nats.Timeout(time.Second))
			if err == nil {
				err = WaitJetStream(ctx, nc)
				nc.Close()
				if err == nil {
					break
				}
			}
			if ctx.Err() != nil {
				return fmt.Errorf("nats-server %s (%s) not ready within %s: %v; see its log", p.names[i], u, p.cfg.ReadyTimeout, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// launch starts node i's process; its output goes to the node's log.
func (p *Processes) launch(i int, bin string, logFlags int) (*exec.Cmd, error) {
	logf, err := os.OpenFile(p.logs[i], logFlags, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	args := []string{"-c", p.confs[i]}
	if p.cfg.SelfServe {
		args = append([]string{"server"}, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = serverEnv(os.Environ())
	// Own process group: a Ctrl-C at the terminal goes to the harness, which
	// stops the workload and still needs the servers for its final reads.
	// Pdeathsig: the servers die with the harness, even on SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	return cmd, nil
}

// Names returns the node names, n1... (a replaced node has a new one).
func (p *Processes) Names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.names)
}

// Kill sends SIGKILL to node i and reaps it: a crash, no shutdown.
func (p *Processes) Kill(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cmds[i]
	if c == nil {
		return fmt.Errorf("%s is not running", p.names[i])
	}
	_ = c.Process.Kill()
	_ = c.Wait()
	p.cmds[i] = nil
	p.paused[i] = false
	return nil
}

// Restart starts node i again on the same config and store directory.
func (p *Processes) Restart(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.cmds[i]; c != nil {
		if processState(c.Process.Pid) != 'Z' {
			return nil // still running
		}
		_ = c.Wait() // it exited on its own (a crash on restart): reap it, start it again
	}
	cmd, err := p.launch(i, p.bins[i], os.O_CREATE|os.O_APPEND|os.O_WRONLY)
	if err != nil {
		return err
	}
	p.cmds[i] = cmd
	p.paused[i] = false
	return nil
}

// URLs returns the client URLs, one per node.
func (p *Processes) URLs() []string { return p.urls }

// Stop kills every process, waits for them and removes Dir unless Keep.
func (p *Processes) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Links != nil {
		p.Links.Close()
	}
	for _, c := range p.cmds {
		if c != nil && c.Process != nil {
			_ = c.Process.Kill()
		}
	}
	for _, c := range p.cmds {
		if c != nil {
			_ = c.Wait()
		}
	}
	p.cmds = nil
	for _, l := range p.lazy {
		_ = l.Unmount() // the backing folder holds the store
	}
	p.lazy = nil
	if !p.cfg.Keep {
		os.RemoveAll(p.cfg.Dir)
	}
}

// serverEnv is the environment a spawned server gets: the harness's, less
// its secrets (a server has no use for the fleet's secret).
func serverEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "KVHARNESS_FLEET_SECRET=") {
			out = append(out, kv)
		}
	}
	return out
}
