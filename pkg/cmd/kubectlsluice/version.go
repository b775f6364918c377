package kubectlsluice

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/yaml"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/version"
)

const versionExample = `  # The plugin's version, sluice-apiserver's and kube-apiserver's
  kubectl sluice version

  # Only the plugin's, without asking the cluster
  kubectl sluice version --client

  # All of it as JSON, for a script
  kubectl sluice version -o json`

// sluiceOpenAPIPath is the OpenAPI v3 document of Sluice's API, which the
// aggregator serves as sluice-apiserver wrote it.
var sluiceOpenAPIPath = "apis/" + v1alpha1.SchemeGroupVersion.String()

// VersionOptions are the options of `kubectl sluice version`.
type VersionOptions struct {
	ClientOnly bool
	Output     string

	discovery discovery.DiscoveryInterface
	genericiooptions.IOStreams
}

// Versions is what `kubectl sluice version -o json|yaml` prints.
type Versions struct {
	// ClientVersion is the plugin's build.
	ClientVersion version.Info `json:"clientVersion"`
	// SluiceServerVersion is sluice-apiserver's build version, from its
	// OpenAPI document.
	SluiceServerVersion string `json:"sluiceServerVersion,omitempty"`
	// KubernetesServerVersion is kube-apiserver's /version.
	KubernetesServerVersion string `json:"kubernetesServerVersion,omitempty"`
}

// NewVersionCommand is `kubectl sluice version`.
func NewVersionCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "version [--client] [-o json|yaml]",
		Short: "Print the versions of the plugin, sluice-apiserver and Kubernetes",
		Long: `Print the version of kubectl sluice, of the sluice-apiserver that serves the cluster's
sluice.dev API, and of kube-apiserver.

sluice-apiserver's version is the info.version of the OpenAPI v3 document of
sluice.dev/v1alpha1, which kube-apiserver serves from it: /version through kube-apiserver
is kube-apiserver's own. A build of a working tree is "(devel)", followed by its commit
when the Go toolchain recorded it.`,
		Example:           versionExample,
		Args:              exactArgs(),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(cmd); err != nil {
				return err
			}
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().BoolVar(&o.ClientOnly, "client", false, "Print only the plugin's version; do not ask the cluster.")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml.")
	return cmd
}

// Complete makes the discovery client, unless only the client's version
// is asked for.
func (o *VersionOptions) Complete(f *Factory, _ *cobra.Command, _ []string) error {
	if o.ClientOnly {
		return nil
	}
	kube, err := f.Kube()
	if err != nil {
		return err
	}
	o.discovery = kube.Discovery()
	return nil
}

// Validate checks -o.
func (o *VersionOptions) Validate(cmd *cobra.Command) error {
	switch o.Output {
	case "", "json", "yaml":
		return nil
	}
	return UsageErrorf(cmd, "--output %q: expected json or yaml", o.Output)
}

// Run prints the versions. The client's is printed even when the servers
// cannot be asked; the error then follows.
func (o *VersionOptions) Run(cmd *cobra.Command) error {
	v := Versions{ClientVersion: version.Get()}
	var errs []error
	if !o.ClientOnly {
		kube, err := o.discovery.ServerVersion()
		if err != nil {
			errs = append(errs, fmt.Errorf("reading kube-apiserver's version: %w", err))
		} else {
			v.KubernetesServerVersion = kube.GitVersion
		}
		if v.SluiceServerVersion, err = sluiceServerVersion(o.discovery); err != nil {
			errs = append(errs, err)
		}
	}
	if err := printVersions(o, v); err != nil {
		return err
	}
	return errors.Join(errs...)
}

func printVersions(o *VersionOptions, v Versions) error {
	switch o.Output {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Out, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = o.Out.Write(b)
		return err
	}
	fmt.Fprintf(o.Out, "Client Version: %s\n", v.ClientVersion)
	if v.SluiceServerVersion != "" {
		fmt.Fprintf(o.Out, "Sluice Server Version: %s\n", v.SluiceServerVersion)
	}
	if v.KubernetesServerVersion != "" {
		fmt.Fprintf(o.Out, "Kubernetes Server Version: %s\n", v.KubernetesServerVersion)
	}
	return nil
}

// sluiceServerVersion reads info.version of Sluice's OpenAPI v3 document.
func sluiceServerVersion(d discovery.DiscoveryInterface) (string, error) {
	paths, err := d.OpenAPIV3().Paths()
	if err != nil {
		return "", fmt.Errorf("reading the cluster's OpenAPI v3 paths: %w", err)
	}
	gv, ok := paths[sluiceOpenAPIPath]
	if !ok {
		return "", fmt.Errorf("the cluster serves no %s API: is sluice-apiserver installed and its APIService available?", v1alpha1.SchemeGroupVersion)
	}
	doc, err := gv.Schema("application/json")
	if err != nil {
		return "", fmt.Errorf("reading the OpenAPI document of %s: %w", v1alpha1.SchemeGroupVersion, err)
	}
	var head struct {
		Info struct {
			Version string `json:"version"`
		} `json:"info"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		return "", fmt.Errorf("reading the OpenAPI document of %s: %w", v1alpha1.SchemeGroupVersion, err)
	}
	if head.Info.Version == "" {
		return "", fmt.Errorf("the OpenAPI document of %s has no info.version", v1alpha1.SchemeGroupVersion)
	}
	return head.Info.Version, nil
}
