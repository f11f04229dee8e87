package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketConfig is what the harness controls about the bucket it creates.
type BucketConfig struct {
	Name         string
	Replicas     int
	Storage      string // "file" or "memory"
	History      int
	MaxValueSize int32
	// LimitMarkerTTL > 0 allows per-message TTLs (leases, sessions) and
	// keeps the markers the server writes when one runs out this long.
	LimitMarkerTTL time.Duration
	// Compression stores the bucket's stream S2-compressed.
	Compression bool
}

// CreateBucket creates the run's own bucket. A freshly formed cluster may
// briefly answer "no suitable peers" (400, 10005: a peer not yet known to
// the meta leader) or time out while electing, so creation is retried until
// ctx ends — "no suitable peers" for 15 s, since a cluster really too small
// answers the same — except for requests the server refuses as bad (other
// 400s) or can never place (replicas > 1 on a server that is not
// clustered), which fail at once.
func CreateBucket(ctx context.Context, js jetstream.JetStream, cfg BucketConfig) (jetstream.KeyValue, error) {
	storage := jetstream.FileStorage
	if strings.EqualFold(cfg.Storage, "memory") {
		storage = jetstream.MemoryStorage
	}
	kvc := jetstream.KeyValueConfig{
		Bucket:         cfg.Name,
		History:        uint8(cfg.History),
		Replicas:       cfg.Replicas,
		Storage:        storage,
		MaxValueSize:   cfg.MaxValueSize,
		LimitMarkerTTL: cfg.LimitMarkerTTL,
		Compression:    cfg.Compression,
	}
	var last error
	started := time.Now()
	for ctx.Err() == nil {
		attempt, cancel := context.WithTimeout(ctx, 10*time.Second)
		kv, err := js.CreateKeyValue(attempt, kvc)
		cancel()
		if err == nil {
			return kv, nil
		}
		last = err
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) {
			settling := apiErr.ErrorCode == errNoSuitablePeers && time.Since(started) < 15*time.Second
			if (apiErr.Code == 400 && !settling) || apiErr.ErrorCode == errReplicasNotSupported {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("creating bucket %s (replicas %d): %w", cfg.Name, cfg.Replicas, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("creating bucket %s (replicas %d): %w", cfg.Name, cfg.Replicas, last)
}

// errReplicasNotSupported: "replicas > 1 not supported in non-clustered
// mode" — a single server will never accept the bucket.
const errReplicasNotSupported = 10074

// errNoSuitablePeers: "no suitable peers for placement".
const errNoSuitablePeers = 10005

// DeleteBucket removes the run's bucket, bounded by ctx.
func DeleteBucket(ctx context.Context, js jetstream.JetStream, name string) error {
	return js.DeleteKeyValue(ctx, name)
}

// StreamName is the JetStream stream that backs bucket name.
func StreamName(bucket string) string { return "KV_" + bucket }

// Subject is the stream subject of key in bucket.
func Subject(bucket, key string) string { return "$KV." + bucket + "." + key }
