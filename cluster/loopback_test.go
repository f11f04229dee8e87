package cluster

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kvharness/kvharness/internal/testenv"
)

// listeners lists the local addresses (hex, as /proc/net/tcp gives them)
// of the TCP sockets process pid listens on: its open socket inodes
// matched against the listening sockets of its network namespace.
func listeners(t *testing.T, pid string) []string {
	t.Helper()
	fds, err := os.ReadDir(filepath.Join("/proc", pid, "fd"))
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc", pid, "fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join("/proc", pid, "net", table))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			const listen = "0A"
			if len(fields) > 9 && fields[3] == listen && inodes[fields[9]] {
				out = append(out, fields[1])
			}
		}
		f.Close()
	}
	return out
}

// loopback: a /proc/net/tcp{,6} local address on 127.0.0.0/8 or ::1 (or
// 127.x mapped into IPv6).
func loopback(addr string) bool {
	host, _, _ := strings.Cut(addr, ":")
	switch len(host) {
	case 8: // IPv4, little-endian: the first octet is the last byte
		return strings.HasSuffix(host, "7F")
	case 32:
		return host == "00000000000000000000000001000000" ||
			strings.HasPrefix(host, "0000000000000000FFFF0000") && strings.HasSuffix(host, "7F")
	}
	return false
}

func assertLoopbackOnly(t *testing.T, who, pid string) {
	t.Helper()
	addrs := listeners(t, pid)
	if len(addrs) == 0 {
		t.Fatalf("%s listens on nothing: the test sees no sockets", who)
	}
	for _, a := range addrs {
		if !loopback(a) {
			t.Errorf("%s listens on %s, not loopback", who, a)
		}
	}
}

func TestLoopbackParsing(t *testing.T) {
	for addr, want := range map[string]bool{
		"0100007F:1F90": true, "00000000:1F90": false, "0101A8C0:1F90": false,
		"00000000000000000000000001000000:1F90": true, "00000000000000000000000000000000:1F90": false,
		"0000000000000000FFFF00000100007F:1F90": true,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%s) = %v", addr, got)
		}
	}
}

// The servers the harness starts, embedded or spawned, and the route
// proxies between them, listen on loopback only: a run on a CI machine
// opens nothing to its network.
func TestServersListenOnLoopbackOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clusters")
	}
	before := len(listeners(t, "self"))
	e, err := StartEmbedded(EmbeddedConfig{Nodes: 3, StoreParent: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(listeners(t, "self")); got < before+6 {
		t.Errorf("%d listening sockets with 3 embedded nodes, %d before: want their client and route ports at least", got, before)
	}
	assertLoopbackOnly(t, "this process (3 embedded nodes)", "self")
	e.Shutdown()

	bin := testenv.ServerBin(t, testenv.NATSServer)
	p, err := StartProcesses(ProcessConfig{Bin: bin, Nodes: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	assertLoopbackOnly(t, "this process (the route proxies)", "self")
	for i, c := range p.cmds {
		assertLoopbackOnly(t, "spawned node n"+strconv.Itoa(i+1), strconv.Itoa(c.Process.Pid))
	}
}
