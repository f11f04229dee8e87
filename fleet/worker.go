package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/workload"
)

// WorkerConfig is a worker's own settings, fixed when it starts.
type WorkerConfig struct {
	Name string
	// Auth: the worker's own credentials for the target's servers.
	Auth cluster.Auth
	// Secret: the fleet's shared secret; a command not signed with it for
	// its run is refused (see auth.go).
	Secret string
	// Limits: what the worker will run.
	Limits Limits
	// ClockSkew is added to the worker's clock: tests only, to show that a
	// skew within what the round trips measure makes no violation up.
	ClockSkew time.Duration
	// Log gets a line per job and per refusal.
	Log io.Writer
	// Runs: serve this many runs, then return (0: until stopped), as a
	// Kubernetes Job's pod does.
	Runs int
}

// Worker serves one run at a time for the coordinators on its control
// server.
type Worker struct {
	cfg  WorkerConfig
	nc   *nats.Conn
	js   jetstream.JetStream
	host string

	mu        sync.Mutex
	job       *workerJob           // the job prepared or running; nil between runs
	last      *workerJob           // the job before: its coordinator reads its clock once more after it
	served    map[string]bool      // runs prepared before: a replayed job is refused
	nonces    map[string]time.Time // commands' nonces seen lately: a replayed command is refused
	preparing bool                 // a job is being prepared
	ran       int                  // runs finished
	enough    chan struct{}        // closed when Runs are finished
}

// workerJob is one run's share on this worker.
type workerJob struct {
	job    Job
	clock  workload.Clock
	target *cluster.Target
	tconn  *nats.Conn // to the target, for the workload's control calls
	load   *workload.Load
	out    *history.Writer
	sink   *streamSink
	stop   context.CancelFunc // ends the clients early
	done   chan struct{}      // closed once its Done is sent
}

// Serve registers the worker on the control connection nc and serves
// until ctx ends; a job running then is stopped and its records sent.
func Serve(ctx context.Context, nc *nats.Conn, cfg WorkerConfig) error {
	if cfg.Secret == "" {
		return errors.New("a worker needs the fleet's secret (KVHARNESS_FLEET_SECRET), shared with its coordinators")
	}
	if cfg.Limits.MaxClients == 0 {
		allow := cfg.Limits.AllowTargets
		cfg.Limits = DefaultLimits
		cfg.Limits.AllowTargets = allow
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	w := &Worker{cfg: cfg, nc: nc, js: js, host: host, served: map[string]bool{}, nonces: map[string]time.Time{}, enough: make(chan struct{})}
	svc, err := micro.AddService(nc, micro.Config{Name: ServiceName, Version: "1.0.0",
		Description: "kvharness load generator", Metadata: map[string]string{"name": cfg.Name, "host": host}})
	if err != nil {
		return fmt.Errorf("registering on the control server: %w", err)
	}
	defer svc.Stop()
	for verb, h := range map[string]micro.HandlerFunc{"prepare": w.prepare, "clock": w.clock, "start": w.start, "stop": w.stopJob} {
		// No queue group: each worker answers on subjects of its own name.
		if err := svc.AddEndpoint(verb, h, micro.WithEndpointSubject(workerSubject(cfg.Name, verb)), micro.WithEndpointQueueGroupDisabled()); err != nil {
			return err
		}
	}
	w.logf("worker %s serving on the control server", cfg.Name)
	select {
	case <-ctx.Done():
	case <-w.enough:
		w.logf("worker %s: served %d run(s), done", cfg.Name, cfg.Runs)
	}
	w.mu.Lock()
	j := w.job
	var stop context.CancelFunc
	var done chan struct{}
	if j != nil {
		stop, done = j.stop, j.done
	}
	w.mu.Unlock()
	switch {
	case j == nil:
	case stop != nil:
		stop()
		<-done
	default:
		w.drop(j)
	}
	return nil
}

func (w *Worker) logf(format string, args ...any) {
	if w.cfg.Log != nil {
		fmt.Fprintf(w.cfg.Log, format+"\n", args...)
	}
}

// command checks a command for run: its signature (verb, this worker,
// nonce, time, body), its age and its nonce (see auth.go).
func (w *Worker) command(req micro.Request, run, verb string) error {
	h := req.Headers()
	n, sent := h.Get(hdrNonce), h.Get(hdrSent)
	if err := verify(w.cfg.Secret, run, h.Get(hdrAuth), "cmd", verb, w.cfg.Name, n, sent, string(req.Data())); err != nil {
		return err
	}
	t, err := strconv.ParseInt(sent, 10, 64)
	if err != nil {
		return errors.New("no time sent")
	}
	if age := time.Since(time.Unix(0, t)); age > commandMaxAge || age < -commandMaxAge {
		return fmt.Errorf("sent %s ago: a replay, or clocks too far apart", age.Round(time.Second))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for k, at := range w.nonces {
		if now.Sub(at) > 2*commandMaxAge {
			delete(w.nonces, k) // older ones are refused by their age
		}
	}
	if _, seen := w.nonces[n]; seen {
		return errors.New("a replayed command (its nonce was seen before)")
	}
	w.nonces[n] = now
	return nil
}

// answer replies to a command of run, signed (see auth.go).
func (w *Worker) answer(req micro.Request, run, verb string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		body = []byte(`{"error":"cannot encode the answer"}`)
	}
	sig := sign(w.cfg.Secret, run, "reply", verb, w.cfg.Name, req.Headers().Get(hdrNonce), string(body))
	_ = req.Respond(body, micro.WithHeaders(micro.Headers{hdrAuth: []string{sig}}))
}

// done answers a command of run: carried out, or why not.
func (w *Worker) done(req micro.Request, run, verb string, err error) {
	r := reply{Host: w.host}
	if err != nil {
		r.Error = err.Error()
	}
	w.answer(req, run, verb, r)
}

// refuse answers a command the worker will not carry out, and says so in
// its log.
func (w *Worker) refuse(req micro.Request, run, verb string, err error) {
	w.logf("refused %s: %v", verb, err)
	w.done(req, run, verb, fmt.Errorf("refused: %w", err))
}

// current is the job a command is for: the one prepared or running, or
// for a clock reading the one just run (its coordinator's estimate after
// the run); the command is checked against its run. nil: refused.
func (w *Worker) current(req micro.Request, verb string) *workerJob {
	w.mu.Lock()
	j := w.job
	if j == nil && verb == "clock" {
		j = w.last
	}
	w.mu.Unlock()
	if j == nil {
		w.refuse(req, "", verb, errors.New("no job prepared"))
		return nil
	}
	if err := w.command(req, j.job.Run, verb); err != nil {
		w.refuse(req, j.job.Run, verb, err)
		return nil
	}
	return j
}

// prepare connects to the target, opens the history stream and connects
// the clients of the job, ready to start.
func (w *Worker) prepare(req micro.Request) {
	job, err := decodeJob(req.Data())
	if err == nil {
		err = w.command(req, job.Run, "prepare")
	}
	if err == nil && job.Worker != w.cfg.Name {
		err = fmt.Errorf("the job is for worker %q", job.Worker)
	}
	if err == nil {
		err = w.cfg.Limits.check(job)
	}
	if err != nil {
		w.refuse(req, job.Run, "prepare", err)
		return
	}
	w.mu.Lock()
	switch {
	case w.served[job.Run]:
		w.mu.Unlock()
		w.refuse(req, job.Run, "prepare", fmt.Errorf("run %s was prepared here before: a replayed job", job.Run))
		return
	case w.job != nil || w.preparing:
		w.mu.Unlock()
		w.done(req, job.Run, "prepare", fmt.Errorf("worker %s is busy with another run", w.cfg.Name))
		return
	}
	w.served[job.Run], w.preparing = true, true
	w.mu.Unlock()
	// Connecting can take a while: clock and stop are answered meanwhile.
	j, err := w.open(job)
	w.mu.Lock()
	w.preparing = false
	if err == nil {
		w.job = j
		// A job prepared and never started (its coordinator died) would
		// keep the worker busy for ever.
		time.AfterFunc(startWithin, func() { w.drop(j) })
	}
	w.mu.Unlock()
	if err != nil {
		w.logf("run %s: cannot prepare: %v", job.Run, err)
		w.done(req, job.Run, "prepare", err)
		return
	}
	w.logf("run %s: %d client(s) from %d against %s", job.Run, job.Workload.Clients, job.Workload.FirstClient, job.Bucket)
	w.done(req, job.Run, "prepare", nil)
}

// drop lets go of a prepared job that was not started.
func (w *Worker) drop(j *workerJob) {
	w.mu.Lock()
	if w.job != j || j.stop != nil {
		w.mu.Unlock()
		return
	}
	w.job = nil
	w.mu.Unlock()
	j.close()
	w.logf("run %s: dropped, prepared but not started", j.job.Run)
}

func (w *Worker) open(job Job) (_ *workerJob, err error) {
	j := &workerJob{job: job, clock: workload.ClockFromWall(job.ClockStart - int64(w.cfg.ClockSkew))}
	defer func() {
		if err != nil {
			j.close()
		}
	}()
	if j.target, err = cluster.Up(cluster.TargetConfig{ServerURLs: job.Target, Auth: w.cfg.Auth}); err != nil {
		return nil, err
	}
	if j.tconn, err = j.target.Connect("kvharness-worker-" + w.cfg.Name); err != nil {
		return nil, err
	}
	j.sink = &streamSink{js: w.js, seal: sealer(w.cfg.Secret, job.Run), subject: historySubject(job.Run, w.cfg.Name), run: job.Run, worker: w.cfg.Name}
	if j.out, err = history.NewWriter(j.sink, true); err != nil {
		return nil, err
	}
	cfg := job.Workload
	cfg.NoWatcher, cfg.Watchers = true, nil // the coordinator watches
	j.load, err = workload.Start(context.Background(), cfg, workload.Env{Target: j.target, Control: j.tconn,
		Bucket: job.Bucket, Clock: j.clock, Out: j.out, Meta: &history.Meta{}})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// close releases what the job holds.
func (j *workerJob) close() {
	if j.load != nil {
		j.load.Close()
	}
	if j.out != nil {
		_ = j.out.Close()
	}
	if j.tconn != nil {
		j.tconn.Close()
	}
	if j.target != nil {
		j.target.Down()
	}
}

// clock answers with the run's clock (see clock.go).
func (w *Worker) clock(req micro.Request) {
	if j := w.current(req, "clock"); j != nil {
		w.answer(req, j.job.Run, "clock", clockReply{Now: j.clock.Now()})
	}
}

// start runs the prepared job: the clients until their budget or duration
// is spent or stop, heartbeats meanwhile, then the rest of the history and
// a Done.
func (w *Worker) start(req micro.Request) {
	if w.current(req, "start") == nil {
		return
	}
	w.mu.Lock()
	j := w.job
	if j == nil || j.stop != nil {
		w.mu.Unlock()
		w.done(req, "", "start", errors.New("no job prepared to start"))
		return
	}
	// The job's duration, within the worker's own bound (a job on an op
	// budget alone would otherwise run as long as it likes).
	bounded, cancel := context.WithTimeout(context.Background(), w.cfg.Limits.MaxDuration)
	runCtx, stopRun := j.job.Workload.Deadline(bounded)
	stop := func() { stopRun(); cancel() }
	j.stop, j.done = stop, make(chan struct{})
	w.mu.Unlock()
	w.done(req, j.job.Run, "start", nil)
	go func() {
		defer close(j.done)
		done := w.run(runCtx, j)
		stop()
		w.mu.Lock()
		w.job, w.last = nil, j
		if w.ran++; w.ran == w.cfg.Runs {
			// Its coordinator estimates the clock once more after the run,
			// then merges: give it that time before leaving.
			time.AfterFunc(afterLastRun, func() { close(w.enough) })
		}
		w.mu.Unlock()
		if done.Error != "" {
			w.logf("run %s: %d ops, then: %s", j.job.Run, done.Issued, done.Error)
		} else {
			w.logf("run %s: done, %d ops", j.job.Run, done.Issued)
		}
	}()
}

func (w *Worker) run(ctx context.Context, j *workerJob) (done Done) {
	// Heartbeats go on until the Done is sent: flushing the last frames
	// can take a while, and a silent worker is given up.
	beats, stopBeats := context.WithCancel(context.Background())
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		w.beat(beats, j)
	}()
	defer func() {
		stopBeats()
		<-beating
		j.load.Close()
		j.load, j.out = nil, nil
		j.close()
	}()
	var stats workload.Stats
	func() {
		defer func() {
			if p := recover(); p != nil {
				done.Error = fmt.Sprintf("the workload panicked: %v", p)
			}
		}()
		stats = j.load.Run(ctx)
	}()
	j.load.CloseClients()
	if err := j.out.Close(); err != nil && done.Error == "" {
		done.Error = err.Error()
	}
	done.Issued, done.Unknowns, done.Late, done.Pacing = stats.Issued, stats.Unknowns, stats.Late, stats.Pacing
	done.ElapsedNs, done.WarmupNs, done.Chunks = int64(stats.Elapsed), int64(stats.Warmup), j.sink.chunks
	var err error
	if done.Latency, err = stats.Latency.Encode(); err != nil && done.Error == "" {
		done.Error = err.Error()
	}
	if stats.Service != nil {
		done.Service, _ = stats.Service.Encode()
	}
	body, _ := json.Marshal(done)
	if err := j.sink.publish(body, nats.Header{hdrDone: []string{"1"}}); err != nil {
		w.logf("run %s: %v", j.job.Run, err)
	}
	return done
}

// beat says the worker is alive, with its progress, twice a second.
func (w *Worker) beat(ctx context.Context, j *workerJob) {
	t := time.NewTicker(beatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p := j.load.Progress()
			b, _ := json.Marshal(Beat{Ops: p.Ops, Errors: p.Errors})
			m := nats.NewMsg(beatSubject(j.job.Run, w.cfg.Name))
			m.Data = b
			m.Header.Set(hdrAuth, sign(w.cfg.Secret, j.job.Run, "beat", w.cfg.Name, string(b)))
			_ = w.nc.PublishMsg(m)
		}
	}
}

// stopJob ends the running job's clients early (the coordinator was
// interrupted); a job prepared but not started is dropped.
func (w *Worker) stopJob(req micro.Request) {
	j := w.current(req, "stop")
	if j == nil {
		return
	}
	w.mu.Lock()
	stop := j.stop
	w.mu.Unlock()
	if stop != nil {
		stop()
	} else {
		w.drop(j)
	}
	w.done(req, j.job.Run, "stop", nil)
}

// startWithin: a prepared job not started by then is dropped.
const startWithin = 2 * time.Minute

// afterLastRun: how long a worker with a number of runs to serve stays
// after its last, for its coordinator's last clock estimate.
const afterLastRun = 10 * time.Second

// beatEvery: how often a running worker says it is alive; the coordinator
// gives one up after lostAfter without a beat.
const (
	beatEvery = 500 * time.Millisecond
	lostAfter = 5 * time.Second
)
