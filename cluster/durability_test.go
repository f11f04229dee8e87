package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/kvharness/kvharness/internal/testenv"
)

// The sync setting reaches the servers the harness starts, embedded and
// spawned, as they report it themselves; a bad one is refused.
func TestSyncIntervalReachesTheServers(t *testing.T) {
	if err := SyncInterval("soon").Validate(); err == nil {
		t.Error(`"soon" accepted as a sync interval`)
	}
	if err := SyncInterval("-1s").Validate(); err == nil {
		t.Error(`"-1s" accepted as a sync interval`)
	}
	// "default" overrides a scenario's setting with the server's own.
	if d := SyncInterval("default"); d.Validate() != nil || d.conf() != "" || d.String() != "default" {
		t.Errorf(`"default": %v, conf %q, shown %q`, d.Validate(), d.conf(), d)
	}
	e, err := StartEmbedded(EmbeddedConfig{Nodes: 1, StoreParent: t.TempDir(), Sync: SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	if c := e.Servers()[0].JetStreamConfig(); c == nil || !c.SyncAlways {
		t.Errorf("embedded server with sync always: %+v", c)
	}
	e.Shutdown()
	if testing.Short() {
		return
	}
	bin := testenv.ServerBin(t, testenv.NATSServer)
	for _, c := range []struct {
		sync   SyncInterval
		always bool
		every  time.Duration
	}{{SyncAlways, true, 2 * time.Minute}, {"250ms", false, 250 * time.Millisecond}, {"", false, 2 * time.Minute}} {
		p, err := StartProcesses(ProcessConfig{Bin: bin, Nodes: 1, Dir: t.TempDir(), Sync: c.sync})
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			JetStream struct {
				Config struct {
					SyncInterval time.Duration `json:"sync_interval"`
					SyncAlways   bool          `json:"sync_always"`
				} `json:"config"`
			} `json:"jetstream"`
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = getJSON(ctx, p.monitors[0]+"/varz", &v)
		cancel()
		p.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if got := v.JetStream.Config; got.SyncAlways != c.always || got.SyncInterval != c.every {
			t.Errorf("spawned with sync %q: the server reports %+v", c.sync, got)
		}
	}
}
