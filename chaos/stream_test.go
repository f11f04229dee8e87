package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The soak's partition-leader under partition (2.15.2, seed 1): at the
// heal, the deposed leader — cut off 6 s, short of the 10 s after which
// it steps down — answered STREAM.INFO and called both followers current
// (its commit froze with theirs), last heard from 6 s before. The final
// phase then read History() from its stale replica. Such an answer is not
// healthy; the real leader's, with fresh contact, is.
func TestStreamHealthWantsRecentContact(t *testing.T) {
	info := func(active time.Duration) *jetstream.StreamInfo {
		return &jetstream.StreamInfo{Config: jetstream.StreamConfig{Replicas: 3}, Cluster: &jetstream.ClusterInfo{Leader: "n1",
			Replicas: []*jetstream.PeerInfo{{Name: "n2", Current: true, Active: active}, {Name: "n3", Current: true, Active: 200 * time.Millisecond}}}}
	}
	if err := streamHealth(info(6 * time.Second)); err == nil || !strings.Contains(err.Error(), "not heard from by leader n1") {
		t.Errorf("the deposed leader's view: %v, want not healthy", err)
	}
	if err := streamHealth(info(900 * time.Millisecond)); err != nil {
		t.Errorf("a leader in touch with both: %v", err)
	}
}
