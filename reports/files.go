package reports

import (
	"encoding/json"
	"encoding/xml"
	"html/template"
	"os"
	"path/filepath"
)

// The result files every verb writes, one way each.

// writeJSONFile writes v indented, as summary.json, ab.json, trend.json.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// writeJUnitFile writes one test suite as a junit.xml CI systems read.
func writeJUnitFile(path string, suite junitSuite) error {
	suite.Tests = len(suite.Cases)
	b, err := xml.MarshalIndent(junitSuites{Suites: []junitSuite{suite}}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}

// writeHTMLFile renders t with data into path.
func writeHTMLFile(path string, t *template.Template, data any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := t.Execute(f, data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// relLink: a run's folder as a link from the page's folder (dir).
func relLink(dir, p string) string {
	if rp, err := filepath.Rel(dir, p); err == nil {
		return filepath.ToSlash(rp)
	}
	return p
}
