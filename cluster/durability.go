package cluster

import (
	"fmt"
	"time"
)

// SyncInterval is how often the servers the harness starts fsync their
// JetStream stores: "" (or "default", to override a scenario's setting
// from the command line) leaves the server's default (every 2 minutes —
// NATS acknowledges a write before it is on disk), "always" syncs after
// every write, a duration syncs that often. It decides what a power loss
// costs, and what durability costs in throughput.
type SyncInterval string

// SyncAlways is the setting that syncs after every write.
const SyncAlways SyncInterval = "always"

// parse is the setting as nats-server's options hold it.
func (s SyncInterval) parse() (every time.Duration, always bool, err error) {
	switch s {
	case "", "default":
		return 0, false, nil
	case SyncAlways:
		return 2 * time.Minute, true, nil
	}
	d, err := time.ParseDuration(string(s))
	if err != nil || d <= 0 {
		return 0, false, fmt.Errorf("sync_interval %q: want always, default or a positive duration (like 1s, 2m)", string(s))
	}
	return d, false, nil
}

// Validate checks the setting.
func (s SyncInterval) Validate() error {
	_, _, err := s.parse()
	return err
}

// conf is the setting as a nats-server config file's jetstream block
// takes it ("" for the default).
func (s SyncInterval) conf() string {
	if s == "" || s == "default" {
		return ""
	}
	return fmt.Sprintf(", sync_interval: %q", string(s))
}

// String is the setting as reported: the server's default said so.
func (s SyncInterval) String() string {
	if s == "" || s == "default" {
		return "default"
	}
	return string(s)
}
