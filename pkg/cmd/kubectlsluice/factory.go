package kubectlsluice

import (
	"context"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
)

// Factory makes the clients of a command from the connection flags, once.
type Factory struct {
	flags *genericclioptions.ConfigFlags

	once   sync.Once
	config *rest.Config
	err    error
}

// NewFactory returns a Factory reading flags.
func NewFactory(flags *genericclioptions.ConfigFlags) *Factory {
	return &Factory{flags: flags}
}

// RESTConfig is the client configuration the flags and kubeconfig give,
// with --as and the rest applied.
func (f *Factory) RESTConfig() (*rest.Config, error) {
	f.once.Do(func() {
		f.config, f.err = f.flags.ToRESTConfig()
		if f.err == nil {
			f.config.UserAgent = "kubectl-sluice/" + rest.DefaultKubernetesUserAgent()
		}
	})
	return f.config, f.err
}

// Namespace is -n, or the kubeconfig context's namespace, or "default".
func (f *Factory) Namespace() (string, error) {
	ns, _, err := f.flags.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

// Sluice is the clientset of the sluice.dev API.
func (f *Factory) Sluice() (sluiceclient.Interface, error) {
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	return sluiceclient.NewForConfig(cfg)
}

// SluiceIn is the clientset of the sluice.dev API and the namespace a
// command acts in, which every command that reads or acts on Sluice's
// objects completes its options with.
func (f *Factory) SluiceIn() (sluiceclient.Interface, string, error) {
	ns, err := f.Namespace()
	if err != nil {
		return nil, "", err
	}
	c, err := f.Sluice()
	return c, ns, err
}

// Kube is the clientset of the Kubernetes API.
func (f *Factory) Kube() (kubernetes.Interface, error) {
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// completeNames completes the first argument with the names list returns
// in the namespace of the flags; nothing after it.
func completeNames(f *Factory, list func(ctx context.Context, c sluiceclient.Interface, ns string) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, ns, err := f.SluiceIn()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, err := list(cmd.Context(), c, ns)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// Completions of the names of pipelines, jobs and triggers.
func pipelineNames(ctx context.Context, c sluiceclient.Interface, ns string) ([]string, error) {
	l, err := c.SluiceV1alpha1().Pipelines(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(l.Items))
	for _, p := range l.Items {
		names = append(names, p.Name)
	}
	return names, nil
}

// jobNames are the newest jobs' names: completion lists at most 100.
func jobNames(ctx context.Context, c sluiceclient.Interface, ns string) ([]string, error) {
	l, err := c.SluiceV1alpha1().PipelineJobs(ns).List(ctx, metav1.ListOptions{Limit: 100})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(l.Items))
	for _, j := range l.Items {
		names = append(names, j.Name)
	}
	return names, nil
}

func triggerNames(ctx context.Context, c sluiceclient.Interface, ns string) ([]string, error) {
	l, err := c.SluiceV1alpha1().Triggers(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(l.Items))
	for _, t := range l.Items {
		names = append(names, t.Name)
	}
	return names, nil
}

// registerFlagCompletions completes -n with namespaces and --context with
// the kubeconfig's contexts.
func registerFlagCompletions(root *cobra.Command, f *Factory) {
	_ = root.RegisterFlagCompletionFunc("namespace", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		kube, err := f.Kube()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		l, err := kube.CoreV1().Namespaces().List(cmd.Context(), metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, n := range l.Items {
			if strings.HasPrefix(n.Name, toComplete) {
				out = append(out, n.Name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
	_ = root.RegisterFlagCompletionFunc("context", func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		raw, err := f.flags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for name := range raw.Contexts {
			if strings.HasPrefix(name, toComplete) {
				out = append(out, name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
}
