package checker

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/kvharness/kvharness/history"
)

// BenchmarkCheckScale checks simulated histories of a linearizable bucket
// (the same record semantics as a run's: invokes, unknowns that did or did
// not land, a recording watcher, final reads) over 1,000 keys with 5 %
// unknown outcomes, at 100k, 300k and 1M operations, to show how checking
// time grows. Run: go test -run '^$' -bench CheckScale -benchtime 1x ./checker
//
// With KVHARNESS_BENCH_HISTORY=DIR it also writes each history to
// DIR/<ops>.jsonl, so `kvharness check` can be measured on it alone (time,
// peak RSS) — `make bench` does.
func BenchmarkCheckScale(b *testing.B) {
	for _, ops := range []int{100_000, 300_000, 1_000_000} {
		b.Run(fmt.Sprintf("ops=%d", ops), func(b *testing.B) {
			const clients = 16
			sim := simulate(simConfig{seed: 7, clients: clients, keys: 1000, opsPerClient: ops / clients, unknownRate: 0.05, failRate: 0.02})
			if dir := os.Getenv("KVHARNESS_BENCH_HISTORY"); dir != "" {
				writeHistory(b, fmt.Sprintf("%s/%d.jsonl", dir, ops), sim.h)
			}
			runtime.GC()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				res := Check(sim.h, Options{Timeout: 2 * time.Minute, VisualizeDir: b.TempDir()})
				b.ReportMetric(time.Since(start).Seconds(), "s/check")
				if res.Verdict != Pass {
					b.Fatalf("verdict %s\n%s", res.Verdict, dump(res))
				}
			}
		})
	}
}

// writeHistory writes h as a run would have recorded it.
func writeHistory(b testing.TB, path string, h *history.History) {
	w, err := history.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w.Write(&history.Record{Kind: history.KindMeta, Meta: h.Meta})
	for _, list := range [][]history.Record{h.Ops, h.Watch, h.Stored, h.Final, h.Replicas} {
		for i := range list {
			w.Write(&list[i])
		}
	}
	w.Write(&history.Record{Kind: history.KindEnd, End: h.End})
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSweepKey sweeps one key of 100k simulated operations (8
// clients, 5 % unknown outcomes), as the write and read checks do: the
// linear-time path a key with a known message sequence takes.
// Run: go test -run '^$' -bench SweepKey ./checker
func BenchmarkSweepKey(b *testing.B) {
	sim := simulate(simConfig{seed: 3, clients: 8, keys: 1, opsPerClient: 100_000 / 8, unknownRate: 0.05, failRate: 0.02})
	parts := keyParts(sim.h)
	ops := 0
	for _, p := range parts {
		ops += len(p)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, p := range parts {
			if !sweepKey(p) {
				b.Fatal("a simulated key was not swept")
			}
		}
	}
	b.ReportMetric(float64(ops)*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkCheckRecorded checks a recorded history (testdata: the default
// scenario on 3 embedded nodes, 8 keys, puts, CAS updates, creates, gets
// and deletes, a recording watcher) in memory: the checks alone, without
// reading the file, as they take each group of a long run. Compare builds
// with benchstat over alternated rounds.
func BenchmarkCheckRecorded(b *testing.B) {
	h, err := history.ReadFile("testdata/recorded-default-r3.jsonl.zst")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for b.Loop() {
		if res := Check(h, Options{Timeout: time.Minute, VisualizeDir: dir}); res.Verdict != Pass {
			b.Fatalf("verdict %s\n%s", res.Verdict, dump(res))
		}
	}
	b.ReportMetric(float64(len(h.Ops))*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
