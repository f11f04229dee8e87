package latency

import (
	"fmt"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Encoded is one histogram of a Set in HdrHistogram's own compressed V2
// form: how a worker of a run spread over several machines sends its
// latencies, so that the coordinator merges them exactly.
type Encoded struct {
	Op      string `json:"op"`
	Outcome string `json:"outcome"`
	Hist    []byte `json:"hist"`
}

// Encode encodes every histogram of s.
func (s Set) Encode() ([]Encoded, error) {
	out := make([]Encoded, 0, len(s))
	for k, h := range s {
		b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return nil, fmt.Errorf("encoding %s/%s latencies: %w", k.Op, k.Outcome, err)
		}
		out = append(out, Encoded{Op: k.Op, Outcome: k.Outcome, Hist: b})
	}
	return out, nil
}

// Decode adds the encoded histograms to s (merged with what it holds).
func (s Set) Decode(enc []Encoded) error {
	for _, e := range enc {
		h, err := hdrhistogram.Decode(e.Hist)
		if err != nil {
			return fmt.Errorf("decoding %s/%s latencies: %w", e.Op, e.Outcome, err)
		}
		s.add(Key{Op: e.Op, Outcome: e.Outcome}, h)
	}
	return nil
}
