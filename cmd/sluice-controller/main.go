// Command sluice-controller runs PipelineJobs as Pods.
package main

import (
	"os"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/sluice-dev/sluice/pkg/cmd/controller"
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	os.Exit(cli.Run(controller.NewCommand(ctx)))
}
