package scenarios

import (
	"embed"
	"path"
	"sort"
	"strings"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

func builtin(name string) ([]byte, bool) {
	if strings.ContainsAny(name, `/\.`) {
		return nil, false
	}
	data, err := builtinFS.ReadFile(path.Join("builtin", name+".yaml"))
	return data, err == nil
}

// Builtin is one entry of `kvharness scenarios`.
type Builtin struct {
	Name        string
	Description string
}

// Builtins lists the embedded scenarios, sorted by name.
func Builtins() []Builtin {
	entries, _ := builtinFS.ReadDir("builtin")
	var out []Builtin
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".yaml")
		data, _ := builtinFS.ReadFile("builtin/" + e.Name())
		s, err := Parse(name, data)
		desc := ""
		if err == nil {
			desc = s.Description
		}
		out = append(out, Builtin{Name: name, Description: desc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
