package cluster

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line and waits up to wait for it to come back.
func roundTrip(c net.Conn, r *bufio.Reader, wait time.Duration) (time.Duration, error) {
	start := time.Now()
	_ = c.SetDeadline(start.Add(wait))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	if _, err := r.ReadString('\n'); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func TestLinkProxyPassDelayBlackholeReset(t *testing.T) {
	p, err := NewLinkProxy(echoServer(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := roundTrip(c, r, 2*time.Second); err != nil {
		t.Fatalf("pass: %v", err)
	}

	// Both directions are delayed: a round trip takes at least twice.
	p.SetDelay(50*time.Millisecond, 10*time.Millisecond)
	if d, err := roundTrip(c, r, 2*time.Second); err != nil || d < 100*time.Millisecond {
		t.Fatalf("delay: round trip %s, %v; want >= 100ms", d, err)
	}
	p.SetDelay(0, 0)

	// Blackhole: nothing comes back, the connection stays open (the round
	// trip times out; it is not closed).
	p.SetMode(LinkBlackhole)
	if _, err := roundTrip(c, r, 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("blackholed link: round trip ended with %v, want a timeout on an open connection", err)
	}
	// Healing resets what was held: the old connection is closed rather than
	// handed the stale ping; a new connection passes again.
	p.SetMode(LinkPass)
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if line, err := r.ReadString('\n'); err == nil || isTimeout(err) {
		t.Fatalf("healing left the held connection open: read %q, %v; want it closed", line, err)
	}
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := roundTrip(c2, bufio.NewReader(c2), 2*time.Second); err != nil {
		t.Fatalf("after heal: %v", err)
	}

	// Reset closes open connections and refuses new ones.
	p.SetMode(LinkReset)
	_ = c2.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("reset left the connection open: read ended with %v, want it closed", err)
	}
	c3, err := net.Dial("tcp", p.Addr())
	if err == nil {
		defer c3.Close()
		if _, err := roundTrip(c3, bufio.NewReader(c3), 500*time.Millisecond); err == nil {
			t.Fatal("reset link carried a new connection")
		}
	}
}

// isTimeout: err is a deadline passing, not the connection ending.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A link cut one way holds only that way's bytes, on an open connection:
// held back, the dialer's bytes reach the target and its answers do not;
// held forward, the other way round. Healing resets what was held.
func TestLinkProxyOneWay(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	p, err := NewLinkProxy(ln.Addr().String(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// arrives says whether a line written on from reaches to within wait.
	arrives := func(from, to net.Conn, wait time.Duration) bool {
		t.Helper()
		if _, err := from.Write([]byte("x\n")); err != nil {
			t.Fatal(err)
		}
		_ = to.SetReadDeadline(time.Now().Add(wait))
		_, err := bufio.NewReader(to).ReadString('\n')
		if err != nil && !isTimeout(err) {
			t.Fatalf("read: %v", err)
		}
		return err == nil
	}
	for _, back := range []bool{true, false} {
		dialer, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		target := <-accepted
		if !arrives(dialer, target, 2*time.Second) || !arrives(target, dialer, 2*time.Second) {
			t.Fatal("an open link does not pass both ways")
		}
		p.HoldOneWay(back)
		if got := arrives(dialer, target, 300*time.Millisecond); got != back {
			t.Errorf("held back %t: the dialer's bytes arrive %t", back, got)
		}
		if got := arrives(target, dialer, 300*time.Millisecond); got == back {
			t.Errorf("held back %t: the target's bytes arrive %t", back, got)
		}
		p.SetMode(LinkPass)
		_ = dialer.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := dialer.Read(make([]byte, 16)); err == nil || isTimeout(err) {
			t.Errorf("held back %t: healing left the connection that held bytes open (%v)", back, err)
		}
		dialer.Close()
		target.Close()
	}
}
