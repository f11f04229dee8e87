package reports

import (
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
)

// Resources is where the time went during the workload: each monitored
// node's CPU, memory and JetStream figures, the harness process's own CPU
// and memory, and the machine's CPU, sampled each second (summary.json
// "resources"; every sample in resources.csv).
type Resources struct {
	Nodes   []NodeResources  `json:"nodes"`
	Harness ProcessResources `json:"harness"`
	// MachineCPUMeanPct, MachineCPUMaxPct: the whole machine's CPU busy,
	// percent of all its cores (Linux; 0 elsewhere).
	MachineCPUMeanPct float64 `json:"machine_cpu_mean_pct"`
	MachineCPUMaxPct  float64 `json:"machine_cpu_max_pct"`
	Cores             int     `json:"cores"`
	// SharedProcess: the nodes are embedded in the harness, so their CPU
	// and memory are the harness process's (load and servers together).
	SharedProcess bool     `json:"shared_process"`
	Samples       int      `json:"samples"`
	Errors        []string `json:"errors,omitempty"`
	// Saturated: what ran out of CPU, if something did (see Verdict).
	Saturated string           `json:"saturated,omitempty"`
	Series    []ResourceSample `json:"-"`
}

// NodeResources is one node over the workload: CPU in percent of one core
// (as ps shows it), memory and storage in MB, rates per second.
type NodeResources struct {
	Name          string  `json:"name"`
	CPUMeanPct    float64 `json:"cpu_mean_pct"`
	CPUMaxPct     float64 `json:"cpu_max_pct"`
	RSSMaxMB      float64 `json:"rss_max_mb"`
	JSStoreMaxMB  float64 `json:"js_storage_max_mb"`
	JSMemoryMaxMB float64 `json:"js_memory_max_mb"`
	InMsgsPerSec  float64 `json:"in_msgs_per_sec"`
	OutMsgsPerSec float64 `json:"out_msgs_per_sec"`
	APIPerSec     float64 `json:"js_api_per_sec"`
	APIErrors     uint64  `json:"js_api_errors"`
}

// ProcessResources is the harness process: the load generator (and, with
// embedded servers, the servers).
type ProcessResources struct {
	CPUMeanPct float64 `json:"cpu_mean_pct"` // percent of one core
	CPUMaxPct  float64 `json:"cpu_max_pct"`
	RSSMaxMB   float64 `json:"rss_max_mb"`
}

// ResourceSample is one second.
type ResourceSample struct {
	T          float64 // seconds since the run's start
	HarnessCPU float64 // percent of one core
	HarnessRSS float64 // MB
	// HarnessHeapLive: the harness's live Go heap as its last garbage
	// collection marked it, MB; HarnessGoTotal: all the memory the Go
	// runtime has mapped, MB. RSS alone cannot tell a leak from the
	// runtime settling into memory it has mapped: the live heap can. (RSS
	// is the pages of the total in use plus the binary's own, which is
	// why it can read a little above the total.)
	HarnessHeapLive float64
	HarnessGoTotal  float64
	MachineCPU      float64 // percent of all cores
	Nodes           []NodeSample
}

// NodeSample is one node in one second; OK is false when it did not
// answer (a paused or killed node).
type NodeSample struct {
	OK         bool
	CPU        float64
	RSSMB      float64
	JSStoreMB  float64
	JSMemoryMB float64
	APIErrors  uint64 // JetStream API errors in this second
	InPerSec   float64
	OutPerSec  float64
	APIPerSec  float64
}

// saturation is the share of the CPU at which a part counts as saturated.
const saturation = 0.9

// Judge says what ran out of CPU: the load generator (its process at 90 %
// of the machine's cores; with embedded servers the process holds them
// too), or the machine as a whole (the generator and spawned servers
// share it). Empty when neither did.
func (r *Resources) Judge() {
	switch {
	case r.Cores > 0 && r.Harness.CPUMeanPct >= saturation*100*float64(r.Cores) && r.SharedProcess:
		r.Saturated = fmt.Sprintf("the harness process, with the embedded servers in it, used %.0f%% of %d cores: the figures are this machine's limit, not a cluster's", r.Harness.CPUMeanPct, r.Cores)
	case r.Cores > 0 && r.Harness.CPUMeanPct >= saturation*100*float64(r.Cores):
		r.Saturated = fmt.Sprintf("the load generator used %.0f%% of %d cores: the limit is the client's, not the servers'", r.Harness.CPUMeanPct, r.Cores)
	case r.MachineCPUMeanPct >= 100*saturation:
		r.Saturated = fmt.Sprintf("the machine's CPU was %.0f%% busy: the load generator and the servers on it competed for it", r.MachineCPUMeanPct)
	}
}

// WriteCSV writes resources.csv into dir: a row per second, the harness's
// and the machine's columns, then each node's.
func (r *Resources) WriteCSV(dir string) error {
	f, err := createOwnerOnly(filepath.Join(dir, "resources.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	head := []string{"t_sec", "harness_cpu_pct", "harness_rss_mb", "machine_cpu_pct", "harness_heap_live_mb", "harness_go_total_mb"}
	for _, n := range r.Nodes {
		for _, c := range []string{"cpu_pct", "rss_mb", "js_storage_mb", "in_msgs_per_sec", "js_api_per_sec"} {
			head = append(head, n.Name+"_"+c)
		}
	}
	_ = w.Write(head)
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	for _, s := range r.Series {
		row := []string{num(s.T), num(s.HarnessCPU), num(s.HarnessRSS), num(s.MachineCPU), num(s.HarnessHeapLive), num(s.HarnessGoTotal)}
		for _, n := range s.Nodes {
			if !n.OK {
				row = append(row, "", "", "", "", "")
				continue
			}
			row = append(row, num(n.CPU), num(n.RSSMB), num(n.JSStoreMB), num(n.InPerSec), num(n.APIPerSec))
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteText says where the time went, a line per part.
func (r *Resources) WriteText(w io.Writer) {
	shared := ""
	if r.SharedProcess {
		shared = ", the embedded servers included"
	}
	fmt.Fprintf(w, "where the time went (%d s sampled; CPU in %% of one core, %d cores):\n", r.Samples, r.Cores)
	fmt.Fprintf(w, "  harness%s: cpu %.0f%% (max %.0f%%), rss max %.0f MB; machine cpu %.0f%% of all cores (max %.0f%%)\n",
		shared, r.Harness.CPUMeanPct, r.Harness.CPUMaxPct, r.Harness.RSSMaxMB, r.MachineCPUMeanPct, r.MachineCPUMaxPct)
	for _, n := range r.Nodes {
		cpu := fmt.Sprintf("cpu %.0f%% (max %.0f%%), rss max %.0f MB, ", n.CPUMeanPct, n.CPUMaxPct, n.RSSMaxMB)
		if r.SharedProcess {
			cpu = "" // the process's, given above
		}
		fmt.Fprintf(w, "  %s: %sJetStream storage max %.1f MB, %.0f msgs/s in, %.0f out, %.0f API requests/s\n",
			n.Name, cpu, n.JSStoreMaxMB, n.InMsgsPerSec, n.OutMsgsPerSec, n.APIPerSec)
	}
	if r.Saturated != "" {
		fmt.Fprintf(w, "  ! saturated: %s\n", r.Saturated)
	}
}

// resourceChart is the report's CPU and memory charts' data: at most
// limit points, each the highest value of its window of seconds, so a
// spike survives the downsampling.
type resourceChart struct {
	T          []float64       `json:"t"`
	HarnessCPU []float64       `json:"harness_cpu"`
	MachineCPU []float64       `json:"machine_cpu"`
	HarnessRSS []float64       `json:"harness_rss"`
	Nodes      []nodeChartData `json:"nodes"`
	Shared     bool            `json:"shared"`
}

type nodeChartData struct {
	Name string     `json:"name"`
	CPU  []*float64 `json:"cpu"` // nil where the node did not answer
	RSS  []*float64 `json:"rss"`
}

func (r *Resources) chart(limit int) resourceChart {
	c := resourceChart{Shared: r.SharedProcess, T: []float64{}}
	for _, n := range r.Nodes {
		c.Nodes = append(c.Nodes, nodeChartData{Name: n.Name})
	}
	step := max(1, (len(r.Series)+limit-1)/limit)
	for i := 0; i < len(r.Series); i += step {
		w := r.Series[i:min(i+step, len(r.Series))]
		c.T = append(c.T, w[len(w)-1].T)
		var hc, mc, hr float64
		nc, nr := make([]*float64, len(c.Nodes)), make([]*float64, len(c.Nodes))
		for _, x := range w {
			hc, mc, hr = max(hc, x.HarnessCPU), max(mc, x.MachineCPU), max(hr, x.HarnessRSS)
			for j, n := range x.Nodes {
				if j >= len(nc) || !n.OK {
					continue
				}
				if nc[j] == nil {
					nc[j], nr[j] = new(float64), new(float64)
				}
				*nc[j], *nr[j] = max(*nc[j], n.CPU), max(*nr[j], n.RSSMB)
			}
		}
		c.HarnessCPU, c.MachineCPU, c.HarnessRSS = append(c.HarnessCPU, hc), append(c.MachineCPU, mc), append(c.HarnessRSS, hr)
		for j := range c.Nodes {
			c.Nodes[j].CPU, c.Nodes[j].RSS = append(c.Nodes[j].CPU, nc[j]), append(c.Nodes[j].RSS, nr[j])
		}
	}
	return c
}
