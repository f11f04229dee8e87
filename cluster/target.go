package cluster

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kvharness/kvharness/internal/secrets"
	"github.com/nats-io/nats.go"
)

// Mode says where the servers of a run come from.
type Mode string

const (
	ModeEmbedded Mode = "embedded"
	ModeProcess  Mode = "process" // nats-server processes the harness spawns
	ModeExternal Mode = "external"
)

// Auth holds the usual NATS client credentials for external servers.
type Auth struct {
	CredsFile    string
	User         string
	Password     string
	Token        string
	NKeySeedFile string
	TLSCA        string
	TLSCert      string
	TLSKey       string
}

// Register adds the credentials' secrets to those scrubbed from all
// output (see package secrets): a password, a token, the seeds in an nkey
// seed or credentials file.
func (a Auth) Register() {
	secrets.Register(a.Password, a.Token)
	for _, f := range []string{a.NKeySeedFile, a.CredsFile} {
		if f != "" {
			secrets.RegisterSeedFile(f)
		}
	}
}

// Options turns the credentials into nats.go options.
func (a Auth) Options() ([]nats.Option, error) {
	var opts []nats.Option
	if a.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(a.CredsFile))
	}
	if a.User != "" || a.Password != "" {
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.Token != "" {
		opts = append(opts, nats.Token(a.Token))
	}
	if a.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(a.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("reading nkey seed %s: %w", a.NKeySeedFile, err)
		}
		opts = append(opts, o)
	}
	if a.TLSCA != "" {
		opts = append(opts, nats.RootCAs(a.TLSCA))
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		return nil, fmt.Errorf("TLS client certificate needs both --tlscert and --tlskey")
	}
	if a.TLSCert != "" {
		opts = append(opts, nats.ClientCert(a.TLSCert, a.TLSKey))
	}
	return opts, nil
}

// Target is the set of servers a run talks to, however they were obtained.
type Target struct {
	Mode  Mode
	URLs  []string
	Nodes int
	auth  []nats.Option
	// Embedded is set when the servers run in this process.
	Embedded *Embedded
	// Processes is set when the harness spawned nats-server processes.
	Processes *Processes
	// MonitorURLs: external servers' monitoring endpoints, when given.
	MonitorURLs []string
}

// TargetConfig selects and configures the servers of a run.
type TargetConfig struct {
	// ServerURLs, when non-empty, selects external servers; MonitorURLs
	// are their monitoring endpoints (http://host:8222), if reachable.
	ServerURLs  []string
	MonitorURLs []string
	Auth        Auth
	Nodes       int
	LogDir      string
	// StoreParent: see EmbeddedConfig.
	StoreParent string
	// ServerBin, when set, runs each node as a process of this nats-server
	// binary (any release) instead of embedding the servers. SelfServe:
	// ServerBin is this harness, run as `kvharness server`.
	ServerBin string
	SelfServe bool
	// Sync: how often the servers the harness starts fsync their stores.
	Sync SyncInterval
	// LazyStores: spawned nodes' stores on lazyfs; SystemAccount: the
	// harness's system account on spawned nodes (see ProcessConfig).
	LazyStores, SystemAccount bool
}

// Up starts embedded servers or prepares a connection to external ones.
// An external target is probed once here, so an unreachable server is a
// clear startup error rather than a run full of failed operations.
func Up(cfg TargetConfig) (*Target, error) {
	cfg.Auth.Register()
	for _, u := range append(slices.Clone(cfg.ServerURLs), cfg.MonitorURLs...) {
		secrets.RegisterURLsIn(u)
	}
	auth, err := cfg.Auth.Options()
	if err != nil {
		return nil, err
	}
	if len(cfg.ServerURLs) > 0 {
		t := &Target{Mode: ModeExternal, URLs: cfg.ServerURLs, auth: auth, Nodes: cfg.Nodes, MonitorURLs: cfg.MonitorURLs}
		nc, err := t.Connect("kvharness-probe")
		if err != nil {
			return nil, err
		}
		if t.Nodes == 0 {
			t.Nodes = countNodes(nc)
		}
		nc.Close()
		return t, nil
	}
	if cfg.ServerBin != "" {
		if cfg.StoreParent != "" {
			if err := os.MkdirAll(cfg.StoreParent, 0o700); err != nil {
				return nil, err
			}
		}
		dir, err := os.MkdirTemp(cfg.StoreParent, "kvharness-cluster-")
		if err != nil {
			return nil, err
		}
		p, err := StartProcesses(ProcessConfig{Bin: cfg.ServerBin, Nodes: cfg.Nodes, Dir: dir, LogDir: cfg.LogDir, SelfServe: cfg.SelfServe, Sync: cfg.Sync, LazyStores: cfg.LazyStores, SystemAccount: cfg.SystemAccount})
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		return &Target{Mode: ModeProcess, URLs: p.URLs(), Nodes: cfg.Nodes, auth: auth, Processes: p}, nil
	}
	e, err := StartEmbedded(EmbeddedConfig{Nodes: cfg.Nodes, LogDir: cfg.LogDir, StoreParent: cfg.StoreParent, Sync: cfg.Sync})
	if err != nil {
		return nil, err
	}
	return &Target{Mode: ModeEmbedded, URLs: e.ClientURLs(), Nodes: cfg.Nodes, auth: auth, Embedded: e}, nil
}

// countNodes learns the cluster size from the server pool: the URLs given
// plus peers gossiped by the cluster, each counted once.
func countNodes(nc *nats.Conn) int {
	seen := map[string]bool{}
	for _, u := range nc.Servers() {
		seen[strings.TrimPrefix(strings.TrimPrefix(u, "nats://"), "tls://")] = true
	}
	if len(seen) == 0 {
		return 1
	}
	return len(seen)
}

// Connect opens one client connection. Reconnects are allowed (a run must
// survive a node going away), but the first connect fails fast.
func (t *Target) Connect(name string) (*nats.Conn, error) {
	opts := append([]nats.Option{
		nats.Name(name),
		nats.Timeout(5 * time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.NoCallbacksAfterClientClose(),
	}, t.auth...)
	nc, err := nats.Connect(strings.Join(t.URLs, ","), opts...)
	if err != nil {
		// nats.go's error may quote a URL: only its text, scrubbed, goes on.
		return nil, fmt.Errorf("cannot connect to %s: %s", strings.Join(secrets.URLs(t.URLs), ","), secrets.Scrub(err.Error()))
	}
	return nc, nil
}

// ConnectOnly opens a connection to the one server at url and never moves
// to another: reads through it are that server's answers.
func (t *Target) ConnectOnly(url, name string) (*nats.Conn, error) {
	opts := append([]nats.Option{nats.Name(name), nats.Timeout(3 * time.Second), nats.NoReconnect()}, t.auth...)
	return nats.Connect(url, opts...)
}

// ConnectPinned opens a connection to the one server at url that, when the
// server goes away, waits for it to come back rather than moving to another:
// a view of the cluster from that node, through faults.
func (t *Target) ConnectPinned(url, name string) (*nats.Conn, error) {
	opts := append([]nats.Option{nats.Name(name), nats.Timeout(3 * time.Second), nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond), nats.IgnoreDiscoveredServers(), nats.NoCallbacksAfterClientClose()}, t.auth...)
	return nats.Connect(url, opts...)
}

// NodeURLs is one client URL per server: the ones the harness started, or
// for external servers every server the connection nc learnt of.
func (t *Target) NodeURLs(nc *nats.Conn) []string {
	if t.Mode != ModeExternal {
		return t.URLs
	}
	seen := map[string]bool{}
	var urls []string
	for _, u := range nc.Servers() {
		if !seen[u] {
			seen[u] = true
			urls = append(urls, u)
		}
	}
	return urls
}

// Down stops the servers the harness started; external ones are left alone.
// It may be called more than once.
func (t *Target) Down() {
	if t.Embedded != nil {
		t.Embedded.Shutdown()
		t.Embedded = nil
	}
	if t.Processes != nil {
		t.Processes.Stop()
		t.Processes = nil
	}
}

// WaitJetStream waits until the JetStream API answers, bounded by ctx.
func WaitJetStream(ctx context.Context, nc *nats.Conn) error {
	var last error
	for {
		_, err := nc.Request("$JS.API.INFO", nil, 2*time.Second)
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("JetStream not available: %w", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
