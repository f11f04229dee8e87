package reports

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"html/template"
	"os"
	"path/filepath"

	"github.com/kvharness/kvharness/internal/secrets"
)

// The result files every verb writes, one way each.

// writeJSONFile writes v indented, as summary.json, ab.json, trend.json.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeScrubbed(path, append(b, '\n'))
}

// writeJUnitFile writes one test suite as a junit.xml CI systems read.
func writeJUnitFile(path string, suite junitSuite) error {
	suite.Tests = len(suite.Cases)
	b, err := xml.MarshalIndent(junitSuites{Suites: []junitSuite{suite}}, "", "  ")
	if err != nil {
		return err
	}
	return writeScrubbed(path, append([]byte(xml.Header), append(b, '\n')...))
}

// writeHTMLFile renders t with data into path.
func writeHTMLFile(path string, t *template.Template, data any) error {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return err
	}
	return writeScrubbed(path, b.Bytes())
}

// createOwnerOnly creates a result file only its owner may read.
func createOwnerOnly(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
}

// writeScrubbed writes a result file with every registered secret masked
// (see package secrets): the files are kept by CI like its logs. Owner-only:
// a results folder may hold what a run saw of production data.
func writeScrubbed(path string, b []byte) error {
	return os.WriteFile(path, secrets.ScrubBytes(b), 0o600)
}

// relLink: a run's folder as a link from the page's folder (dir).
func relLink(dir, p string) string {
	if rp, err := filepath.Rel(dir, p); err == nil {
		return filepath.ToSlash(rp)
	}
	return p
}
