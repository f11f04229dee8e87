package reports

import (
	"encoding/xml"
	"fmt"
	"path/filepath"

	"github.com/kvharness/kvharness/checker"
)

// JUnit XML, the test-result format every CI system reads: one test case per
// check and per threshold. A check that is reported but not required never
// fails the build; it shows as skipped with its result.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Class   string        `xml:"classname,attr"`
	Name    string        `xml:"name,attr"`
	Failure *junitMessage `xml:"failure,omitempty"`
	Error   *junitMessage `xml:"error,omitempty"`
	Skipped *junitMessage `xml:"skipped,omitempty"`
	Out     string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes junit.xml into dir.
func (s *Summary) WriteJUnit(dir string) error {
	suite := junitSuite{Name: "kvharness/" + s.Scenario, Time: s.DurationSec}
	for _, c := range s.Checks {
		tc := junitCase{Class: "kvharness.checks", Name: c.Name, Out: c.Detail}
		msg := &junitMessage{Message: string(c.Result), Text: c.Detail}
		switch {
		case !c.Required:
			msg.Message = fmt.Sprintf("reported, not required: %s", c.Result)
			tc.Skipped = msg
			suite.Skipped++
		case c.Result == checker.Fail:
			tc.Failure = msg
			suite.Failures++
		case c.Result == checker.Unknown || c.Result == checker.Skipped:
			msg.Message = "inconclusive: " + string(c.Result)
			tc.Error = msg
			suite.Errors++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	for _, t := range s.Thresholds {
		tc := junitCase{Class: "kvharness.thresholds", Name: t.Name + " " + t.Expr, Out: "actual " + formatActual(t.Actual, t.Unit)}
		if !t.Pass {
			tc.Failure = &junitMessage{Message: "threshold crossed", Text: tc.Out}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	if s.Interrupted {
		// A run cut short is an error of its own, whatever its checks say:
		// a CI job reading only junit.xml must not see a whole run.
		msg := fmt.Sprintf("the run was cut short after %.1fs: only what it recorded was checked", s.DurationSec)
		suite.Cases = append(suite.Cases, junitCase{Class: "kvharness.run", Name: "run-complete",
			Error: &junitMessage{Message: "interrupted", Text: msg}, Out: msg})
		suite.Errors++
	}
	return writeJUnitFile(filepath.Join(dir, "junit.xml"), suite)
}
