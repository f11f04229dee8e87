package cluster

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/kvharness/kvharness/internal/testenv"
)

func TestEmbeddedClusterFormsAndCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	logDir := t.TempDir()
	e, err := StartEmbedded(EmbeddedConfig{Nodes: 3, LogDir: logDir})
	if err != nil {
		t.Fatal(err)
	}
	store := e.storeDir
	if len(e.ClientURLs()) != 3 {
		t.Fatalf("urls %v", e.ClientURLs())
	}
	target := &Target{Mode: ModeEmbedded, URLs: e.ClientURLs(), Nodes: 3, Embedded: e}
	nc, err := target.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := CreateBucket(ctx, js, BucketConfig{Name: "t", Replicas: 3, History: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, StreamName("t"))
	if info, _ := s.Info(ctx); info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 || info.Config.Compression != jetstream.NoCompression {
		t.Fatalf("stream not replicated on 3 nodes, or compressed: %+v %v", info.Cluster, info.Config.Compression)
	}
	// A bucket asked for compression is stored S2-compressed.
	if _, err := CreateBucket(ctx, js, BucketConfig{Name: "z", Replicas: 1, History: 1, Compression: true}); err != nil {
		t.Fatal(err)
	}
	if z, err := js.Stream(ctx, StreamName("z")); err != nil || z.CachedInfo().Config.Compression != jetstream.S2Compression {
		t.Fatalf("compressed bucket: %v", err)
	}
	nc.Close()
	target.Down()
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Fatalf("store dir %s left behind: %v", store, err)
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if fi, err := os.Stat(logDir + "/" + n + ".log"); err != nil || fi.Size() == 0 {
			t.Errorf("no log for %s: %v", n, err)
		}
	}
}

func TestSingleEmbeddedServer(t *testing.T) {
	target, err := Up(TargetConfig{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Down()
	nc, err := target.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if nc.ConnectedServerVersion() == "" {
		t.Fatal("no server version")
	}
}

func TestExternalUnreachable(t *testing.T) {
	ports, _ := FreePorts(1)
	_, err := Up(TargetConfig{ServerURLs: []string{"nats://127.0.0.1:" + itoa(ports[0])}})
	if err == nil {
		t.Fatal("connected to nothing")
	}
}

func TestAuthOptions(t *testing.T) {
	if _, err := (Auth{TLSCert: "c.pem"}).Options(); err == nil {
		t.Error("a TLS cert without a key was accepted")
	}
	if _, err := (Auth{NKeySeedFile: "/nonexistent/seed"}).Options(); err == nil {
		t.Error("a missing nkey seed file was accepted")
	}
	opts, err := (Auth{User: "u", Password: "p", Token: ""}).Options()
	if err != nil || len(opts) != 1 {
		t.Errorf("user/password: %d opts, %v", len(opts), err)
	}
}

func TestProcessesNeedABinary(t *testing.T) {
	if _, err := StartProcesses(ProcessConfig{Bin: "/nonexistent/nats-server", Nodes: 1, Dir: t.TempDir()}); err == nil {
		t.Fatal("started a missing binary")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestProcessClusterOfEachRelease starts 3 nats-server processes of each
// release `make test` built, and checks they place an R3 stream and leave
// nothing behind.
func TestProcessClusterOfEachRelease(t *testing.T) {
	for _, env := range testenv.Releases {
		bin := testenv.ServerBin(t, env)
		dir := t.TempDir() + "/cluster"
		p, err := StartProcesses(ProcessConfig{Bin: bin, Nodes: 3, Dir: dir})
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		pids := []int{}
		for _, c := range p.cmds {
			pids = append(pids, c.Process.Pid)
		}
		p.Stop()
		for _, pid := range pids {
			if err := syscall.Kill(pid, 0); err == nil {
				t.Errorf("nats-server pid %d still running after Stop", pid)
			}
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cluster dir left behind")
		}
	}
}

// A node's config, which stays in the results folder, holds the system
// account's password only as a bcrypt hash (TestNodeReplaced shows the
// nodes take it).
func TestSystemUserConfigHoldsNoPassword(t *testing.T) {
	u, err := newSystemUser()
	if err != nil {
		t.Fatal(err)
	}
	conf := u.conf()
	if strings.Contains(conf, u.password) {
		t.Fatalf("config holds the system account's password in plain text:\n%s", conf)
	}
	if !strings.Contains(conf, u.passwordHash) || bcrypt.CompareHashAndPassword([]byte(u.passwordHash), []byte(u.password)) != nil {
		t.Fatalf("config lacks the password's hash:\n%s", conf)
	}
}
