// Package monitor samples where the time goes while a workload runs: each
// node's CPU, memory and JetStream figures from its monitoring endpoint,
// the harness process's own CPU and memory, and the machine's CPU, once a
// second. A capacity found while the load generator was saturated is the
// client's limit, not the cluster's; this is what tells them apart.
package monitor

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/reports"
)

// Sampler samples the monitors and this process each Interval until Run's
// context ends.
type Sampler struct {
	Monitors []cluster.Monitor
	Now      func() int64 // the run's clock, ns
	Interval time.Duration
}

// Run samples until ctx ends and returns what it saw.
func (s *Sampler) Run(ctx context.Context) *reports.Resources {
	r := &reports.Resources{Cores: runtime.NumCPU(), Nodes: make([]reports.NodeResources, len(s.Monitors))}
	for i, m := range s.Monitors {
		r.Nodes[i].Name = m.Name
		r.SharedProcess = r.SharedProcess || m.Shared
	}
	interval := s.Interval
	if interval <= 0 {
		interval = time.Second
	}
	prev := s.sample(ctx, interval)
	errs := map[string]bool{}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.summarize(r)
			for e := range errs {
				r.Errors = append(r.Errors, e)
			}
			r.Judge()
			return r
		case <-tick.C:
		}
		cur := s.sample(ctx, interval)
		if ctx.Err() != nil {
			continue // cut short by the end: the loop returns next
		}
		r.Series = append(r.Series, s.between(prev, cur, errs))
		prev = cur
	}
}

// raw is one instant: counters as read.
type raw struct {
	at       time.Time
	t        int64 // run clock
	cpuTime  time.Duration
	rssMB    float64
	heapLive float64 // MB; see reports.ResourceSample
	goTotal  float64 // MB
	busy     uint64  // machine: jiffies busy, total
	total    uint64
	nodes    []cluster.NodeStats
	nodeErrs []error
}

// sample reads everything at once; the nodes side by side, each within
// most of an interval, so a node that does not answer (paused, killed)
// leaves a gap and slows no other.
func (s *Sampler) sample(ctx context.Context, interval time.Duration) raw {
	x := raw{at: time.Now(), t: s.Now(), nodes: make([]cluster.NodeStats, len(s.Monitors)), nodeErrs: make([]error, len(s.Monitors))}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		x.cpuTime = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	x.rssMB = selfRSSMB()
	x.heapLive, x.goTotal = goMemoryMB()
	x.busy, x.total = machineJiffies()
	rctx, cancel := context.WithTimeout(ctx, interval*8/10)
	defer cancel()
	var wg sync.WaitGroup
	for i, m := range s.Monitors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x.nodes[i], x.nodeErrs[i] = m.Read(rctx)
		}()
	}
	wg.Wait()
	return x
}

// between makes one second's figures of two instants: CPU and rates from
// the counters' differences, the rest as read at the later one.
func (s *Sampler) between(a, b raw, errs map[string]bool) reports.ResourceSample {
	secs := b.at.Sub(a.at).Seconds()
	out := reports.ResourceSample{T: float64(b.t) / 1e9, HarnessRSS: b.rssMB, HarnessHeapLive: b.heapLive, HarnessGoTotal: b.goTotal, Nodes: make([]reports.NodeSample, len(b.nodes))}
	if secs > 0 {
		out.HarnessCPU = 100 * (b.cpuTime - a.cpuTime).Seconds() / secs
	}
	if b.total > a.total {
		out.MachineCPU = 100 * float64(b.busy-a.busy) / float64(b.total-a.total)
	}
	for i, n := range b.nodes {
		if b.nodeErrs[i] != nil {
			errs[fmt.Sprintf("%s: %v", s.Monitors[i].Name, b.nodeErrs[i])] = true
			continue
		}
		ns := reports.NodeSample{OK: true, CPU: n.CPU, RSSMB: mb(float64(n.RSS)), JSStoreMB: mb(float64(n.JSStore)), JSMemoryMB: mb(float64(n.JSMemory))}
		if p := a.nodes[i]; a.nodeErrs[i] == nil && secs > 0 && n.InMsgs >= p.InMsgs {
			ns.InPerSec = float64(n.InMsgs-p.InMsgs) / secs
			ns.OutPerSec = float64(n.OutMsgs-p.OutMsgs) / secs
			ns.APIPerSec = float64(n.APITotal-p.APITotal) / secs
			ns.APIErrors = n.APIErrors - min(p.APIErrors, n.APIErrors)
		}
		out.Nodes[i] = ns
	}
	return out
}

// summarize fills the per-node and per-process figures from the series.
func (s *Sampler) summarize(r *reports.Resources) {
	r.Samples = len(r.Series)
	if r.Samples == 0 {
		return
	}
	type acc struct{ n, sum float64 }
	var hcpu, mcpu acc
	nodes := make([]struct{ cpu, in, out, api acc }, len(r.Nodes))
	for _, x := range r.Series {
		hcpu.n, hcpu.sum = hcpu.n+1, hcpu.sum+x.HarnessCPU
		mcpu.n, mcpu.sum = mcpu.n+1, mcpu.sum+x.MachineCPU
		r.Harness.CPUMaxPct = max(r.Harness.CPUMaxPct, x.HarnessCPU)
		r.Harness.RSSMaxMB = max(r.Harness.RSSMaxMB, x.HarnessRSS)
		r.MachineCPUMaxPct = max(r.MachineCPUMaxPct, x.MachineCPU)
		for i, n := range x.Nodes {
			if !n.OK {
				continue
			}
			nr := &r.Nodes[i]
			nodes[i].cpu.n, nodes[i].cpu.sum = nodes[i].cpu.n+1, nodes[i].cpu.sum+n.CPU
			nodes[i].in.sum += n.InPerSec
			nodes[i].out.sum += n.OutPerSec
			nodes[i].api.sum += n.APIPerSec
			nr.CPUMaxPct, nr.RSSMaxMB, nr.JSStoreMaxMB = max(nr.CPUMaxPct, n.CPU), max(nr.RSSMaxMB, n.RSSMB), max(nr.JSStoreMaxMB, n.JSStoreMB)
			nr.JSMemoryMaxMB, nr.APIErrors = max(nr.JSMemoryMaxMB, n.JSMemoryMB), nr.APIErrors+n.APIErrors
		}
	}
	mean := func(a acc) float64 {
		if a.n == 0 {
			return 0
		}
		return a.sum / a.n
	}
	r.Harness.CPUMeanPct, r.MachineCPUMeanPct = mean(hcpu), mean(mcpu)
	for i := range r.Nodes {
		c := nodes[i].cpu
		r.Nodes[i].CPUMeanPct = mean(c)
		if c.n > 0 {
			r.Nodes[i].InMsgsPerSec, r.Nodes[i].OutMsgsPerSec, r.Nodes[i].APIPerSec = nodes[i].in.sum/c.n, nodes[i].out.sum/c.n, nodes[i].api.sum/c.n
		}
	}
}

func mb(bytes float64) float64 { return bytes / (1 << 20) }

// selfRSSMB: this process's resident memory (Linux /proc; 0 elsewhere).
func selfRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseFloat(f[1], 64)
	return mb(pages * float64(os.Getpagesize()))
}

// goMemoryMB is this process's live Go heap (as its last garbage
// collection marked it) and all the memory the Go runtime has mapped, MB:
// read through runtime/metrics, which unlike ReadMemStats stops nothing.
func goMemoryMB() (heapLive, total float64) {
	m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"}}
	metrics.Read(m)
	return mb(float64(m[0].Value.Uint64())), mb(float64(m[1].Value.Uint64()))
}

// machineJiffies: the machine's CPU time busy and in all, from /proc/stat
// (Linux; zeros elsewhere).
func machineJiffies() (busy, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}
