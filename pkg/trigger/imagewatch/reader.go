package imagewatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	k8schain "github.com/google/go-containerregistry/pkg/authn/kubernetes"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/trigger/imagepolicy"
)

// Reasons a read fails, as a Trigger's Ready condition shows them.
const (
	// ReasonSecretNotFound: the pull Secret is missing, or is not a
	// Docker config Secret.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonRegistryUnauthorized: the registry refused the credentials, or
	// wants some and none were given (401, 403).
	ReasonRegistryUnauthorized = "RegistryUnauthorized"
	// ReasonRegistryUnreachable: the registry could not be reached, was
	// refused by the egress policy, or answered with an error.
	ReasonRegistryUnreachable = "RegistryUnreachable"
	// ReasonInvalidSource: the repository or policy does not parse; the
	// API's validation keeps such a source out.
	ReasonInvalidSource = "InvalidSource"
)

// Error is a failed read, with the reason the trigger's Ready condition
// shows. Its message names the repository and the Secret, never a
// credential.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Reader reads image sources' registries.
type Reader struct {
	// Kube reads pull Secrets, with a GET each: the controller needs no
	// list or watch of Secrets.
	Kube kubernetes.Interface
	// Transport carries every request to a registry. The controller gives
	// it its egress policy's; nil is http.DefaultTransport.
	Transport http.RoundTripper
}

// Observation is what a read found: the newest tag the policy selects and
// its digest, or Found false when no tag does (or the repository has
// nothing yet).
type Observation struct {
	imagepolicy.Image
	Found bool
}

// Policy is the policy of src.
func Policy(src *v1alpha1.ImageSource) (*imagepolicy.Policy, error) {
	if src.Policy.Pattern != "" {
		return imagepolicy.NewPattern(src.Policy.Pattern)
	}
	return imagepolicy.NewSemver(src.Policy.Semver)
}

// Latest reads the repository of src, an image source of a trigger in
// namespace: its tags, the newest one the policy selects, and that tag's
// digest (of the index for a multi-platform image: what a Pod pulls by
// that tag).
func (r *Reader) Latest(ctx context.Context, namespace string, src *v1alpha1.ImageSource) (Observation, error) {
	policy, err := Policy(src)
	if err != nil {
		return Observation{}, &Error{Reason: ReasonInvalidSource, Err: err}
	}
	repo, err := name.NewRepository(src.Repository)
	if err != nil {
		return Observation{}, &Error{Reason: ReasonInvalidSource, Err: fmt.Errorf("repository %q: %v", src.Repository, err)}
	}
	keychain, err := r.keychain(ctx, namespace, src.PullSecretRef)
	if err != nil {
		return Observation{}, err
	}
	transport := r.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	// A Puller keeps the token it gets for the repository across the list
	// and the head below.
	puller, err := remote.NewPuller(remote.WithContext(ctx), remote.WithTransport(transport), remote.WithAuthFromKeychain(keychain))
	if err != nil {
		return Observation{}, &Error{Reason: ReasonRegistryUnreachable, Err: err}
	}
	tags, err := puller.List(ctx, repo)
	if isNameUnknown(err) {
		// Nothing was pushed yet: the first tag pushed will be new.
		return Observation{}, nil
	}
	if err != nil {
		return Observation{}, readError("listing the tags of "+repo.String(), err)
	}
	tag, ok := policy.Latest(tags)
	if !ok {
		return Observation{}, nil
	}
	desc, err := puller.Head(ctx, repo.Tag(tag))
	if err != nil {
		return Observation{}, readError("resolving "+repo.Tag(tag).String(), err)
	}
	return Observation{Image: imagepolicy.Image{Tag: tag, Digest: desc.Digest.String()}, Found: true}, nil
}

// keychain authenticates with the pull Secret ref names, or anonymously.
func (r *Reader) keychain(ctx context.Context, namespace string, ref *corev1.LocalObjectReference) (authn.Keychain, error) {
	if ref == nil {
		return authn.NewMultiKeychain(), nil // anonymous for every registry
	}
	s, err := r.Kube.CoreV1().Secrets(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, &Error{Reason: ReasonSecretNotFound, Err: fmt.Errorf("pull secret %q not found", ref.Name)}
	case err != nil:
		return nil, fmt.Errorf("reading pull secret %q: %w", ref.Name, err)
	}
	if s.Type != corev1.SecretTypeDockerConfigJson && s.Type != corev1.SecretTypeDockercfg {
		return nil, &Error{Reason: ReasonSecretNotFound, Err: fmt.Errorf("pull secret %q is of type %q, not %s", ref.Name, s.Type, corev1.SecretTypeDockerConfigJson)}
	}
	kc, err := k8schain.NewFromPullSecrets(ctx, []corev1.Secret{*s})
	if err != nil {
		// The parse error may quote the Secret's content: it is left out.
		return nil, &Error{Reason: ReasonSecretNotFound, Err: fmt.Errorf("pull secret %q does not hold a valid Docker config", ref.Name)}
	}
	return kc, nil
}

// isNameUnknown reports whether err says the repository does not exist.
func isNameUnknown(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

// readError classifies a failed registry request.
func readError(what string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return &Error{Reason: ReasonRegistryUnauthorized, Err: fmt.Errorf("%s: the registry refused access (%d)", what, te.StatusCode)}
	}
	return &Error{Reason: ReasonRegistryUnreachable, Err: fmt.Errorf("%s: %v", what, err)}
}
