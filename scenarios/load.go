package scenarios

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Load reads a scenario: a built-in name or a YAML file path.
func Load(nameOrPath string) (*Scenario, error) {
	if data, ok := builtin(nameOrPath); ok {
		return Parse(nameOrPath, data)
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("scenario %q: no such file and no built-in of that name (see `kvharness scenarios`)", nameOrPath)
		}
		return nil, fmt.Errorf("scenario %q: %v", nameOrPath, err)
	}
	return Parse(nameOrPath, data)
}

// Parse decodes YAML strictly: an unknown field, a value of the wrong type
// or a value out of range is an error that names the file and line.
func Parse(source string, data []byte) (*Scenario, error) {
	if err := yamlSafely(func() error { return checkDurations(source, data) }); err != nil {
		return nil, yamlErr(source, err)
	}
	var s Scenario
	if err := yamlSafely(func() error { return yaml.UnmarshalWithOptions(data, &s, yaml.Strict()) }); err != nil {
		return nil, yamlErr(source, err)
	}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(strings.TrimSuffix(baseName(source), ".yaml"), ".yml")
	}
	if err := s.validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			line := 0
			_ = yamlSafely(func() error { line = lineOf(data, fe.Path, fe.MapKey); return nil })
			if line > 0 {
				return nil, fmt.Errorf("%s: line %d: %s", source, line, fe.Msg)
			}
			return nil, fmt.Errorf("%s: %s", source, fe.Msg)
		}
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	return &s, nil
}

// yamlPanic is the YAML library failing on input it should have refused.
type yamlPanic struct{ value any }

func (p yamlPanic) Error() string {
	return fmt.Sprintf("the YAML cannot be read (the decoder failed: %v)", p.value)
}

// yamlSafely runs a call into the YAML library, which panics on some
// malformed input (fuzzing found a tag on a block sequence, "kinds: !x"
// followed by items, in goccy/go-yaml v1.19.2): that is a file it cannot
// read, said in one line, not a crash. Only the library's calls are
// guarded, so a bug of ours still shows when fuzzed.
func yamlSafely(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = yamlPanic{p}
		}
	}()
	return f()
}

// yamlErr names the file in an error from reading it.
func yamlErr(source string, err error) error {
	var p yamlPanic
	if errors.As(err, &p) {
		return fmt.Errorf("%s: %v", source, p)
	}
	if strings.HasPrefix(err.Error(), source+":") {
		return err // checkDurations names it
	}
	return fmt.Errorf("%s: %s", source, describeYAMLError(err))
}

// describeYAMLError gives "line N: message" without the multi-line source
// excerpt, so the CLI can print it as one line.
func describeYAMLError(err error) string {
	var ye interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if errors.As(err, &ye) && ye.GetToken() != nil {
		return fmt.Sprintf("line %d: %s", ye.GetToken().Position.Line, oneLine(ye.GetMessage()))
	}
	return oneLine(err.Error())
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// lineOf finds the line of a YAML path like "$.workload.clients"; 0 when the
// field is absent (an error about a missing field has no line).
func lineOf(data []byte, path, mapKey string) int {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return 0
	}
	p, err := yaml.PathString(path)
	if err != nil {
		return 0
	}
	n, err := p.FilterFile(f)
	if err != nil || n == nil {
		return 0
	}
	if m, ok := n.(*ast.MappingNode); ok && mapKey != "" {
		for _, v := range m.Values {
			if v.Key.String() == mapKey {
				return lineOfNode(v)
			}
		}
	}
	return lineOfNode(n)
}

func lineOfNode(n ast.Node) int {
	if t := n.GetToken(); t != nil {
		return t.Position.Line
	}
	return 0
}

// durationPaths are the scenario's duration fields. The YAML decoder reports
// a bad duration without its position, so they are checked here first.
var durationPaths = append([]string{"$.workload.duration", "$.workload.op_timeout", "$.expect.check_timeout", "$.faults.interval",
	"$.faults.duration", "$.faults.start", "$.faults.latency", "$.faults.jitter", "$.faults.heal_timeout"}, planDurationPaths()...)

// planDurationPaths: the durations of the first steps of a fault plan and
// of a rate schedule.
func planDurationPaths() []string {
	var paths []string
	for i := 0; i < 32; i++ {
		paths = append(paths, fmt.Sprintf("$.faults.plan[%d].at", i), fmt.Sprintf("$.faults.plan[%d].duration", i),
			fmt.Sprintf("$.workload.stages[%d].for", i))
	}
	return paths
}

func checkDurations(source string, data []byte) error {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil // the decoder reports syntax errors with their line
	}
	for _, path := range durationPaths {
		p, _ := yaml.PathString(path)
		n, err := p.FilterFile(f)
		if err != nil || n == nil {
			continue
		}
		text := strings.Trim(n.String(), `"'`)
		if _, err := time.ParseDuration(text); err != nil {
			return fmt.Errorf("%s: line %d: %s: %q is not a duration (like 15s, 2m, 500ms)", source, lineOfNode(n), strings.TrimPrefix(path, "$."), text)
		}
	}
	return nil
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}
