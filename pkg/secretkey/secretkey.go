package secretkey

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// ErrMissing is what the error of Read is when the Secret, or its key,
// is not there, or the value is empty: the user's to fix, not a failure
// to retry.
var ErrMissing = errors.New("the secret key is missing")

type missingError struct{ message string }

func (e *missingError) Error() string        { return e.message }
func (e *missingError) Is(target error) bool { return target == ErrMissing }

// Read returns the value of ref's key in the Secret ref names in
// namespace.
func Read(ctx context.Context, secrets corev1client.SecretsGetter, namespace string, ref v1alpha1.SecretKeyRef) ([]byte, error) {
	s, err := secrets.Secrets(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, &missingError{fmt.Sprintf("secret %q not found", ref.Name)}
	case err != nil:
		return nil, fmt.Errorf("reading secret %q: %w", ref.Name, err)
	}
	v := s.Data[ref.Key]
	if len(v) == 0 {
		return nil, &missingError{fmt.Sprintf("secret %q has no key %q, or it is empty", ref.Name, ref.Key)}
	}
	return v, nil
}
