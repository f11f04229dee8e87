package fleet

import (
	"context"
	"crypto/cipher"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// streamSink is a worker's history.Sink: each flush (one zstd frame) is
// one message of the control server's history stream, numbered and sealed
// (see auth.go). A publish that fails is retried with the same message id,
// which the stream deduplicates: a frame lands once, in order, or the
// worker's history ends there (and the coordinator sees the gap).
type streamSink struct {
	js      jetstream.JetStream
	seal    cipher.AEAD // see auth.go
	subject string
	run     string
	worker  string
	chunks  int
}

// publishBudget bounds retrying one frame (the control server restarting,
// a network blip).
const publishBudget = 30 * time.Second

func (s *streamSink) Write(frame []byte) (int, error) {
	s.chunks++
	if err := s.publish(frame, nats.Header{hdrChunk: []string{strconv.Itoa(s.chunks)}}); err != nil {
		return 0, err
	}
	return len(frame), nil
}

// publish sends one message of the stream, checksummed, until the stream
// acknowledges it or the budget runs out.
func (s *streamSink) publish(data []byte, h nats.Header) error {
	number := h.Get(hdrChunk)
	if h.Get(hdrDone) != "" {
		number = "done"
	}
	// The stream drops a message id it has seen: a retry lands once.
	id := fmt.Sprintf("%s.%s.%s", s.run, s.worker, number)
	msg := &nats.Msg{Subject: s.subject, Data: seal(s.seal, data, sealedAs(s.subject, number)), Header: h}
	deadline := time.Now().Add(publishBudget)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sending history to the coordinator: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *streamSink) Sync() error  { return nil }
func (s *streamSink) Close() error { return nil }
