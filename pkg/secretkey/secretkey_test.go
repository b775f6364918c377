package secretkey

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// TestRead: the key's value; a missing Secret, key or value is
// ErrMissing, worded with the Secret and key and never a value; another
// failure is not.
func TestRead(t *testing.T) {
	kube := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: "shop"},
		Data:       map[string][]byte{"token": []byte("s3cr3t"), "empty": {}},
	})
	ctx := context.Background()
	v, err := Read(ctx, kube.CoreV1(), "shop", v1alpha1.SecretKeyRef{Name: "hook", Key: "token"})
	require.NoError(t, err)
	require.Equal(t, "s3cr3t", string(v))

	for ref, want := range map[v1alpha1.SecretKeyRef]string{
		{Name: "nope", Key: "token"}: `secret "nope" not found`,
		{Name: "hook", Key: "other"}: `secret "hook" has no key "other", or it is empty`,
		{Name: "hook", Key: "empty"}: `secret "hook" has no key "empty", or it is empty`,
	} {
		_, err := Read(ctx, kube.CoreV1(), "shop", ref)
		require.EqualError(t, err, want)
		require.ErrorIs(t, err, ErrMissing)
		require.NotContains(t, err.Error(), "s3cr3t")
	}

	kube.PrependReactor("get", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("secrets"), "hook", errors.New("no"))
	})
	_, err = Read(ctx, kube.CoreV1(), "shop", v1alpha1.SecretKeyRef{Name: "hook", Key: "token"})
	require.ErrorContains(t, err, `reading secret "hook": `)
	require.True(t, apierrors.IsForbidden(err))
	require.NotErrorIs(t, err, ErrMissing)
}
