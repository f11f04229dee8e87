package fleet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Everything is signed. Whoever reaches the control server's subjects must
// not be able to drive a fleet of load generators, nor feed a coordinator
// false answers, so every message between a coordinator and a worker carries
// an HMAC under a key derived for its run from the fleet's secret, which
// the coordinator and its workers share (KVHARNESS_FLEET_SECRET) and which
// never travels:
//   - a command: its verb, the worker it is for, a fresh nonce, when it was
//     sent, and its body; a worker refuses one signed otherwise, sent more
//     than commandMaxAge ago, or whose nonce it has seen (a replay), and
//     logs it;
//   - an answer: the verb, the worker, the command's nonce and the body (a
//     forged clock reading would misplace a worker's operations);
//   - a heartbeat: the worker and its body (forged ones would keep a dead
//     worker alive).

const (
	hdrAuth  = "Kvh-Auth"
	hdrNonce = "Kvh-Nonce"
	hdrSent  = "Kvh-Sent" // Unix ns
)

// commandMaxAge: a command older than this is refused (the machines'
// clocks are taken to agree within it; NTP keeps them far closer).
const commandMaxAge = 2 * time.Minute

// runKey is the key of one run's messages.
func runKey(secret, run string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("kvharness run " + run))
	return m.Sum(nil)
}

// sign is a message's signature over its parts.
func sign(secret, run string, parts ...string) string {
	m := hmac.New(sha256.New, runKey(secret, run))
	for _, p := range parts {
		m.Write([]byte(strconv.Itoa(len(p)) + ":" + p + "\n"))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// verify checks a signature in constant time.
func verify(secret, run, got string, parts ...string) error {
	if got == "" {
		return errors.New("unsigned: not from a holder of the fleet's secret")
	}
	if !hmac.Equal([]byte(sign(secret, run, parts...)), []byte(got)) {
		return errors.New("signed with another secret, or for another run, worker or command")
	}
	return nil
}

// nonce is a fresh random command id.
func nonce() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// A worker's history and its Done travel sealed (AES-256-GCM under a
// second key of the run): another client of the control server can neither
// read what a run wrote nor slip a frame into it, and the seal is also
// each frame's checksum. The frame's subject and number are sealed with
// it, so frames cannot be swapped between workers or reordered.

// sealer is the run's AEAD for its histories.
func sealer(secret, run string) cipher.AEAD {
	m := hmac.New(sha256.New, runKey(secret, run))
	m.Write([]byte("history"))
	block, err := aes.NewCipher(m.Sum(nil)) // 32 bytes: AES-256
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return a
}

// seal encrypts and authenticates data, bound to where it goes (ad).
func seal(a cipher.AEAD, data []byte, ad string) []byte {
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return a.Seal(nonce, nonce, data, []byte(ad))
}

// unseal opens what seal sealed for ad.
func unseal(a cipher.AEAD, msg []byte, ad string) ([]byte, error) {
	if len(msg) < a.NonceSize() {
		return nil, errors.New("too short to be sealed")
	}
	return a.Open(nil, msg[:a.NonceSize()], msg[a.NonceSize():], []byte(ad))
}

// sealedAs is what a stream message is sealed for: its subject and number.
func sealedAs(subject, chunk string) string { return subject + "#" + chunk }

// Limits are what a worker will run, set when it starts: a coordinator
// cannot turn the fleet against an address it was not meant to load, or
// beyond the load it was meant to offer.
type Limits struct {
	// AllowTargets: the servers (host:port, or host for any port) a job may
	// name; empty allows loopback addresses only.
	AllowTargets []string
	MaxClients   int
	MaxRate      float64 // ops/s across the worker's clients
	MaxDuration  time.Duration
}

// DefaultLimits are a worker's limits unless its flags say otherwise.
var DefaultLimits = Limits{MaxClients: 1000, MaxRate: 100_000, MaxDuration: 2 * time.Hour}

// decodeJob reads a job strictly: a field the worker does not take (a
// server binary, a command) is refused, never ignored.
func decodeJob(data []byte) (Job, error) {
	var job Job
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&job); err != nil {
		return Job{}, fmt.Errorf("bad job: %s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	if dec.More() {
		return Job{}, errors.New("bad job: more than one JSON value")
	}
	return job, nil
}

// check refuses a job beyond the limits, or one that could not run.
func (l Limits) check(job Job) error {
	w := job.Workload
	switch {
	case !ValidName(job.Run):
		return fmt.Errorf("run id %q is not a subject token", job.Run)
	case len(job.Target) == 0:
		return errors.New("the job names no server")
	case w.Clients < 1 || w.Clients > l.MaxClients:
		return fmt.Errorf("%d clients: this worker runs 1 to %d (--max-clients)", w.Clients, l.MaxClients)
	case w.Duration <= 0 && w.Ops <= 0:
		return errors.New("the job has neither a duration nor an op budget")
	case w.Duration > l.MaxDuration:
		return fmt.Errorf("a run of %s: this worker runs at most %s (--max-duration)", w.Duration, l.MaxDuration)
	case len(w.Keys.Keys) == 0 || len(w.Keys.Keys) > 1_000_000:
		return fmt.Errorf("%d keys: 1 to 1000000", len(w.Keys.Keys))
	case w.ValueSize < 0 || w.ValueSize > 8<<20:
		return fmt.Errorf("values of %d bytes: 0 to 8 MiB", w.ValueSize)
	case w.Inflight < 0 || w.Inflight > 10_000:
		return fmt.Errorf("%d writes in flight per client: 0 to 10000", w.Inflight)
	case w.FirstClient < 1:
		return fmt.Errorf("first client %d: from 1", w.FirstClient)
	}
	rates := []float64{w.Rate}
	for _, st := range w.Stages {
		rates = append(rates, st.Rate)
		if st.For <= 0 {
			return errors.New("a stage with no length")
		}
	}
	for _, r := range rates {
		if math.IsNaN(r) || r < 0 || r > l.MaxRate {
			return fmt.Errorf("a rate of %g ops/s: this worker offers at most %g (--max-rate)", r, l.MaxRate)
		}
	}
	if err := w.Mix.Validate(); err != nil && w.Pattern == "" {
		return err
	}
	for _, u := range job.Target {
		if err := l.allows(u); err != nil {
			return err
		}
	}
	return nil
}

// allows: the server at u is one the worker may load.
func (l Limits) allows(u string) error {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return fmt.Errorf("target %q is not a server URL", u)
	}
	if p.User != nil {
		return fmt.Errorf("target %s carries credentials: a worker uses its own", p.Host)
	}
	host := p.Hostname()
	if len(l.AllowTargets) == 0 {
		if Loopback(host) {
			return nil
		}
		return fmt.Errorf("target %s is not a loopback address, and this worker was given no --allow-target", p.Host)
	}
	if slices.Contains(l.AllowTargets, p.Host) || slices.Contains(l.AllowTargets, host) {
		return nil
	}
	return fmt.Errorf("target %s is not in --allow-target (%s)", p.Host, strings.Join(l.AllowTargets, ","))
}

// ValidName: a worker's name or a run's id, a NATS subject token of
// letters, digits, '-' and '_'.
func ValidName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

// Loopback: a host only this machine reaches.
func Loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}
