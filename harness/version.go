package harness

import (
	"runtime/debug"
	"sync"
)

// Version names the kvharness that runs: the commit it was built from
// (with "+dirty" for uncommitted changes), as Go's build information
// records it (`make build` asks for it), else its module version. A
// report read months later says what made it.
var Version = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return v // (devel) when built without version control information
	}
	return "commit " + rev[:min(12, len(rev))] + dirty
})
