package namespacename

import (
	"context"
	"io"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apiserver/pkg/admission"
)

// PluginName is the plugin's name in --enable-admission-plugins and
// --disable-admission-plugins.
const PluginName = "NamespaceName"

// Register registers the plugin.
func Register(plugins *admission.Plugins) {
	plugins.Register(PluginName, func(io.Reader) (admission.Interface, error) { return New(), nil })
}

// Plugin refuses writes in namespaces that cannot exist. It is a mutating
// plugin only so that it runs among the mutating plugins, before
// NamespaceLifecycle; it changes nothing.
type Plugin struct {
	*admission.Handler
}

var _ admission.MutationInterface = &Plugin{}

// New returns the plugin. It handles the operations NamespaceLifecycle
// handles.
func New() *Plugin {
	return &Plugin{admission.NewHandler(admission.Create, admission.Update, admission.Delete)}
}

// Admit answers a request in a namespace no namespace can be named with
// NamespaceLifecycle's 404 for a namespace that does not exist.
func (p *Plugin) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	ns := a.GetNamespace()
	if ns == "" || len(apivalidation.ValidateNamespaceName(ns, false)) == 0 {
		return nil
	}
	return apierrors.NewNotFound(corev1.Resource("namespaces"), ns)
}
