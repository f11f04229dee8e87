package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/kvharness/kvharness/internal/secrets"
)

// systemUser is the system account's one user, with a password made for
// the run: removing a server from the JetStream meta group
// ($JS.API.SERVER.REMOVE) is a system account's request. The nodes'
// configs, which stay in the results folder, hold only a bcrypt hash of
// its password (nats-server takes a password beginning "$2" as one). The
// JetStream account's user keeps a plain one: it is the no_auth_user,
// which every client without credentials becomes anyway, and nats-server
// lets no one in as a no_auth_user whose password is hashed.
type systemUser struct{ password, passwordHash, appPassword string }

func newSystemUser() (*systemUser, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	u := &systemUser{password: hex.EncodeToString(b[:16]), appPassword: hex.EncodeToString(b[16:])}
	secrets.Register(u.password, u.appPassword)
	// The lowest cost: the password is random, and a node pays the cost
	// each time the system user connects (once per removal).
	hash, err := bcrypt.GenerateFromPassword([]byte(u.password), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	u.passwordHash = string(hash)
	return u, nil
}

// conf is the accounts block of a node's config ("" without a system
// account). Clients that give no credentials are the user of the KVH
// account (no_auth_user), which has JetStream: everything else runs as
// without accounts.
func (u *systemUser) conf() string {
	if u == nil {
		return ""
	}
	return fmt.Sprintf("accounts {\n  SYS: { users: [{user: kvharness-sys, password: %q}] }\n  KVH: { jetstream: enabled, users: [{user: kvharness, password: %q}] }\n}\n"+
		"system_account: SYS\nno_auth_user: kvharness\n", u.passwordHash, u.appPassword)
}

// SystemAccount: the nodes have the harness's system account.
func (p *Processes) SystemAccount() bool { return p.sys != nil }

// Remove takes node i out of the cluster for good: it kills the node and
// asks the JetStream meta leader to remove it from the meta group
// ($JS.API.SERVER.REMOVE, as the system account, through a live node).
// Renew then puts a fresh node in its place. It needs the system account
// (ProcessConfig.SystemAccount) and says how long the removal took.
func (p *Processes) Remove(ctx context.Context, i int) (time.Duration, error) {
	if p.sys == nil {
		return 0, fmt.Errorf("removing a node needs the nodes' system account")
	}
	if p.Running(i) {
		if err := p.Kill(i); err != nil {
			return 0, err
		}
	}
	started := time.Now()
	if err := p.removePeer(ctx, i, p.Names()[i]); err != nil {
		return 0, fmt.Errorf("removing %s from the meta group: %w", p.Names()[i], err)
	}
	return time.Since(started), nil
}

// Renew starts a fresh node in removed node i's place: an empty store, the
// same ports, and a new name (the meta group does not take a removed
// server's name back), the next after every name used (n6, n7 on five
// nodes). It returns the new name.
func (p *Processes) Renew(i int) (string, error) {
	if err := os.RemoveAll(p.StoreDir(i)); err != nil {
		return "", err
	}
	if err := os.MkdirAll(p.StoreDir(i), 0o700); err != nil {
		return "", err
	}
	p.mu.Lock()
	old := p.names[i]
	p.replaced++
	name := fmt.Sprintf("n%d", p.cfg.Nodes+p.replaced)
	conf, err := os.ReadFile(p.confs[i])
	if err == nil {
		conf = []byte(strings.Replace(string(conf), "server_name: "+old+"\n", "server_name: "+name+"\n", 1))
		err = os.WriteFile(p.confs[i], conf, 0o600)
	}
	if err == nil {
		p.names[i] = name
	}
	p.mu.Unlock()
	if err != nil {
		return "", err
	}
	return name, p.Restart(i)
}

// removePeer asks, as the system account, through the first live node
// other than i, for server name's removal from the meta group, retrying
// for up to 15 s (the meta group may be electing a leader).
func (p *Processes) removePeer(ctx context.Context, i int, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var last error
	asked := false // a request went out whose answer never came: it may have been carried out
	for ctx.Err() == nil {
		for j, u := range p.urls {
			if j == i || !p.Running(j) {
				continue
			}
			nc, err := nats.Connect(u, nats.UserInfo("kvharness-sys", p.sys.password), nats.Timeout(2*time.Second), nats.NoReconnect())
			if err != nil {
				last = err
				continue
			}
			last = askRemove(ctx, nc, name)
			nc.Close()
			var refused *removeRefused
			isRefusal := errors.As(last, &refused)
			switch {
			case last == nil:
				return nil
			case isRefusal && refused.code == notAMember && asked:
				return nil // an earlier request removed it
			case !isRefusal:
				asked = true
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	return last
}

func askRemove(ctx context.Context, nc *nats.Conn, name string) error {
	body, _ := json.Marshal(map[string]string{"peer": name})
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	msg, err := nc.RequestWithContext(rctx, "$JS.API.SERVER.REMOVE", body)
	if err != nil {
		return err
	}
	var resp struct {
		Success bool `json:"success"`
		Error   *struct {
			Code        int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("peer remove answer: %w", err)
	}
	if resp.Error != nil {
		return &removeRefused{code: resp.Error.Code, description: resp.Error.Description}
	}
	if !resp.Success {
		return fmt.Errorf("peer remove did not succeed: %s", msg.Data)
	}
	return nil
}

// notAMember: JetStream's error code for a server not in the meta group
// (JSClusterServerNotMemberErr).
const notAMember = 10044

// removeRefused is the meta leader's refusal of a removal.
type removeRefused struct {
	code        int
	description string
}

func (e *removeRefused) Error() string { return "peer remove refused: " + e.description }
