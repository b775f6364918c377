package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"a tagged module", debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "3f2a9c1d0b7e55"}}}, "v0.3.0"},
		{"a pseudo-version", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261203163315-db835e38b319+dirty"}}, "v0.0.0-20261203163315-db835e38b319+dirty"},
		{"a tree with VCS stamping", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "3f2a9c1d0b7e55aa"}, {Key: "vcs.modified", Value: "true"}}}, "(devel)+3f2a9c1d0b7e-dirty"},
		{"a clean tree", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "3f2a9c1d0b7e55aa"}, {Key: "vcs.modified", Value: "false"}}}, "(devel)+3f2a9c1d0b7e"},
		{"a tree without VCS stamping", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel)"},
		{"no main module version", debug.BuildInfo{}, "(devel)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromBuildInfo(&tc.bi).String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStampedVersionWins: the version make build stamps is the binary's
// version, whatever the toolchain recorded.
func TestStampedVersionWins(t *testing.T) {
	defer func(old string) { stamped = old }(stamped)
	stamped = "v0.4.0-3-gc08365e-dirty"
	if got := Get().Version; got != stamped {
		t.Errorf("Get().Version = %q, want the stamped %q", got, stamped)
	}
	stamped = ""
	if got := Get().Version; got == "" {
		t.Error("without a stamp, Get().Version is empty")
	}
}
