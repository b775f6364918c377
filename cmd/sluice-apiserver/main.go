// Command sluice-apiserver serves the sluice.dev API group from PostgreSQL
// as an aggregated API server.
package main

import (
	"os"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/sluice-dev/sluice/pkg/cmd/apiserver"
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	os.Exit(cli.Run(apiserver.NewCommand(ctx)))
}
