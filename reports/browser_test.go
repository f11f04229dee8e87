package reports_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
	"github.com/kvharness/kvharness/reports"
)

// TestReportRendersInBrowser opens report.html in headless Chromium, offline
// from file://, and holds the page to its contract: every chart drawn with
// data and a canvas, body[data-ready="1"] once they all are, a #verdict
// reading PASS, FAIL or UNKNOWN, no console error or uncaught exception, and
// no request to anything but the file itself.
//
// Without Chromium it skips, unless KVHARNESS_REQUIRE_BROWSER is set (CI sets
// it). KVHARNESS_SCREENSHOT_DIR, when set, receives report.png.
func TestReportRendersInBrowser(t *testing.T) {
	chrome := chromiumOrSkip(t)

	// The page, from a synthetic run: no NATS server involved.
	h := syntheticHistory(1)
	res := checker.Check(h, checker.Options{})
	if res.Verdict != checker.Pass {
		// The page must render whatever the verdict; a non-pass here only
		// means the generator drifted from what the checker accepts.
		t.Logf("synthetic history is not a pass (%s): %v", res.Verdict, res.Notes)
	}
	// A failing check the run only reports, as stale direct reads on R3:
	// the page explains it first and folds its notes.
	res.Checks = append(res.Checks, checker.CheckResult{Name: checker.CheckLinearizableReadsLeader, Result: checker.Fail, Detail: "1 of 4 keys fail"})
	res.Notes = append(res.Notes, `linearizable-reads-leader: key "k1": stale read`)
	s := reports.Build(reports.Input{Digest: reports.DigestOf(h), Result: res, Resources: sampleResources()})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, history.FileName), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFiles(dir); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	page := filepath.Join(dir, "report.html")
	// KVHARNESS_REPORT_DIR opens a real run's report instead (e.g. to time a
	// one-million-operation run's page); the assertions are the same.
	if d := os.Getenv("KVHARNESS_REPORT_DIR"); d != "" {
		page = filepath.Join(d, "report.html")
		if rs, err := reports.LoadSummary(d); err == nil {
			s = rs
		}
	}
	if fi, err := os.Stat(page); err != nil {
		t.Fatalf("WriteHTML wrote no report.html: %v", err)
	} else {
		t.Logf("report.html: %d ops, %d KB, verdict %s", len(h.Ops), fi.Size()/1024, s.Verdict)
	}
	bp := openInBrowser(t, chrome, page)
	bctx, dump := bp.ctx, bp.dump

	type chartInfo struct {
		Title    string  `json:"title"`
		Points   string  `json:"points"`
		Canvas   bool    `json:"canvas"`
		Legend   string  `json:"legend"`   // the labels given
		Shown    string  `json:"shown"`    // the legend as drawn
		OverTime string  `json:"overTime"` // "true": x is time, faults shaded
		Width    float64 `json:"width"`
	}
	type pageInfo struct {
		Charts        []chartInfo `json:"charts"`
		HasVerdict    bool        `json:"hasVerdict"`
		Verdict       string      `json:"verdict"`
		Workload      string      `json:"workload"`
		MadeBy        string      `json:"madeBy"`
		Files         []string    `json:"files"`
		Reported      string      `json:"reported"`
		ChecksHeader  string      `json:"checksHeader"`
		NotApplicable string      `json:"notApplicable"`
		PageWidth     float64     `json:"pageWidth"`
		Leadership    string      `json:"leadership"`
	}
	info, err := chromedp.Run(bctx, chromedp.Evaluate[pageInfo](`(() => {
		const text = (id) => ((document.getElementById(id) || {}).textContent || "").trim();
		const charts = Array.from(document.querySelectorAll(".chart")).map((el) => ({
			title: ((el.querySelector(".u-title") || {}).textContent || "").trim(),
			points: el.getAttribute("data-points") || "",
			canvas: el.querySelector("canvas") !== null,
			legend: el.getAttribute("data-legend") || "",
			shown: ((el.querySelector(".u-legend") || {}).textContent || "").trim(),
			overTime: el.getAttribute("data-over-time") || "",
			width: el.getBoundingClientRect().width,
		}));
		const v = document.getElementById("verdict");
		const head = document.querySelector("#checks tr");
		return {charts, hasVerdict: v !== null, verdict: v ? v.textContent.trim() : "",
			workload: text("workload"), madeBy: text("made-by"),
			files: Array.from(document.querySelectorAll("#files a")).map((a) => a.getAttribute("href")),
			reported: text("reported"), checksHeader: head ? head.textContent : "",
			notApplicable: text("not-applicable"), pageWidth: document.body.clientWidth,
			leadership: text("leadership")};
	})()`))
	if err != nil {
		t.Fatalf("reading the page: %v; %s", err, dump())
	}
	if len(info.Charts) < 4 {
		t.Errorf("page has %d .chart elements, want at least 4 (latency and throughput per op, spectrum)", len(info.Charts))
	}
	if os.Getenv("KVHARNESS_REPORT_DIR") == "" {
		// Where the time went: CPU and memory over time, each node in both.
		resources := 0
		for _, c := range info.Charts {
			if (c.Title == "CPU, % of one core" || c.Title == "resident memory, MB") && c.Canvas && c.Points != "0" && strings.Contains(c.Legend, "n2") {
				resources++
			}
		}
		if resources != 2 {
			t.Errorf("%d resource charts with points and every node, want CPU and memory", resources)
		}
	}
	watchCharts := 0
	for _, c := range info.Charts {
		if strings.HasPrefix(c.Title, "watch ") {
			watchCharts++
		}
	}
	if os.Getenv("KVHARNESS_REPORT_DIR") == "" {
		if watchCharts != 2 {
			t.Errorf("%d charts of op watch, want its latency (propagation) and its deliveries per second", watchCharts)
		}
		checkReportParts(t, info.Workload, info.MadeBy, info.Files, info.Reported, info.ChecksHeader, info.NotApplicable)
		// The stream's leadership as the run saw it, in one line.
		for _, want := range []string{"n1 0.0–2.0 s → n2 3.3–20.0 s", "1 leader change", "1.3 s without a leader that could commit"} {
			if !strings.Contains(info.Leadership, want) {
				t.Errorf("#leadership %q lacks %q", info.Leadership, want)
			}
		}
	}
	var total, latencyCharts, spectrum int
	for _, c := range info.Charts {
		name := fmt.Sprintf("chart %q", c.Title)
		// Legends carry each series' figure over the run, not "--".
		if strings.Contains(c.Shown, "--") || c.Legend == "" {
			t.Errorf("%s: legend %q (labels %q) shows no figures", name, c.Shown, c.Legend)
		}
		switch {
		case strings.HasPrefix(c.Title, "all client ops/s"):
			total++
			if c.Width < 0.9*info.PageWidth {
				t.Errorf("%s is %.0f px wide on a %.0f px page: not the page width", name, c.Width, info.PageWidth)
			}
		case strings.Contains(c.Title, "latency (ms, log)"):
			latencyCharts++
			for _, want := range []string{"p50 · ", "p99 · ", "p99.9 · ", "max · "} {
				if !strings.Contains(c.Legend, want) {
					t.Errorf("%s: legend %q lacks %q", name, c.Legend, want)
				}
			}
		case strings.HasSuffix(c.Title, "ops/s") && !strings.HasPrefix(c.Title, "watch"):
			if !strings.Contains(c.Legend, "CAS conflict (expected) · ") || !strings.Contains(c.Legend, "error · ") {
				t.Errorf("%s: legend %q does not draw CAS conflicts apart from errors", name, c.Legend)
			}
		case c.Title == "percentile spectrum":
			spectrum++
			if c.OverTime != "false" {
				t.Errorf("the percentile spectrum's x is not time, yet faults are shaded on it")
			}
		}
	}
	if total != 1 || latencyCharts == 0 || spectrum != 1 {
		t.Errorf("%d total throughput, %d latency, %d spectrum charts", total, latencyCharts, spectrum)
	}
	for i, c := range info.Charts {
		name := fmt.Sprintf("chart %d %q", i, c.Title)
		if n, err := strconv.Atoi(c.Points); err != nil || n <= 0 {
			t.Errorf("%s: data-points=%q, want a number > 0", name, c.Points)
		}
		if !c.Canvas {
			t.Errorf("%s: no <canvas>", name)
		}
	}
	switch {
	case !info.HasVerdict:
		t.Errorf("page has no #verdict element")
	case info.Verdict == "":
		t.Errorf("#verdict is empty")
	case info.Verdict != "PASS" && info.Verdict != "FAIL" && info.Verdict != "UNKNOWN":
		t.Errorf("#verdict reads %q, want PASS, FAIL or UNKNOWN", info.Verdict)
	case info.Verdict != strings.ToUpper(string(s.Verdict)):
		t.Errorf("#verdict reads %q but the summary's verdict is %s", info.Verdict, s.Verdict)
	}

	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // 100: PNG (any other quality gives a JPEG)
	if err != nil {
		t.Errorf("screenshot: %v", err)
	} else {
		png := filepath.Join(t.TempDir(), "report.png")
		if err := os.WriteFile(png, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d KB)", png, len(shot)/1024)
		if d := os.Getenv("KVHARNESS_SCREENSHOT_DIR"); d != "" {
			kept := filepath.Join(d, "report.png")
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Errorf("KVHARNESS_SCREENSHOT_DIR: %v", err)
			} else if err := os.WriteFile(kept, shot, 0o644); err != nil {
				t.Errorf("KVHARNESS_SCREENSHOT_DIR: %v", err)
			} else {
				t.Logf("screenshot kept: %s", kept)
			}
		}
	}

	bp.checkClean(t)
}

// browserPage is a page opened offline (file://) in headless Chromium,
// with what it logged and what it requested.
type browserPage struct {
	ctx context.Context
	mu  sync.Mutex
	// problems: console errors, exceptions, error log entries; requests:
	// every request the page made; remote: those to anything but local
	// content.
	problems, requests, remote []string
}

// readyWithin bounds drawing a page once it is opened; a page that works
// is ready in well under a second (the tests log how long it took).
const readyWithin = 30 * time.Second

// openInBrowser starts Chromium, opens page and waits (bounded) until its
// body says data-ready="1". The browser stops when the test ends.
func openInBrowser(t *testing.T, chrome, page string) *browserPage {
	t.Helper()
	pageURL := (&url.URL{Scheme: "file", Path: page}).String()
	// The whole browser part has a budget, so a hung browser fails the test
	// rather than the package's timeout. Generous: on two cores busy
	// compiling other packages with -race, Chromium starts slowly (the
	// package failed twice here beside other packages, never alone).
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	var browserOut bytes.Buffer // written by the allocator's goroutine; read after the browser exits
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root in a container
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// A small /dev/shm (containers default to 64 MB) crashes renderers.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&browserOut),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	// Stops the browser and waits for it to exit, before t.TempDir (the
	// profile) is removed: cleanups run last first.
	t.Cleanup(acancel)
	p := &browserPage{}
	// Listener, from the tab's first message on. It runs in the loop that
	// reads the browser's messages, so it only records.
	listen := func(ev any) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				p.problems = append(p.problems, fmt.Sprintf("console.%s: %s", ev.Type, consoleArgs(ev.Args)))
			}
		case *runtime.EventExceptionThrown:
			p.problems = append(p.problems, "uncaught exception: "+exceptionText(ev.ExceptionDetails))
		case *log.EventEntryAdded:
			if ev.Entry != nil && ev.Entry.Level == log.EntryLevelError {
				p.problems = append(p.problems, fmt.Sprintf("log error (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *network.EventRequestWillBeSent:
			if ev.Request == nil {
				return
			}
			p.requests = append(p.requests, ev.Request.URL)
			if !localURL(ev.Request.URL) {
				p.remote = append(p.remote, ev.Request.Method+" "+ev.Request.URL)
			}
		}
	}
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(listen))
	t.Cleanup(bcancel)
	p.ctx = bctx

	// Start the browser and open the tab before the clock starts.
	if err := chromedp.Do(bctx); err != nil {
		acancel()
		t.Fatalf("starting %s: %v\nbrowser output:\n%s", chrome, err, browserOut.String())
	}
	if v, err := chromedp.CallBrowser(bctx, browser.GetVersion, cdp.Empty{}); err == nil {
		t.Logf("browser: %s (%s)", v.Product, chrome)
	}
	start := time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("opening %s: %v; %s", pageURL, err, p.dump())
	}
	_, err := chromedp.Run(bctx, chromedp.Poll[bool](
		`document.body !== null && document.body.dataset.ready === "1"`,
		chromedp.WithPollingTimeout(readyWithin),
		chromedp.WithPollingInterval(10*time.Millisecond)))
	ready := time.Since(start)
	if err != nil {
		state, _ := chromedp.Run(bctx, chromedp.Evaluate[string](
			`JSON.stringify({ready: String(document.body && document.body.dataset.ready), charts: document.querySelectorAll(".chart").length})`))
		t.Fatalf("body[data-ready=\"1\"] not set within %s of navigation (%v): page %s; %s", readyWithin, err, state, p.dump())
	}
	t.Logf("%s ready %v after navigation", filepath.Base(page), ready.Round(time.Millisecond))
	return p
}

// dump: what went wrong, for a failure message.
func (p *browserPage) dump() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("console/exceptions: %q; requests: %q", p.problems, p.requests)
}

// checkClean fails the test for any problem the page logged and any
// request it made off the machine: a report must work offline.
func (p *browserPage) checkClean(t *testing.T) {
	t.Helper()
	// Events up to the last reply have been handled by now: the listener
	// runs before the reader moves on to the next message.
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.problems {
		t.Errorf("page: %s", pr)
	}
	for _, r := range p.remote {
		t.Errorf("page requested %s; it must be self-contained and work offline", r)
	}
	t.Logf("requests: %d, %d of them not local: %q", len(p.requests), len(p.remote), p.requests)
}

// checkReportParts holds the page's header and checks to what a reader
// needs at a glance: the workload, what made the report, links to the
// run's files, a reported-only failure explained, the column header, and
// the checks that do not apply on one row.
func checkReportParts(t *testing.T, workload, madeBy string, files []string, reported, checksHeader, notApplicable string) {
	t.Helper()
	for _, want := range []string{"mix put=30,update=25,get=35,delete=10", "4 keys (uniform)", "128 B values", "op timeout 5000 ms", "closed-loop, 4 clients"} {
		if !strings.Contains(workload, want) {
			t.Errorf("header workload %q lacks %q", workload, want)
		}
	}
	if !strings.Contains(madeBy, "commit 0123456789ab on ci-runner, 2 CPUs") {
		t.Errorf("header names the kvharness as %q", madeBy)
	}
	for _, want := range []string{history.FileName, "summary.json", "timeseries.csv", "latency/put.hgrm"} {
		if !slices.Contains(files, want) {
			t.Errorf("header links %q, not %q", files, want)
		}
	}
	if !strings.Contains(reported, "linearizable-reads-leader fails, but it is only reported, so the verdict stands") {
		t.Errorf("the reported-only failure is not explained first: %q", reported)
	}
	if !strings.Contains(checksHeader, "counts toward the verdict") {
		t.Errorf("checks table header %q: the required/reported column has no header", checksHeader)
	}
	if !strings.Contains(notApplicable, "not applicable") || !strings.Contains(notApplicable, "counter-exact") {
		t.Errorf("checks that do not apply are not folded into one row: %q", notApplicable)
	}
}

// chromiumOrSkip returns the browser's path; without one the test skips,
// or fails when KVHARNESS_REQUIRE_BROWSER is set (CI sets it).
func chromiumOrSkip(t *testing.T) string {
	t.Helper()
	chrome := findChromium()
	if chrome == "" {
		if os.Getenv("KVHARNESS_REQUIRE_BROWSER") != "" {
			t.Fatal("chromium not found (/usr/bin/chromium or chromium in PATH) and KVHARNESS_REQUIRE_BROWSER is set; install it: apt-get install -y chromium")
		}
		t.Skip("chromium not found (/usr/bin/chromium or chromium in PATH); install it (apt-get install -y chromium) or set KVHARNESS_REQUIRE_BROWSER=1 to make this a failure")
	}
	return chrome
}

// findChromium returns Debian's chromium, or one in PATH, or "".
func findChromium() string {
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// localURL: what an offline page may load — itself and inline content.
func localURL(u string) bool {
	for _, scheme := range []string{"file:", "data:", "blob:", "about:"} {
		if strings.HasPrefix(u, scheme) {
			return true
		}
	}
	return false
}

func consoleArgs(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		switch {
		case a == nil:
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	msg := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		msg += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s (%s line %d, column %d)", msg, d.URL, d.LineNumber+1, d.ColumnNumber+1)
}

// syntheticHistory is a consistent 4-client run of about 5 s and 2,000
// operations on keys k0..k3 of an R1 bucket: puts, CAS updates (some
// conflicting), gets and deletes, with realistic latencies, a slow patch
// between 3.0 and 3.4 s, and the final reads of a run that ended normally.
//
// Each client runs closed-loop; every operation takes effect at a point
// between its invoke and its completion, and the operations are applied to
// the bucket in that order, so revisions grow, gets return the latest write
// that took effect and the checker's verdict is a pass.
func syntheticHistory(seed uint64) *history.History {
	const (
		clients  = 4
		duration = 5 * time.Second
	)
	rng := rand.New(rand.NewPCG(seed, 0x6b76))
	ms := func(f float64) int64 { return int64(f * float64(time.Millisecond)) }
	keys := []string{"k0", "k1", "k2", "k3"}

	// Timing first: each client's operations, back to back.
	type pending struct {
		rec history.Record
		at  int64 // when it takes effect
	}
	var ops []pending
	for c := 1; c <= clients; c++ {
		now := ms(rng.Float64() * 2)
		for n := 1; now < int64(duration); n++ {
			r := history.Record{Kind: history.KindOp, Client: c, Key: keys[rng.IntN(len(keys))], Invoke: now, Outcome: history.OK}
			var lat float64 // ms
			switch p := rng.Float64(); {
			case p < 0.35:
				r.Op = history.OpGet
				lat = 1 + rng.ExpFloat64()*2
			case p < 0.65:
				r.Op, r.Value = history.OpPut, fmt.Sprintf("c%d-%d", c, n)
				lat = 4 + rng.ExpFloat64()*6
			case p < 0.90:
				r.Op, r.Value, r.HasExpect = history.OpUpdate, fmt.Sprintf("c%d-%d", c, n), true
				lat = 4 + rng.ExpFloat64()*6
			default:
				r.Op = history.OpDelete
				lat = 4 + rng.ExpFloat64()*6
			}
			if rng.Float64() < 0.01 { // tail
				lat += 20 + rng.Float64()*60
			}
			if now > ms(3000) && now < ms(3400) { // a slow patch
				lat *= 4
			}
			r.Complete = now + ms(lat)
			at := r.Invoke + int64((0.2+0.6*rng.Float64())*float64(r.Complete-r.Invoke))
			ops = append(ops, pending{rec: r, at: at})
			now = r.Complete + ms(rng.Float64()*1.5) // think time
		}
	}

	// Then effects, in the order they take place.
	sort.Slice(ops, func(i, j int) bool { return ops[i].at < ops[j].at })
	type keyState struct {
		live  bool
		value string
		rev   uint64 // revision of the key's last message, 0: none
	}
	bucket := map[string]*keyState{}
	for _, k := range keys {
		bucket[k] = &keyState{}
	}
	var seq uint64                       // the stream's last sequence
	known := map[int]map[string]uint64{} // per client, the last revision it saw per key
	for c := 1; c <= clients; c++ {
		known[c] = map[string]uint64{}
	}
	for i := range ops {
		r := &ops[i].rec
		k := bucket[r.Key]
		switch r.Op {
		case history.OpGet:
			if k.live {
				r.Found, r.Read, r.Rev = true, k.value, k.rev
				known[r.Client][r.Key] = k.rev
			}
		case history.OpPut:
			seq++
			*k = keyState{live: true, value: r.Value, rev: seq}
			r.Rev = seq
			known[r.Client][r.Key] = seq
		case history.OpUpdate:
			// Mostly read-modify-write with a fresh read; otherwise the
			// client's last sighting, which may be stale: a conflict.
			r.ExpectRev = known[r.Client][r.Key]
			if rng.Float64() < 0.7 {
				r.ExpectRev = k.rev
			}
			if r.ExpectRev != k.rev {
				r.Outcome, r.ErrClass = history.Fail, history.ClassConflict
				r.Error = fmt.Sprintf("nats: wrong last sequence: %d", k.rev)
				break
			}
			seq++
			*k = keyState{live: true, value: r.Value, rev: seq}
			r.Rev = seq
			known[r.Client][r.Key] = seq
		case history.OpDelete:
			// A delete appends a marker; the client learns no revision.
			seq++
			*k = keyState{live: false, rev: seq}
		}
	}

	h := &history.History{
		Meta: &history.Meta{
			Scenario: "browser-test", Bucket: "KV_browser_test", Replicas: 1, History: 1,
			Keys: keys, Seed: seed, Mode: "embedded", Nodes: 1, ServerVersion: "2.15.2",
			Clients: clients, Pacing: "closed-loop", StartedAt: "2026-01-01T00:00:00Z",
			Workload: &history.Workload{Storage: "file", Mix: map[string]int{"get": 35, "put": 30, "update": 25, "delete": 10},
				Keys: len(keys), KeyDistribution: "uniform", ValueSize: 128, OpTimeoutMs: 5000},
			Harness: "commit 0123456789ab", Host: "ci-runner", CPUs: 2,
		},
		Faults: []history.Fault{{Kind: "pause", Target: "n1", Start: int64(2 * time.Second), End: int64(3 * time.Second)}},
		// The paused leader's stretch ends as it stops; n2 leads after.
		// (Stretches of contact with every replica are not drawn.)
		Leadership: []history.Leadership{{Leader: "n1", From: 0, To: int64(2 * time.Second)}, {Leader: "n2", From: int64(3300 * time.Millisecond), To: int64(20 * time.Second)},
			{Leader: "n1", From: 0, To: int64(1 * time.Second), All: true}},
	}
	h.Meta.ObservesLeadership = true
	// Recorded as operations complete.
	sort.Slice(ops, func(i, j int) bool { return ops[i].rec.Complete < ops[j].rec.Complete })
	var end int64
	for _, p := range ops {
		h.Ops = append(h.Ops, p.rec)
		end = max(end, p.rec.Complete)
	}
	// Two watchers of every key receive each write a little after it took
	// effect (sometimes before its writer has the acknowledgement).
	h.Meta.Watchers = []history.WatcherSpec{{ID: 1, Mode: history.WatchLatest}, {ID: 2, Mode: history.WatchLatest}}
	h.Meta.Required = []string{checker.CheckLinearizableWrites, checker.CheckWatchOrder} // no stored messages to hold watch-complete to
	sort.Slice(ops, func(i, j int) bool { return ops[i].at < ops[j].at })
	for _, p := range ops {
		if p.rec.Value == "" || p.rec.Outcome != history.OK {
			continue
		}
		for w := 1; w <= 2; w++ {
			h.Delivered = append(h.Delivered, history.Delivery{Watcher: w, Key: p.rec.Key,
				Rev: p.rec.Rev, Read: p.rec.Value, At: p.at + ms(0.2+rng.ExpFloat64())})
		}
	}
	// Final reads through the stream leader, after the run.
	at := end + ms(50)
	for _, key := range keys {
		k := bucket[key]
		f := history.Record{Kind: history.KindFinal, Key: key, Invoke: at, Complete: at + ms(1)}
		switch {
		case k.live:
			f.Found, f.Read, f.Rev = true, k.value, k.rev
		case k.rev != 0:
			f.Marker, f.Rev = history.MarkerDel, k.rev
		}
		h.Final = append(h.Final, f)
		at += ms(1)
	}
	h.End = &history.End{At: at, LastSeq: seq, FinalReads: true}
	return h
}

// TestABReportRendersInBrowser: ab.html from rounds whose candidate is
// clearly slower renders offline with its verdict, the regressions, and a
// chart of every round per metric that has anything to show.
func TestABReportRendersInBrowser(t *testing.T) {
	chrome := chromiumOrSkip(t)
	run := func(tp, p99 float64) *reports.Summary {
		return &reports.Summary{ThroughputOpsPerSec: tp, Ops: map[string]*reports.OpSummary{
			"put": {OK: 1000, LatencyUS: latency.Percentiles{P50: 400, P99: p99 * 1000, P999: 2 * p99 * 1000}}}}
	}
	var base, cand []*reports.Summary
	for i := 0; i < 6; i++ {
		base = append(base, run(1000+float64(10*i), 5+0.1*float64(i)))
		cand = append(cand, run(800+float64(10*i), 7+0.1*float64(i)))
	}
	r := &reports.ABReport{Base: reports.ABSide{Description: "default against nats-server v2.10.27"}, Cand: reports.ABSide{Description: "default against nats-server v2.15.2"},
		Rules: reports.DefaultSampleRules, Rounds: 6, RoundsDone: 6, Warmup: 1, Metrics: reports.CompareSamples(base, cand, reports.DefaultSampleRules)}
	r.DecideAB(nil)
	dir := t.TempDir()
	for _, write := range []func(string) error{r.WriteJSON, r.WriteJUnit, r.WriteHTML} {
		if err := write(dir); err != nil {
			t.Fatal(err)
		}
	}
	bp := openInBrowser(t, chrome, filepath.Join(dir, "ab.html"))
	type page struct {
		Verdict     string   `json:"verdict"`
		Regressions int      `json:"regressions"`
		Charts      []string `json:"charts"`
		Points      []string `json:"points"`
		Rows        int      `json:"rows"`
	}
	got, err := chromedp.Run(bp.ctx, chromedp.Evaluate[page](`(() => ({
		verdict: document.getElementById("verdict").textContent.trim(),
		regressions: document.querySelectorAll("#regressions li").length,
		charts: Array.from(document.querySelectorAll(".chart")).map((el) => el.getAttribute("data-metric")),
		points: Array.from(document.querySelectorAll(".chart")).map((el) => el.getAttribute("data-points")),
		rows: document.querySelectorAll("#metrics tr").length - 1,
	}))()`))
	if err != nil {
		t.Fatalf("reading the page: %v; %s", err, bp.dump())
	}
	if got.Verdict != "REGRESSION" || got.Regressions != 3 { // throughput, put.p99 and put.p999
		t.Errorf("verdict %q with %d regressions listed, want REGRESSION with 3 (rows: %+v)", got.Verdict, got.Regressions, r.Metrics)
	}
	// put.error_rate is 0 in every run: in the table, not drawn.
	if want := []string{"throughput", "put.p50", "put.p99", "put.p999"}; !slices.Equal(got.Charts, want) || got.Rows != 5 {
		t.Errorf("charts %v and %d table rows, want charts %v and 5 rows", got.Charts, got.Rows, want)
	}
	for i, p := range got.Points {
		if p != "12" {
			t.Errorf("chart %s draws %s points, want 12 (6 rounds a side)", got.Charts[i], p)
		}
	}
	bp.checkClean(t)
}

// TestTrendReportRendersInBrowser: trend.html over thirteen nights whose
// last three are slower renders offline, draws a chart per metric with
// something to show, and marks the night the shift was found on the
// throughput chart.
func TestTrendReportRendersInBrowser(t *testing.T) {
	chrome := chromiumOrSkip(t)
	var runs []*reports.Summary
	var dirs []string
	for i, tp := range []float64{100, 103, 98, 101, 99, 102, 100, 97, 103, 101, 86, 85, 84} {
		runs = append(runs, &reports.Summary{Scenario: "default", Verdict: "pass", ThroughputOpsPerSec: tp,
			Run: reports.RunInfo{StartedAt: fmt.Sprintf("2026-11-%02dT02:00:00Z", i+1)},
			Ops: map[string]*reports.OpSummary{"put": {OK: 1000, LatencyUS: latency.Percentiles{P50: 400, P99: 5000, P999: 9000}}}})
		dirs = append(dirs, fmt.Sprintf("night-%02d", i+1))
	}
	tr := reports.BuildTrend(runs, dirs, reports.DefaultTrendRules)
	dir := t.TempDir()
	if err := tr.WriteHTML(dir); err != nil {
		t.Fatal(err)
	}
	bp := openInBrowser(t, chrome, filepath.Join(dir, "trend.html"))
	type chart struct {
		Metric  string `json:"metric"`
		Flagged string `json:"flagged"`
	}
	got, err := chromedp.Run(bp.ctx, chromedp.Evaluate[[]chart](`Array.from(document.querySelectorAll(".chart")).map((el) => ({
		metric: el.getAttribute("data-metric"), flagged: el.getAttribute("data-flagged")}))`))
	if err != nil {
		t.Fatalf("reading the page: %v; %s", err, bp.dump())
	}
	want := []chart{{"throughput", "1"}, {"put.p50", "0"}, {"put.p99", "0"}, {"put.p999", "0"}} // put.error_rate is 0 throughout
	if !slices.Equal(got, want) {
		t.Errorf("charts %+v, want %+v", got, want)
	}
	bp.checkClean(t)
}

// TestCapacityReportRendersInBrowser: capacity.html of a search whose
// latency rose past the SLO renders offline, draws the latency and the
// throughput chart, and states the answer.
func TestCapacityReportRendersInBrowser(t *testing.T) {
	chrome := chromiumOrSkip(t)
	c := &reports.Capacity{Scenario: "default", SLO: []string{"put.p99<5ms"}, StepSec: 10, WarmupSec: 2, Precision: 0.1, Repeats: 1}
	for i, rate := range []float64{0, 500, 1000, 2000, 1500, 1200} {
		p99 := 1 + 4*rate/1300
		if rate == 0 {
			p99 = 3
		}
		meets := p99 < 5
		st := reports.CapacityStep{N: i + 1, Phase: reports.PhaseRamp, Offered: rate, Achieved: rate, MeetsSLO: meets,
			Ops:        map[string]reports.CapacityOp{"put": {P50: p99 / 3, P99: p99, P999: 2 * p99}},
			Thresholds: []reports.ThresholdResult{{Name: "put.p99", Expr: "<5ms", Actual: p99 * 1000, Unit: "us", Pass: meets}}}
		if rate == 0 {
			st.Phase, st.Achieved = reports.PhaseClosedLoop, 4000
		}
		if !meets {
			st.Broken = []string{"put.p99"}
		}
		c.Steps = append(c.Steps, st)
	}
	c.Decide("")
	if c.MaxRate != 1200 || c.BrokeAt != 1500 {
		t.Fatalf("max %g, broke at %g", c.MaxRate, c.BrokeAt)
	}
	dir := t.TempDir()
	if err := c.WriteHTML(dir); err != nil {
		t.Fatal(err)
	}
	bp := openInBrowser(t, chrome, filepath.Join(dir, "capacity.html"))
	type page struct {
		Charts string `json:"charts"`
		Answer string `json:"answer"`
		Rows   int    `json:"rows"`
	}
	got, err := chromedp.Run(bp.ctx, chromedp.Evaluate[page](`({charts: document.body.getAttribute("data-charts"),
		answer: document.getElementById("answer").textContent, rows: document.querySelectorAll("#steps tr").length - 1})`))
	if err != nil {
		t.Fatalf("reading the page: %v; %s", err, bp.dump())
	}
	if got.Charts != "2" || !strings.Contains(got.Answer, "1200 ops/s is the highest rate") || !strings.Contains(got.Answer, "1500 ops/s broke it") || got.Rows != 6 {
		t.Errorf("page %+v", got)
	}
	bp.checkClean(t)
}

// sampleResources: three spawned nodes sampled for five seconds, n2
// paused (no answer) in the fourth.
func sampleResources() *reports.Resources {
	r := &reports.Resources{Cores: 2, Samples: 5, Nodes: []reports.NodeResources{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}}
	for i := range 5 {
		x := reports.ResourceSample{T: float64(i + 1), HarnessCPU: 40 + float64(i), HarnessRSS: 30, MachineCPU: 70}
		for j := range 3 {
			x.Nodes = append(x.Nodes, reports.NodeSample{OK: !(i == 3 && j == 1), CPU: 20 + float64(j), RSSMB: 25, JSStoreMB: 0.1})
		}
		r.Series = append(r.Series, x)
	}
	return r
}
