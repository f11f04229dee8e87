package checker

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kvharness/kvharness/history"
)

// viaLeader routes a get to the stream leader.
func viaLeader(r history.Record) history.Record {
	r.Path = history.PathLeader
	return r
}

// pathsRun: "a" is written three times and read three times stale through
// one path (stale) and twice fresh through the other (fresh):
//
//	v1@1 at 0..10, v2@2 at 20..30, v3@3 at 60..70
//	stale: at 40 reads v1 (overwritten at 30: 10 ms, 1 revision behind)
//	       at 80 reads v1 (overwritten at 30: 50 ms, 2 revisions behind)
//	       at 90 reads v2 (overwritten at 70: 20 ms, 1 revision behind)
//	fresh: at 35 reads v2, at 100 reads v3
func pathsRun(stale, fresh func(history.Record) history.Record) *history.History {
	return hist(
		put(1, "a", "v1", 1, at(0, 10)),
		put(1, "a", "v2", 2, at(20, 30)),
		fresh(get(3, "a", "v2", 2, at(35, 38))),
		stale(get(2, "a", "v1", 1, at(40, 45))),
		put(1, "a", "v3", 3, at(60, 70)),
		stale(get(2, "a", "v1", 1, at(80, 85))),
		stale(get(2, "a", "v2", 2, at(90, 95))),
		fresh(get(3, "a", "v3", 3, at(100, 105))),
		final("a", "v3", 3),
	)
}

func direct(r history.Record) history.Record { return r }

// The three stale gets: lags 10, 50 and 20 ms.
var staleFigures = StaleReads{Gets: 3, Stale: 3, Frac: 1, MaxRevsBehind: 2, P50StaleMs: 20, P99StaleMs: 50, MaxStaleMs: 50}

var freshFigures = StaleReads{Gets: 2}

func TestReadPaths(t *testing.T) {
	tests := []struct {
		name                         string
		h                            *history.History
		wantDirect, wantLeader       Status
		directFigures, leaderFigures StaleReads
		staleCheck                   string
		staleDetail, freshDetail     string
	}{
		{
			name:          "stale leader gets, fresh direct gets",
			h:             pathsRun(viaLeader, direct),
			wantDirect:    Pass,
			wantLeader:    Fail,
			directFigures: freshFigures,
			leaderFigures: staleFigures,
			staleCheck:    CheckLinearizableReadsLeader,
			staleDetail:   "leader gets: 3 of 3 gets returned an overwritten value (100.00%), up to 2 revisions and 50.0 ms behind",
			freshDetail:   "direct gets: 0 of 2 gets returned an overwritten value (0.00%)",
		},
		{
			name:          "stale direct gets, fresh leader gets",
			h:             pathsRun(direct, viaLeader),
			wantDirect:    Fail,
			wantLeader:    Pass,
			directFigures: staleFigures,
			leaderFigures: freshFigures,
			staleCheck:    CheckLinearizableReads,
			staleDetail:   "direct gets: 3 of 3 gets returned an overwritten value (100.00%), up to 2 revisions and 50.0 ms behind",
			freshDetail:   "leader gets: 0 of 2 gets returned an overwritten value (0.00%)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := runCheck(t, tc.h)
			wantStatus(t, res, map[string]Status{
				CheckLinearizableWrites:      Pass,
				CheckLinearizableReads:       tc.wantDirect,
				CheckLinearizableReadsLeader: tc.wantLeader,
				CheckRevisionsUnique:         Pass,
				CheckNoLostWrites:            Pass,
				CheckReadsValid:              Pass,
			})
			staleName, freshName := CheckLinearizableReads, CheckLinearizableReadsLeader
			if tc.staleCheck == CheckLinearizableReadsLeader {
				staleName, freshName = freshName, staleName
			}
			if !notesContain(res, staleName+": ", `key "a"`, "stale read") {
				t.Errorf("no %s note names the stale read of key a:\n%s", staleName, dump(res))
			}
			for _, n := range res.Notes {
				if strings.HasPrefix(n, freshName+": ") {
					t.Errorf("note of the passing read check: %s", n)
				}
			}

			s := res.StaleReads
			if s.Gets != 5 || s.Stale != 3 || s.MaxRevsBehind != 2 || s.P50StaleMs != 20 || s.MaxStaleMs != 50 || s.Frac != 0.6 {
				t.Errorf("StaleReads over both paths = %+v, want 5 gets, 3 stale, 2 revisions, p50 20 ms, max 50 ms", s)
			}
			want := map[string]*StaleReads{history.PathDirect: &tc.directFigures, history.PathLeader: &tc.leaderFigures}
			if len(s.ByPath) != 2 {
				t.Fatalf("ByPath = %v, want direct and leader", s.ByPath)
			}
			for path, w := range want {
				if got := s.ByPath[path]; got == nil || !reflect.DeepEqual(*got, *w) {
					t.Errorf("ByPath[%s] = %+v, want %+v", path, got, w)
				}
			}

			if c := checkNamed(t, res, staleName); !strings.Contains(c.Detail, tc.staleDetail) {
				t.Errorf("%s detail %q lacks %q", staleName, c.Detail, tc.staleDetail)
			}
			if c := checkNamed(t, res, freshName); !strings.Contains(c.Detail, tc.freshDetail) {
				t.Errorf("%s detail %q lacks %q", freshName, c.Detail, tc.freshDetail)
			}
		})
	}
}

// Staleness in time is the get's invocation minus the completion of the
// first write that overwrote what it returned, whatever came after.
func TestStaleMsIsFromTheFirstOverwrite(t *testing.T) {
	h := hist(
		put(1, "a", "v1", 1, at(0, 10)),
		put(1, "a", "v2", 2, at(20, 25)),
		put(1, "a", "v3", 3, at(30, 37)),
		viaLeader(get(2, "a", "v1", 1, at(140, 145))), // v2 done at 25: 115 ms
		viaLeader(get(2, "a", "v2", 2, at(150, 155))), // v3 done at 37: 113 ms
		viaLeader(get(2, "a", "v3", 3, at(160, 165))),
		final("a", "v3", 3),
	)
	res, _ := runCheck(t, h)
	got := res.StaleReads.ByPath[history.PathLeader]
	want := StaleReads{Gets: 3, Stale: 2, Frac: 2.0 / 3, MaxRevsBehind: 2, P50StaleMs: 115, P99StaleMs: 115, MaxStaleMs: 115}
	if got == nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("ByPath[leader] = %+v, want %+v", got, want)
	}
	if _, ok := res.StaleReads.ByPath[history.PathDirect]; ok {
		t.Errorf("ByPath has direct figures without direct gets: %+v", res.StaleReads.ByPath)
	}
}

func TestLeaderReadsSkippedWithoutLeaderGets(t *testing.T) {
	h := pathsRun(direct, direct)
	res, _ := runCheck(t, h)
	c := checkNamed(t, res, CheckLinearizableReadsLeader)
	if c.Result != Skipped || !strings.Contains(c.Detail, "no leader gets") {
		t.Errorf("%s = %s (%s), want skipped for no leader gets", c.Name, c.Result, c.Detail)
	}
	wantStatus(t, res, map[string]Status{CheckLinearizableReads: Fail})
	// One path: the figures are not split.
	if res.StaleReads.ByPath != nil {
		t.Errorf("ByPath = %v with direct gets only, want none", res.StaleReads.ByPath)
	}

	// A leader get that failed is no answered leader get.
	h = pathsRun(direct, direct)
	h.Ops = append(h.Ops, failed(viaLeader(get(4, "a", "v3", 3, at(110, 115))), history.ClassTimeout))
	res, _ = runCheck(t, h)
	if c := checkNamed(t, res, CheckLinearizableReadsLeader); c.Result != Skipped {
		t.Errorf("%s = %s with only a failed leader get, want skipped", c.Name, c.Result)
	}
}

// With leader gets only, the direct check is skipped rather than passed
// over the writes alone, so a required direct check cannot pass for reads
// it never looked at.
func TestDirectDetailWithLeaderGetsOnly(t *testing.T) {
	res, _ := runCheck(t, pathsRun(viaLeader, viaLeader))
	c := checkNamed(t, res, CheckLinearizableReads)
	if c.Result != Skipped || !strings.Contains(c.Detail, "no direct gets") {
		t.Errorf("%s = %s (%q): want skipped, no direct gets", c.Name, c.Result, c.Detail)
	}
}

// A failing leader-read check draws its own view of the key, not the one
// the write check's view is named after (README: <key>.html for writes,
// <key>-reads.html for the read check).
func TestLeaderReadsViewIsNotTheWritesView(t *testing.T) {
	// Writes and leader reads both fail on "a": two creates acknowledged,
	// and a leader get stale after both.
	h := hist(
		create(1, "a", "v1", 1, at(0, 10)),
		create(2, "a", "v2", 2, at(1, 11)),
		viaLeader(get(3, "a", "v1", 1, at(40, 45))),
		final("a", "v2", 2),
	)
	res, dir := runCheck(t, h)
	// No direct gets: that check is skipped, not drawn.
	wantStatus(t, res, map[string]Status{CheckLinearizableWrites: Fail, CheckLinearizableReads: Skipped, CheckLinearizableReadsLeader: Fail})
	if got := slices.Compact(slices.Clone(res.Visualizations)); len(got) != 2 || !slices.Contains(got, "a.html") || !slices.Contains(got, "a-reads-leader.html") {
		t.Errorf("Visualizations = %v, want a.html and a-reads-leader.html, one per failing check", res.Visualizations)
	}
	for _, v := range res.Visualizations {
		if _, err := os.Stat(filepath.Join(dir, v)); err != nil {
			t.Error(err)
		}
	}
	// A leader-read failure alone is not shown under the writes' name.
	res, _ = runCheck(t, pathsRun(viaLeader, direct))
	if slices.Contains(res.Visualizations, "a.html") {
		t.Errorf("Visualizations = %v: the leader reads' view is named like the writes view", res.Visualizations)
	}
}
