// Command sluice-controller runs PipelineJobs as Pods.
package main

import (
	"fmt"
	"os"
)

func main() {
	// The controller is built by the Controller issue (#5); until then the
	// binary only says so.
	fmt.Fprintln(os.Stderr, "sluice-controller: not yet available (see issue #5)")
	os.Exit(1)
}
