// Command sluice-apiserver serves the sluice.dev API group from PostgreSQL
// as an aggregated API server.
package main

import (
	"fmt"
	"os"
)

func main() {
	// The server is built by the Apiserver issue (#4) on top of the storage
	// of the Storage issue (#3); until then the binary only says so.
	fmt.Fprintln(os.Stderr, "sluice-apiserver: not yet available (see issue #4)")
	os.Exit(1)
}
