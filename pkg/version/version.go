package version

import (
	"runtime"
	"runtime/debug"
)

// Info is what a binary knows of its build.
type Info struct {
	// Version is the module's version (v0.3.0, or a pseudo-version), or
	// "(devel)" for a build of a working tree.
	Version string `json:"version"`
	// Revision is the VCS commit of a local build, when the toolchain
	// stamped it (it does not with -buildvcs=false).
	Revision string `json:"revision,omitempty"`
	// Modified says that the working tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"goVersion"`
}

// devel is the toolchain's version of a main module built from a tree.
const devel = "(devel)"

// stamped is the version make build stamps into the binaries with
// -ldflags -X (git describe of the checkout), as Kubernetes stamps its
// own: the toolchain's VCS stamping is off where GOFLAGS has
// -buildvcs=false, and knows no tags.
var stamped string

// Get is the build information of the running binary.
func Get() Info {
	info := Info{Version: devel, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info = FromBuildInfo(bi)
	}
	if stamped != "" {
		info.Version = stamped
	}
	return info
}

// FromBuildInfo reads bi, the build information of a binary.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if info.Version == "" {
		info.Version = devel
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the version in one word: the module version, or for a build
// of a working tree its revision, e.g. "(devel)+3f2a9c1d0b7e-dirty".
func (i Info) String() string {
	if i.Version != devel || i.Revision == "" {
		return i.Version
	}
	rev := i.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	s := devel + "+" + rev
	if i.Modified {
		s += "-dirty"
	}
	return s
}
