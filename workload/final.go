package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// msgGetResponse is the JetStream API answer to STREAM.MSG.GET.
type msgGetResponse struct {
	Message *struct {
		Subject string `json:"subject"`
		Seq     uint64 `json:"seq"`
		Header  []byte `json:"hdrs,omitempty"` // base64 in JSON; encoding/json decodes it
		Data    []byte `json:"data,omitempty"`
	} `json:"message"`
	Error *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// ReadLast reads key's last message through the stream leader with the
// STREAM.MSG.GET API — not a direct get, which any replica may answer —
// so final reads see what the cluster agreed on, markers included.
func ReadLast(ctx context.Context, nc *nats.Conn, bucket, key string) (history.Record, error) {
	rec := history.Record{Kind: history.KindFinal, Key: key}
	req, _ := json.Marshal(map[string]string{"last_by_subj": cluster.Subject(bucket, key)})
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+cluster.StreamName(bucket), req)
	if err != nil {
		return rec, err
	}
	var resp msgGetResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return rec, fmt.Errorf("bad STREAM.MSG.GET answer: %w", err)
	}
	if resp.Error != nil {
		if resp.Error.ErrCode == 10037 { // no message found: never written
			return rec, nil
		}
		// As nats.go reports API errors, so one classification table
		// serves both read paths.
		return rec, fmt.Errorf("STREAM.MSG.GET %s: %w", key, &jetstream.APIError{
			Code: resp.Error.Code, ErrorCode: jetstream.ErrorCode(resp.Error.ErrCode), Description: resp.Error.Description})
	}
	if resp.Message == nil {
		return rec, fmt.Errorf("STREAM.MSG.GET %s: empty answer", key)
	}
	rec.Rev = resp.Message.Seq
	if len(resp.Message.Header) > 0 {
		if h, err := nats.DecodeHeadersMsg(resp.Message.Header); err == nil {
			rec.Marker = markerOf(h)
		}
	}
	if rec.Marker == "" {
		rec.Found = true
		rec.Read, rec.Count = DecodeValue(resp.Message.Data), decodeCount(resp.Message.Data)
	}
	return rec, nil
}

// markerOf reads the KV-Operation header: a delete or purge marker, or none.
// A marker the server placed itself (a key's TTL ran out) names its reason
// instead; it is read the way nats.go reads it.
func markerOf(h nats.Header) string {
	switch strings.ToUpper(h.Get("KV-Operation")) {
	case "DEL":
		return history.MarkerDel
	case "PURGE":
		return history.MarkerPurge
	}
	switch h.Get(jetstream.MarkerReasonHeader) {
	case "MaxAge", "Purge":
		return history.MarkerPurge
	case "Remove":
		return history.MarkerDel
	}
	return history.MarkerNone
}
