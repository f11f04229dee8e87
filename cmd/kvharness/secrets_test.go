package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/kvharness/kvharness/cluster"
)

// authServer starts a one-node JetStream server that demands the
// credentials set by auth, with a monitoring port; it returns the client
// and monitoring host:port.
func authServer(t *testing.T, auth func(*server.Options)) (client, monitor string) {
	t.Helper()
	ports, err := cluster.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{Host: "127.0.0.1", Port: ports[0], HTTPHost: "127.0.0.1", HTTPPort: ports[1],
		JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true}
	auth(opts)
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(s.Shutdown)
	return fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
}

// assertNoSecret: the secret is nowhere in the run's stdout, stderr or any
// file of its results folder (the history, summary.json, report.html,
// junit.xml, CSVs, node logs).
func assertNoSecret(t *testing.T, secret string, r result, out string) {
	t.Helper()
	for name, s := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the secret:\n%s", name, s)
		}
	}
	files := 0
	err := filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) && path == out {
			return nil // a run that could not start leaves no folder
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds the secret", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 && r.code == 0 {
		t.Errorf("a passing run wrote no files in %s", out)
	}
}

// Every way a secret reaches kvharness — in the server URL, as a flag, in an
// nkey seed file, in a monitoring URL — it appears in no output: not in a
// passing run's, not in the one error line of a refused or unreachable one.
func TestSecretsNeverShown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs kvharness against servers with credentials")
	}
	t.Parallel() // a run checked for its outcome, not its speed: see TestMain
	const token, password = "tok-9f3kQz7Lw2", "pw-Xr8vN2mK4q"
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	tokenHost, tokenMon := authServer(t, func(o *server.Options) { o.Authorization = token })
	userHost, _ := authServer(t, func(o *server.Options) { o.Users = []*server.User{{Username: "alice", Password: password}} })
	nkeyHost, _ := authServer(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })
	closed, err := cluster.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	nowhere := fmt.Sprintf("127.0.0.1:%d", closed[0])

	run := []string{"run", "single", "--replicas", "1", "--ops", "400", "--clients", "2", "--keys", "2"}
	for _, c := range []struct {
		name, secret string
		args         []string
		fails        bool
	}{
		{"token in URL", token, []string{"--server", "nats://" + token + "@" + tokenHost, "--monitor", "http://mon:" + token + "@" + tokenMon}, false},
		{"token flag", token, []string{"--server", "nats://" + tokenHost, "--token", token}, false},
		{"password in URL", password, []string{"--server", "nats://alice:" + password + "@" + userHost}, false},
		{"password flag", password, []string{"--server", "nats://" + userHost, "--user", "alice", "--password=" + password}, false},
		{"nkey seed", string(seed), []string{"--server", "nats://" + nkeyHost, "--nkey", seedFile}, false},
		{"wrong token in URL", "wrong-" + token, []string{"--server", "nats://wrong-" + token + "@" + tokenHost}, true},
		{"wrong password flag", "wrong-" + password, []string{"--server", "nats://" + userHost, "--user", "alice", "--password", "wrong-" + password}, true},
		{"unreachable server", token, []string{"--server", "nats://" + token + "@" + nowhere}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "results")
			r := runBin(t, 2*time.Minute, append(append(append([]string{}, run...), c.args...), "--out", out)...)
			if c.fails {
				wantUsageError(t, r, "cannot connect")
			} else {
				assertGoodRun(t, r, out)
				if !strings.Contains(r.stdout, "[REDACTED]") && strings.Contains(strings.Join(c.args, " "), "@") {
					t.Errorf("the first line does not show the URL redacted:\n%s", r.stdout)
				}
			}
			assertNoSecret(t, c.secret, r, out)
		})
	}
}
