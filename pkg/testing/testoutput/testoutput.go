package testoutput

import (
	"flag"
	"os"
	"testing"
)

// Dir is the directory for the test's output files: $TEST_OUTPUT_DIR when
// set (make test leaves it unset; CI or a person sets it to collect the
// files), else the test's artifact directory under go test -artifacts
// (kept in -outputdir), else a new temporary directory that is kept after
// the test, so that the files can be opened; the caller logs their paths.
func Dir(t testing.TB) (string, error) {
	if dir := os.Getenv("TEST_OUTPUT_DIR"); dir != "" {
		return dir, os.MkdirAll(dir, 0o755)
	}
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir(), nil
	}
	return os.MkdirTemp("", "sluice-test-output-")
}
