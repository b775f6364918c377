// Command kubectl-sluice is the kubectl plugin of Sluice: with bin/ on
// PATH, `kubectl sluice run release -f` runs a pipeline and follows it.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/cmd/kubectlsluice"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(kubectlsluice.Execute(kubectlsluice.NewCommand(streams), streams))
}
