package registry

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"

	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// start starts a registry in the test's temp dir, stopped when the test ends.
// When the test fails, the tail of the registry's log is printed.
func start(t *testing.T, ctx context.Context, opts Options) *Registry {
	t.Helper()
	opts.Dir = t.TempDir()
	r, err := Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("registry log:\n%s", r.Process.LogTail(3000))
		}
		r.Stop()
	})
	return r
}

// TestPushedTagsAreListedWithTheirDigests pushes two tags and finds them
// through go-containerregistry, as the image trigger's poller reads a
// registry: the tag list, and each tag's digest the one PushImage returned.
func TestPushedTagsAreListedWithTheirDigests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := start(t, ctx, Options{})

	first, err := r.PushImage(ctx, "team/web", "1.3.0", 1)
	require.NoError(t, err)
	second, err := r.PushImage(ctx, "team/web", "2.0.0", 2)
	require.NoError(t, err)
	require.NotEqual(t, first, second, "different seeds must give different images")
	same, err := r.PushImage(ctx, "team/web", "1.3.0-copy", 1)
	require.NoError(t, err)
	require.Equal(t, first, same, "the same seed must give the same image")

	repo, err := name.NewRepository(r.Repository("team/web"), name.Insecure)
	require.NoError(t, err)
	tags, err := remote.List(repo, remote.WithContext(ctx))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"1.3.0", "1.3.0-copy", "2.0.0"}, tags)

	for tag, want := range map[string]string{"1.3.0": first, "2.0.0": second} {
		head, err := remote.Head(repo.Tag(tag), remote.WithContext(ctx))
		require.NoError(t, err)
		require.Equal(t, want, head.Digest.String(), "HEAD digest of %s", tag)
		got, err := remote.Get(repo.Tag(tag), remote.WithContext(ctx))
		require.NoError(t, err)
		require.Equal(t, want, got.Digest.String(), "GET digest of %s", tag)
	}

	// A tag moved to new content resolves to the new digest.
	moved, err := r.PushImage(ctx, "team/web", "1.3.0", 3)
	require.NoError(t, err)
	head, err := remote.Head(repo.Tag("1.3.0"), remote.WithContext(ctx))
	require.NoError(t, err)
	require.Equal(t, moved, head.Digest.String())
	require.NotEqual(t, first, moved)

	// Deletes are enabled: a manifest deleted by digest is gone, with its tag.
	require.NoError(t, remote.Delete(repo.Digest(second), remote.WithContext(ctx)))
	_, err = remote.Head(repo.Tag("2.0.0"), remote.WithContext(ctx))
	require.Error(t, err, "2.0.0 must be gone with its manifest")
}

// envelope is the part of the distribution registry's notification envelope
// the image trigger reads.
type envelope struct {
	Events []struct {
		Action string `json:"action"`
		Target struct {
			MediaType  string `json:"mediaType"`
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
			Digest     string `json:"digest"`
		} `json:"target"`
		Request struct {
			Host string `json:"host"`
		} `json:"request"`
	} `json:"events"`
}

// delivery is one POST the registry made to the test's endpoint.
type delivery struct {
	contentType, authorization string
	envelope                   envelope
	decodeErr                  error
}

// TestPushNotifiesEndpoint points a registry's notifications at an HTTP
// server on 127.0.0.1 and checks that pushing a tag delivers a push event for
// the manifest, with the repository, tag and digest, and the endpoint's
// configured headers, and that pulling it delivers a pull event.
func TestPushNotifiesEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	deliveries := make(chan delivery, 100)
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		d := delivery{contentType: req.Header.Get("Content-Type"), authorization: req.Header.Get("Authorization")}
		body, err := io.ReadAll(req.Body)
		if err == nil {
			err = json.Unmarshal(body, &d.envelope)
		}
		d.decodeErr = err
		select {
		case deliveries <- d:
		default:
		}
	}))
	defer listener.Close()

	r := start(t, ctx, Options{Notify: []Endpoint{{
		Name:    "sluice",
		URL:     listener.URL + "/hooks/default/web",
		Headers: http.Header{"Authorization": {"Bearer not-a-secret"}},
	}}})
	digest, err := r.PushImage(ctx, "team/web", "1.3.0", 1)
	require.NoError(t, err)

	const manifestType = "application/vnd.docker.distribution.manifest.v2+json"
	// awaitManifestEvent waits for an event with action on the manifest of
	// team/web:1.3.0, checking every delivery on the way.
	awaitManifestEvent := func(action string) {
		t.Helper()
		for {
			select {
			case d := <-deliveries:
				require.NoError(t, d.decodeErr)
				require.Equal(t, "application/vnd.docker.distribution.events.v1+json", d.contentType)
				require.Equal(t, "Bearer not-a-secret", d.authorization)
				for _, e := range d.envelope.Events {
					t.Logf("event: %s %s %s:%s@%s", e.Action, e.Target.MediaType, e.Target.Repository, e.Target.Tag, e.Target.Digest)
					if e.Action != action || e.Target.MediaType != manifestType {
						continue // the layer and config blobs are reported too
					}
					require.Equal(t, "team/web", e.Target.Repository)
					require.Equal(t, "1.3.0", e.Target.Tag)
					require.Equal(t, digest, e.Target.Digest)
					require.Equal(t, r.Host(), e.Request.Host)
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %s event for the manifest of team/web:1.3.0 before the deadline", action)
			}
		}
	}
	awaitManifestEvent("push")

	// Pulls are reported too; a receiver has to tell them apart.
	tag, err := name.NewTag(r.Repository("team/web")+":1.3.0", name.Insecure)
	require.NoError(t, err)
	_, err = remote.Get(tag, remote.WithContext(ctx))
	require.NoError(t, err)
	awaitManifestEvent("pull")
}

// TestStopKillsTheRegistry checks that after Stop nothing answers on the
// registry's port and that a directory Start made is gone.
func TestStopKillsTheRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Start(ctx, Options{})
	require.NoError(t, err)
	require.NoError(t, testutil.GetOK(ctx, r.URL()+"/v2/", ""))

	r.Stop()
	require.True(t, r.Process.Exited())
	require.Error(t, testutil.GetOK(ctx, r.URL()+"/v2/", ""), "the registry must not answer after Stop")
	require.NoDirExists(t, r.Dir)
}
