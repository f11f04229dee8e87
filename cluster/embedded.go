// Package cluster starts, connects to and tears down the NATS servers a run
// talks to: servers embedded in this process, or external ones given by URL.
// It sits below workload and chaos, which both use it.
package cluster

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/logger"
	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig describes an in-process cluster.
type EmbeddedConfig struct {
	Nodes int
	// LogDir, when set, receives one <node>.log per server; otherwise the
	// servers log nothing, so a run's stdout stays readable.
	LogDir string
	// ReadyTimeout bounds how long we wait for routes and a JetStream leader.
	ReadyTimeout time.Duration
	// StoreParent is where the JetStream store directory is made (default:
	// the system temp dir). Runs put it in their results folder, so a
	// harness killed with SIGKILL leaves its data there, not in /tmp.
	StoreParent string
	// Sync: how often the stores are fsynced.
	Sync SyncInterval
}

// Embedded is a running set of nats-server instances inside this process,
// clustered over loopback on ports the kernel picked.
type Embedded struct {
	servers  []*server.Server
	loggers  []*logger.Logger
	storeDir string
}

// StartEmbedded starts cfg.Nodes servers with JetStream. A JetStream
// cluster needs every node to know its routes before it starts, so cluster
// ports are picked up front (free ports from the kernel); if one was taken
// in between, the whole attempt is torn down and retried with new ports.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Nodes < 1 {
		return nil, fmt.Errorf("nodes must be at least 1, got %d", cfg.Nodes)
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		e, err := startEmbeddedOnce(cfg)
		if err == nil {
			return e, nil
		}
		last = err
	}
	return nil, last
}

func startEmbeddedOnce(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.StoreParent != "" {
		if err := os.MkdirAll(cfg.StoreParent, 0o700); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp(cfg.StoreParent, "kvharness-store-")
	if err != nil {
		return nil, fmt.Errorf("creating store dir: %w", err)
	}
	e := &Embedded{storeDir: dir}
	var routes []*url.URL
	var ports []int
	if cfg.Nodes > 1 {
		if ports, err = FreePorts(cfg.Nodes); err != nil {
			e.Shutdown()
			return nil, err
		}
		for _, p := range ports {
			routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
		}
	}
	for i := 0; i < cfg.Nodes; i++ {
		name := fmt.Sprintf("n%d", i+1)
		opts := &server.Options{
			ServerName: name,
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   filepath.Join(dir, name),
			NoSigs:     true,
			NoLog:      cfg.LogDir == "",
		}
		every, always, err := cfg.Sync.parse()
		if err != nil {
			return nil, err
		}
		opts.SyncInterval, opts.SyncAlways = every, always
		if cfg.Nodes > 1 {
			opts.Cluster = server.ClusterOpts{Name: "kvharness", Host: "127.0.0.1", Port: ports[i]}
			opts.Routes = routes
		}
		s, err := server.NewServer(opts)
		if err != nil {
			e.Shutdown()
			return nil, fmt.Errorf("configuring embedded server %s: %w", name, err)
		}
		if cfg.LogDir != "" {
			if err := os.MkdirAll(cfg.LogDir, 0o700); err != nil {
				e.Shutdown()
				return nil, err
			}
			l := logger.NewFileLogger(filepath.Join(cfg.LogDir, name+".log"), true, false, false, true)
			s.SetLogger(nonFatal{l}, false, false)
			e.loggers = append(e.loggers, l)
		}
		s.Start()
		e.servers = append(e.servers, s)
	}
	for _, s := range e.servers {
		if !s.ReadyForConnections(cfg.ReadyTimeout) {
			e.Shutdown()
			return nil, fmt.Errorf("embedded server %s did not become ready within %s", s.Name(), cfg.ReadyTimeout)
		}
	}
	if err := e.waitClustered(cfg.ReadyTimeout); err != nil {
		e.Shutdown()
		return nil, err
	}
	return e, nil
}

// FreePorts asks the kernel for n distinct free loopback ports. They are
// free when returned; a caller must cope with one being taken meanwhile.
func FreePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// nonFatal keeps a server's fatal errors from exiting this process: the file
// logger's Fatalf calls os.Exit, which would kill the harness (and its
// history) over one embedded node that cannot start.
type nonFatal struct{ *logger.Logger }

func (n nonFatal) Fatalf(format string, v ...any) { n.Errorf("FATAL: "+format, v...) }

// waitClustered waits for a full route mesh and a JetStream meta leader, so
// the first bucket creation does not race the cluster forming.
func (e *Embedded) waitClustered(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	n := len(e.servers)
	for time.Now().Before(deadline) {
		ready := true
		leader := n == 1
		for _, s := range e.servers {
			if n > 1 && s.NumRoutes() < n-1 {
				ready = false
			}
			if s.JetStreamIsLeader() {
				leader = true
			}
		}
		if ready && leader {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("embedded cluster of %d nodes did not form (routes and JetStream leader) within %s", n, timeout)
}

// ClientURLs returns one client URL per node.
func (e *Embedded) ClientURLs() []string {
	urls := make([]string, 0, len(e.servers))
	for _, s := range e.servers {
		urls = append(urls, s.ClientURL())
	}
	return urls
}

// Servers exposes the running servers for fault injection and tests.
func (e *Embedded) Servers() []*server.Server { return e.servers }

// Shutdown stops every server and removes the store directory.
func (e *Embedded) Shutdown() {
	for _, s := range e.servers {
		s.Shutdown()
	}
	for _, s := range e.servers {
		s.WaitForShutdown()
	}
	for _, l := range e.loggers {
		l.Close()
	}
	if e.storeDir != "" {
		os.RemoveAll(e.storeDir)
	}
}
