package imagewatch

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/registry"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// startRegistry starts Debian's distribution registry for the test.
func startRegistry(t *testing.T, ctx context.Context, opts registry.Options) *registry.Registry {
	t.Helper()
	opts.Dir = t.TempDir()
	r, err := registry.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("registry log:\n%s", r.Process.LogTail(3000))
		}
		r.Stop()
	})
	return r
}

func reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return "not an *Error: " + err.Error()
}

// TestLatestReadsTheRegistry reads a real registry: an empty repository,
// then the newest of the tags the policy selects, with the digest the push
// made.
func TestLatestReadsTheRegistry(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := startRegistry(t, ctx, registry.Options{})
	r := &Reader{Kube: fake.NewClientset()}
	src := &v1alpha1.ImageSource{Repository: reg.Repository("team/web"), Policy: v1alpha1.ImagePolicy{Semver: ">=1.2.0 <2"}}

	obs, err := r.Latest(ctx, "ns", src)
	require.NoError(t, err, "a repository nothing was pushed to is not an error")
	assert.False(t, obs.Found)

	for i, tag := range []string{"1.2.0", "1.3.0", "2.0.0", "latest", "1.3.0-rc.1"} {
		_, err := reg.PushImage(ctx, "team/web", tag, i)
		require.NoError(t, err)
	}
	want, err := reg.PushImage(ctx, "team/web", "1.3.0", 42) // the tag moves
	require.NoError(t, err)
	obs, err = r.Latest(ctx, "ns", src)
	require.NoError(t, err)
	assert.Equal(t, Observation{Found: true, Image: obsImage("1.3.0", want)}, obs)

	src.Policy = v1alpha1.ImagePolicy{Pattern: `^lat`}
	obs, err = r.Latest(ctx, "ns", src)
	require.NoError(t, err)
	assert.Equal(t, "latest", obs.Tag)
	src.Policy = v1alpha1.ImagePolicy{Pattern: `^main-`}
	obs, err = r.Latest(ctx, "ns", src)
	require.NoError(t, err)
	assert.False(t, obs.Found, "no tag matches")
}

// TestLatestAuthenticatesWithThePullSecret reads a registry that wants
// credentials, with and without the trigger's pull Secret.
func TestLatestAuthenticatesWithThePullSecret(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := startRegistry(t, ctx, registry.Options{Users: map[string]string{"ci": "s3cret-pull-pass"}})
	digest, err := reg.PushImage(ctx, "team/web", "1.4.0", 1)
	require.NoError(t, err)

	pull := func(name string, typ corev1.SecretType, config []byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Type: typ,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: config}}
	}
	kube := fake.NewClientset(
		pull("good", corev1.SecretTypeDockerConfigJson, reg.DockerConfigJSON("ci", "s3cret-pull-pass")),
		pull("wrong", corev1.SecretTypeDockerConfigJson, reg.DockerConfigJSON("ci", "not-it")),
		pull("opaque", corev1.SecretTypeOpaque, reg.DockerConfigJSON("ci", "s3cret-pull-pass")),
		pull("garbled", corev1.SecretTypeDockerConfigJson, []byte(`{"auths": s3cret-pull-pass`)),
	)
	r := &Reader{Kube: kube}
	src := func(secret string) *v1alpha1.ImageSource {
		s := &v1alpha1.ImageSource{Repository: reg.Repository("team/web"), Policy: v1alpha1.ImagePolicy{Semver: ">=1"}}
		if secret != "" {
			s.PullSecretRef = &corev1.LocalObjectReference{Name: secret}
		}
		return s
	}

	obs, err := r.Latest(ctx, "ns", src("good"))
	require.NoError(t, err)
	assert.Equal(t, obsImage("1.4.0", digest), obs.Image)

	for secret, want := range map[string]string{
		"":        ReasonRegistryUnauthorized,
		"wrong":   ReasonRegistryUnauthorized,
		"missing": ReasonSecretNotFound,
		"opaque":  ReasonSecretNotFound,
		"garbled": ReasonSecretNotFound,
	} {
		_, err := r.Latest(ctx, "ns", src(secret))
		require.Error(t, err, secret)
		assert.Equal(t, want, reason(err), "secret %q: %v", secret, err)
		assert.NotContains(t, err.Error(), "s3cret-pull-pass", "an error never holds a credential")
	}
}

// TestLatestOfAnUnreachableRegistry says so, with the reason.
func TestLatestOfAnUnreachableRegistry(t *testing.T) {
	t.Parallel()
	port, err := testutil.FreePort()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := &Reader{Kube: fake.NewClientset()}
	_, err = r.Latest(ctx, "ns", &v1alpha1.ImageSource{
		Repository: "127.0.0.1:" + strconv.Itoa(port) + "/team/web", Policy: v1alpha1.ImagePolicy{Semver: ">=1"}})
	require.Error(t, err)
	assert.Equal(t, ReasonRegistryUnreachable, reason(err))
	assert.Contains(t, err.Error(), "team/web")
}
