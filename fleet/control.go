package fleet

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Control is the coordinator's own NATS server for the control plane, with
// JetStream for the workers' histories.
type Control struct {
	srv *server.Server
	dir string
}

// StartControl starts a control server listening on listen (host:port;
// port 0 picks a free one). Workers on other machines need an address they
// can reach; the default 127.0.0.1:0 serves workers on this machine. With a
// token, or a user and password, only clients that give them connect.
func StartControl(listen, token, user, password string) (*Control, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("--control-listen %q: %v", listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("--control-listen %q: bad port", listen)
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	dir, err := os.MkdirTemp("", "kvharness-control-")
	if err != nil {
		return nil, err
	}
	opts := &server.Options{ServerName: "kvharness-control", Host: host, Port: p,
		JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true, MaxPayload: 8 << 20, Authorization: token}
	if user != "" {
		opts.Users = []*server.User{{Username: user, Password: password}}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("the control server did not start on %s", listen)
	}
	return &Control{srv: srv, dir: dir}, nil
}

// URL is where workers and the coordinator reach the control server.
func (c *Control) URL() string { return c.srv.ClientURL() }

// Stop shuts the control server down and removes its store.
func (c *Control) Stop() {
	c.srv.Shutdown()
	c.srv.WaitForShutdown()
	os.RemoveAll(c.dir)
}
