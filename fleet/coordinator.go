package fleet

import (
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
	"github.com/kvharness/kvharness/workload"
)

// Coordinator drives the workers of one run over the control connection.
type Coordinator struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	run     string
	secret  string
	seal    cipher.AEAD  // opens the workers' histories (see auth.go)
	now     func() int64 // the run's clock
	start   int64        // the wall-clock time at which it read 0 (Unix ns)
	log     io.Writer
	workers []*remote

	mu       sync.Mutex // guards the progress line's state
	started  time.Time
	lastOps  int64
	lastTick time.Time
}

// remote is one worker, as the coordinator sees it.
type remote struct {
	name, host string
	job        Job
	ests       []estimate

	mu       sync.Mutex
	lastBeat time.Time
	beat     Beat
	done     *Done
	lost     string
}

// NewCoordinator prepares run on the control connection nc: the stream the
// workers' histories go to. now is the run's clock, which read 0 at the
// wall-clock time start.
func NewCoordinator(ctx context.Context, nc *nats.Conn, run, secret string, now func() int64, start time.Time, log io.Writer) (*Coordinator, error) {
	if secret == "" {
		return nil, errors.New("a run with workers needs the fleet's secret (KVHARNESS_FLEET_SECRET), the same as the workers'")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: historyStream, Subjects: []string{"kvh.history.>"},
		Storage: jetstream.FileStorage, MaxAge: 7 * 24 * time.Hour, Duplicates: 2 * time.Minute}); err != nil {
		return nil, fmt.Errorf("the control server's history stream: %w", err)
	}
	if log == nil {
		log = io.Discard
	}
	return &Coordinator{nc: nc, js: js, run: run, secret: secret, seal: sealer(secret, run), now: now, start: start.UnixNano(), log: log}, nil
}

// Await waits (until timeout) for n workers to be registered and takes the
// first n by name.
func (c *Coordinator) Await(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	seen := map[string]string{} // name: host
	for len(seen) < n {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("waited %s for %d workers on the control server, %d registered (%s)",
				timeout, n, len(seen), strings.Join(slices.Sorted(maps.Keys(seen)), ", "))
		}
		if err := c.ping(seen); err != nil {
			return err
		}
		if len(seen) < n {
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(seen))[:n] {
		c.workers = append(c.workers, &remote{name: name, host: seen[name]})
	}
	return nil
}

// ping asks every worker on the control server to say who it is, and
// adds those that answer within 300 ms to seen (name: host).
func (c *Coordinator) ping(seen map[string]string) error {
	inbox := c.nc.NewRespInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if err := c.nc.PublishRequest("$SRV.PING."+ServiceName, inbox, nil); err != nil {
		return err
	}
	for {
		m, err := sub.NextMsg(300 * time.Millisecond)
		if err != nil {
			return nil
		}
		var p micro.Ping
		if json.Unmarshal(m.Data, &p) == nil && ValidName(p.Metadata["name"]) {
			seen[p.Metadata["name"]] = p.Metadata["host"]
		}
	}
}

// Names lists the workers taken, in order.
func (c *Coordinator) Names() []string {
	out := make([]string, len(c.workers))
	for i, w := range c.workers {
		out[i] = w.name
	}
	return out
}

// share is worker i's part of total split over n: as even as it goes,
// the remainder to the first ones.
func share(total int64, i, n int) int64 {
	s := total / int64(n)
	if int64(i) < total%int64(n) {
		s++
	}
	return s
}

// Prepare gives each worker its share of cfg (clients, op budget, rate)
// against the bucket on the target's servers, and waits until every one
// has connected its clients.
func (c *Coordinator) Prepare(ctx context.Context, cfg workload.Config, target []string, bucket string) error {
	n := len(c.workers)
	if cfg.Clients < n {
		return fmt.Errorf("%d clients cannot be spread over %d workers", cfg.Clients, n)
	}
	first := 1
	for i, w := range c.workers {
		wc := cfg
		wc.Clients = int(share(int64(cfg.Clients), i, n))
		wc.FirstClient = first
		first += wc.Clients
		frac := float64(wc.Clients) / float64(cfg.Clients)
		if cfg.Ops > 0 {
			wc.Ops = max(share(cfg.Ops, i, n), 1)
		}
		wc.Rate = cfg.Rate * frac
		wc.Stages = make([]workload.Stage, len(cfg.Stages))
		for k, st := range cfg.Stages {
			wc.Stages[k] = workload.Stage{Rate: st.Rate * frac, For: st.For}
		}
		wc.Preload = cfg.Preload && i == 0
		w.job = Job{Run: c.run, Worker: w.name, Target: target, Bucket: bucket, Workload: wc}
	}
	return c.each(func(w *remote) error {
		w.job.ClockStart = c.start
		var r reply
		if err := c.request(ctx, w.name, "prepare", w.job, &r, time.Minute); err != nil {
			return err
		}
		if r.Host != "" {
			w.host = r.Host
		}
		return nil
	})
}

// each runs f for every worker side by side and returns the first error,
// naming its worker.
func (c *Coordinator) each(f func(w *remote) error) error {
	errs := make([]error, len(c.workers))
	var wg sync.WaitGroup
	for i, w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(w); err != nil {
				errs[i] = fmt.Errorf("worker %s: %w", w.name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// request sends one request to a worker's endpoint and decodes its JSON
// answer; a reply carrying an error is that error.
func (c *Coordinator) request(ctx context.Context, worker, verb string, body, out any, timeout time.Duration) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg := nats.NewMsg(workerSubject(worker, verb))
	msg.Data = data
	n, sent := nonce(), strconv.FormatInt(time.Now().UnixNano(), 10)
	msg.Header.Set(hdrNonce, n)
	msg.Header.Set(hdrSent, sent)
	msg.Header.Set(hdrAuth, sign(c.secret, c.run, "cmd", verb, worker, n, sent, string(data)))
	m, err := c.nc.RequestMsgWithContext(rctx, msg)
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	if e := m.Header.Get(micro.ErrorHeader); e != "" {
		return fmt.Errorf("%s: %s", verb, e)
	}
	if err := verify(c.secret, c.run, m.Header.Get(hdrAuth), "reply", verb, worker, n, string(m.Data)); err != nil {
		return fmt.Errorf("%s: the answer is not the worker's (%v): a worker with another secret, or an impostor; it said %.200q", verb, err, m.Data)
	}
	if err := json.Unmarshal(m.Data, out); err != nil {
		return fmt.Errorf("%s: bad answer: %w", verb, err)
	}
	if r, ok := out.(*reply); ok && r.Error != "" {
		return fmt.Errorf("%s: %s", verb, r.Error)
	}
	return nil
}

// SyncClocks estimates every worker's clock offset once more (see
// clock.go); a worker that does not answer is an error.
func (c *Coordinator) SyncClocks(ctx context.Context) error {
	return c.each(func(w *remote) error {
		e, err := c.estimate(ctx, w)
		if err != nil {
			return err
		}
		w.mu.Lock()
		w.ests = append(w.ests, e)
		w.mu.Unlock()
		return nil
	})
}

func (c *Coordinator) estimate(ctx context.Context, w *remote) (estimate, error) {
	samples := make([]clockSample, 0, clockRounds)
	for range clockRounds {
		sent := c.now()
		var r clockReply
		if err := c.request(ctx, w.name, "clock", struct{}{}, &r, 2*time.Second); err != nil {
			return estimate{}, err
		}
		samples = append(samples, clockSample{sent: sent, worker: r.Now, received: c.now()})
		time.Sleep(clockPause)
	}
	e, ok := fastest(samples)
	if !ok {
		return estimate{}, errors.New("no usable clock round trip")
	}
	return e, nil
}

// Start starts every prepared worker.
func (c *Coordinator) Start(ctx context.Context) error {
	now := time.Now()
	c.mu.Lock()
	c.started = now
	c.mu.Unlock()
	for _, w := range c.workers {
		w.mu.Lock()
		w.lastBeat = now
		w.mu.Unlock()
	}
	return c.each(func(w *remote) error { return c.request(ctx, w.name, "start", struct{}{}, &reply{}, 10*time.Second) })
}

// Stop asks every worker still running to stop its clients early.
func (c *Coordinator) Stop() {
	_ = c.each(func(w *remote) error {
		if w.finished() {
			return nil
		}
		return c.request(context.Background(), w.name, "stop", struct{}{}, &reply{}, 5*time.Second)
	})
}

func (w *remote) finished() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done != nil || w.lost != ""
}

// Wait follows the workers until each has sent its Done or is lost (no
// heartbeat for lostAfter), estimating their clocks again every few
// seconds. When ctx ends (the run was interrupted) it stops them and waits
// for the rest of their records. It returns their stats merged.
func (c *Coordinator) Wait(ctx context.Context) (workload.Stats, error) {
	beats, err := c.nc.Subscribe(beatSubject(c.run, "*"), func(m *nats.Msg) {
		name := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		if verify(c.secret, c.run, m.Header.Get(hdrAuth), "beat", name, string(m.Data)) != nil {
			return // not from the worker: it would keep a dead one alive
		}
		for _, w := range c.workers {
			if w.name == name {
				var b Beat
				_ = json.Unmarshal(m.Data, &b)
				w.mu.Lock()
				w.lastBeat, w.beat = time.Now(), b
				w.mu.Unlock()
			}
		}
	})
	if err != nil {
		return workload.Stats{}, err
	}
	defer beats.Unsubscribe()
	stream, err := c.js.Stream(context.Background(), historyStream)
	if err != nil {
		return workload.Stats{}, err
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastSync, stopped := time.Now(), false
	// A run of a set length ends then, whatever the workers say: one still
	// going a minute later is given up.
	var deadline time.Time
	if d := c.workers[0].job.Workload.Duration; d > 0 {
		deadline = time.Now().Add(d + time.Minute)
	}
	for {
		pending := 0
		for _, w := range c.workers {
			if w.finished() {
				continue
			}
			c.poll(stream, w)
			if !w.finished() {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if ctx.Err() != nil && !stopped {
			stopped = true
			go c.Stop()
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			for _, w := range c.workers {
				w.mu.Lock()
				if w.done == nil && w.lost == "" {
					w.lost = "still not finished a minute after the run's end"
					fmt.Fprintf(c.log, "kvharness: worker %s lost: %s\n", w.name, w.lost)
				}
				w.mu.Unlock()
			}
			continue
		}
		if time.Since(lastSync) > 5*time.Second {
			lastSync = time.Now()
			// A drift estimate mid-run; a worker that does not answer is
			// caught by its heartbeat.
			for _, w := range c.workers {
				if !w.finished() {
					if e, err := c.estimate(context.Background(), w); err == nil {
						w.mu.Lock()
						w.ests = append(w.ests, e)
						w.mu.Unlock()
					}
				}
			}
		}
		<-tick.C
	}
	return c.stats()
}

// poll looks for the worker's Done at the end of its history, and gives
// it up when its heartbeats stopped.
func (c *Coordinator) poll(stream jetstream.Stream, w *remote) {
	qctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	subject := historySubject(c.run, w.name)
	m, err := stream.GetLastMsgForSubject(qctx, subject)
	if err == nil && m.Header.Get(hdrDone) != "" {
		var d Done
		body, err := unseal(c.seal, m.Data, sealedAs(subject, "done"))
		if err == nil {
			err = json.Unmarshal(body, &d)
		}
		if err == nil {
			w.mu.Lock()
			w.done = &d
			w.mu.Unlock()
			return
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if since := time.Since(w.lastBeat); since > lostAfter {
		w.lost = fmt.Sprintf("no heartbeat for %s (last: %d ops)", since.Round(100*time.Millisecond), w.beat.Ops)
		fmt.Fprintf(c.log, "kvharness: worker %s lost: %s\n", w.name, w.lost)
	}
}

// stats merges the workers' stats: latencies exactly (their histograms),
// counts summed, the longest elapsed. Without every worker's histograms
// (one was lost) the latencies are left to be taken from the history.
func (c *Coordinator) stats() (workload.Stats, error) {
	st := workload.Stats{Latency: latency.Set{}}
	every := true
	for _, w := range c.workers {
		w.mu.Lock()
		d, beat := w.done, w.beat
		w.mu.Unlock()
		if d == nil {
			every = false
			st.Issued += beat.Ops // as far as its heartbeats told
			continue
		}
		st.Issued += d.Issued
		st.Unknowns += d.Unknowns
		st.Late += d.Late
		st.Elapsed = max(st.Elapsed, time.Duration(d.ElapsedNs))
		st.Warmup = max(st.Warmup, time.Duration(d.WarmupNs))
		st.Pacing = d.Pacing
		if err := st.Latency.Decode(d.Latency); err != nil {
			return st, fmt.Errorf("worker %s: %w", w.name, err)
		}
		if d.Service != nil {
			if st.Service == nil {
				st.Service = latency.Set{}
			}
			if err := st.Service.Decode(d.Service); err != nil {
				return st, fmt.Errorf("worker %s: %w", w.name, err)
			}
		}
	}
	if !every {
		st.Latency, st.Service = nil, nil
	}
	return st, nil
}

// Progress sums the workers' last heartbeats, for the progress line.
func (c *Coordinator) Progress() workload.Progress {
	var p workload.Progress
	now := time.Now()
	for _, w := range c.workers {
		w.mu.Lock()
		p.Ops += w.beat.Ops
		p.Errors += w.beat.Errors
		w.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started.IsZero() {
		c.started = now
	}
	p.Elapsed = now.Sub(c.started)
	if secs := now.Sub(c.lastTick).Seconds(); !c.lastTick.IsZero() && secs > 0 {
		p.OpsPerSec = float64(p.Ops-c.lastOps) / secs
	}
	c.lastOps, c.lastTick = p.Ops, now
	return p
}

// Merge places every worker's records on the run's timeline and writes
// them to out, after a meta line (meta with Workers filled in) that says
// how each worker's clock was placed. A worker's history is read frame by
// frame, each opened under its seal and checked for its number; a gap, a
// broken seal, a frame that does not decode or a history that does not end
// in its sealed Done (with every frame counted) ends that worker's records
// there, and it is marked lost.
func (c *Coordinator) Merge(ctx context.Context, out *history.Writer, meta *history.Meta) error {
	meta.Workers = make([]history.Worker, len(c.workers))
	for i, w := range c.workers {
		w.mu.Lock()
		e := combine(w.ests)
		meta.Workers[i] = history.Worker{Name: w.name, Host: w.host, FirstClient: w.job.Workload.FirstClient,
			Clients: w.job.Workload.Clients, OffsetNs: e.offset, BoundNs: e.bound, Lost: w.lost}
		w.mu.Unlock()
	}
	out.Write(&history.Record{Kind: history.KindMeta, Meta: meta})
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(256<<20))
	if err != nil {
		return err
	}
	defer dec.Close()
	for i, w := range c.workers {
		n, why := c.copyHistory(ctx, w, meta.Workers[i].OffsetNs, dec, out)
		meta.Workers[i].Ops = n
		// Its whole history, vouched for by its sealed Done, makes up for a
		// heartbeat missed; a history that breaks off makes it lost.
		meta.Workers[i].Lost = why
		w.mu.Lock()
		w.lost = why
		w.mu.Unlock()
	}
	// Again, with every worker's op count.
	out.Write(&history.Record{Kind: history.KindMeta, Meta: meta})
	return nil
}

// copyHistory copies one worker's records to out, shifted onto the run's
// clock; it returns how many ops it copied and, if the history broke off
// before its Done, why.
func (c *Coordinator) copyHistory(ctx context.Context, w *remote, offset int64, dec *zstd.Decoder, out *history.Writer) (ops int64, broken string) {
	cons, err := c.js.OrderedConsumer(ctx, historyStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{historySubject(c.run, w.name)}})
	if err != nil {
		return 0, "its history could not be read: " + err.Error()
	}
	want := 1
	var recs []history.Record
	for {
		batch, err := cons.Fetch(64, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return ops, "its history could not be read: " + err.Error()
		}
		got := 0
		for m := range batch.Messages() {
			got++
			if m.Headers().Get(hdrDone) != "" {
				// The end, if the worker says so under its seal, and it
				// sent every frame it says it did.
				body, err := unseal(c.seal, m.Data(), sealedAs(m.Subject(), "done"))
				var d Done
				if err == nil {
					err = json.Unmarshal(body, &d)
				}
				switch {
				case err != nil:
					return ops, "its last message fails its seal (damaged, or not this run's)"
				case d.Chunks != want-1:
					return ops, fmt.Sprintf("it sent %d frames of history, %d arrived", d.Chunks, want-1)
				case d.Error != "":
					return ops, "it could not finish: " + d.Error
				}
				return ops, ""
			}
			if n, _ := strconv.Atoi(m.Headers().Get(hdrChunk)); n != want {
				return ops, fmt.Sprintf("its history skips from frame %d to %d", want-1, n)
			}
			want++
			frame, err := unseal(c.seal, m.Data(), sealedAs(m.Subject(), strconv.Itoa(want-1)))
			if err != nil {
				return ops, fmt.Sprintf("frame %d of its history fails its seal (damaged, or not this run's)", want-1)
			}
			lines, err := dec.DecodeAll(frame, nil)
			if err != nil {
				return ops, fmt.Sprintf("frame %d of its history does not decode: %v", want-1, err)
			}
			recs = recs[:0]
			for line := range bytes.Lines(lines) {
				var r history.Record
				if err := history.ParseLine(line, &r); err != nil {
					return ops, fmt.Sprintf("frame %d of its history has a bad line: %v", want-1, err)
				}
				if r.Kind == history.KindMeta {
					continue // the coordinator's meta line is the run's
				}
				shift(&r, offset)
				if r.Kind == history.KindOp {
					ops++
				}
				recs = append(recs, r)
			}
			out.WriteAll(recs)
		}
		if got == 0 {
			// Nothing more, and no Done: the worker stopped sending.
			return ops, "its history ends without its last message"
		}
	}
}

// shift moves a worker's record onto the run's clock.
func shift(r *history.Record, offset int64) {
	for _, t := range []*int64{&r.Intended, &r.Invoke, &r.Complete, &r.At} {
		if *t != 0 {
			*t -= offset
		}
	}
}
