package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	mathrand "math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrrandom "github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
	"sigs.k8s.io/yaml"

	"github.com/sluice-dev/sluice/pkg/testing/controlplane"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// Binary is the name of the registry program Debian's docker-registry
// package installs in /usr/bin.
const Binary = "docker-registry"

// Endpoint is a listener the registry notifies of pushes, pulls and deletes
// with the distribution registry's notification envelope
// (Content-Type application/vnd.docker.distribution.events.v1+json).
type Endpoint struct {
	// Name identifies the endpoint in the registry's log.
	Name string
	// URL receives a POST per batch of events.
	URL string
	// Headers are sent with every request, e.g. an Authorization header.
	Headers http.Header
}

// Options configure a throw-away registry.
type Options struct {
	// Dir holds the config, the storage and the log. A new directory under
	// the system temp dir, removed by Stop, is used when empty.
	Dir string
	// Notify are the endpoints notified of every event. Layers (blobs) are
	// reported as well as manifests, as a registry configured without
	// ignoredmediatypes does.
	Notify []Endpoint
	// Users, when set, are the only accounts (name to password) the
	// registry serves, with HTTP basic authentication from an htpasswd
	// file; PushImage pushes as one of them. Without, anyone may push and
	// pull.
	Users map[string]string
}

// Registry is a distribution registry started by this package.
type Registry struct {
	// Dir holds config.yml, the storage under data/ and registry.log.
	Dir string
	// Port is the port it serves plain HTTP on, on 127.0.0.1.
	Port int
	// Process is the running registry.
	Process *controlplane.Process
	// Auth is how PushImage authenticates: anonymous, or the first of
	// Options.Users by name.
	Auth authn.Authenticator

	removeDir bool
}

// Start writes a config for a registry on a free 127.0.0.1 port and starts
// it, returning once GET /v2/ answers 200. On error, nothing is left running.
func Start(ctx context.Context, opts Options) (*Registry, error) {
	binary, err := exec.LookPath(Binary)
	if err != nil {
		return nil, fmt.Errorf("the distribution registry (%s) is not installed: run hack/install-registry.sh: %w", Binary, err)
	}
	r := &Registry{Dir: opts.Dir, Auth: authn.Anonymous}
	if r.Dir == "" {
		if r.Dir, err = os.MkdirTemp("", "sluice-registry-"); err != nil {
			return nil, err
		}
		r.removeDir = true
	} else if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return nil, err
	}

	// A port picked as free may be taken before the registry binds it; the
	// registry then exits at once, and another port is tried.
	for attempt := 0; ; attempt++ {
		if r.Port, err = testutil.FreePort(); err != nil {
			break
		}
		err = r.start(ctx, binary, opts)
		if err == nil || !r.Process.Exited() || attempt == 4 {
			break
		}
	}
	if err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

func (r *Registry) start(ctx context.Context, binary string, opts Options) error {
	configFile := filepath.Join(r.Dir, "config.yml")
	config, err := r.config(opts)
	if err != nil {
		return err
	}
	if err := os.WriteFile(configFile, config, 0o600); err != nil {
		return err
	}
	if r.Process, err = controlplane.StartProcess(r.Dir, "registry", binary, []string{"serve", configFile}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = r.Process.WaitFor(ctx, "GET /v2/", func(ctx context.Context) error {
		err := testutil.GetOK(ctx, r.URL()+"/v2/", "")
		if err != nil && len(opts.Users) > 0 && strings.Contains(err.Error(), "401 Unauthorized") {
			return nil // serving, and asking for credentials
		}
		return err
	})
	if err != nil && !r.Process.Exited() {
		_ = r.Process.Kill()
	}
	return err
}

// config is the registry's config.yml: filesystem storage under Dir, plain
// HTTP on 127.0.0.1, deletes allowed (so tests can make a tag's digest go
// away), and the notification endpoints.
func (r *Registry) config(opts Options) ([]byte, error) {
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	endpoints := []map[string]any{}
	for _, e := range opts.Notify {
		if e.Name == "" || e.URL == "" {
			return nil, errors.New("registry: a notification endpoint needs a Name and a URL")
		}
		headers := e.Headers
		if headers == nil {
			headers = http.Header{} // the registry requires the key
		}
		endpoints = append(endpoints, map[string]any{
			"name":    e.Name,
			"url":     e.URL,
			"headers": headers,
			// Short enough that a test sees a retry within its deadline.
			"timeout":   "5s",
			"threshold": 3,
			"backoff":   "1s",
		})
	}
	config := map[string]any{
		"version": "0.1",
		"log": map[string]any{
			"level":     "info",
			"formatter": "text",
			"fields":    map[string]any{"service": "registry"},
		},
		"storage": map[string]any{
			"filesystem": map[string]any{"rootdirectory": filepath.Join(r.Dir, "data")},
			"delete":     map[string]any{"enabled": true},
			// Purging runs in the background and only logs in a registry
			// that lives for one test.
			"maintenance": map[string]any{"uploadpurging": map[string]any{"enabled": false}},
		},
		"http": map[string]any{
			"addr": r.Host(),
			// Without one the registry logs a warning and makes one up.
			"secret": hex.EncodeToString(secret),
		},
	}
	if len(opts.Users) > 0 {
		htpasswd, err := r.htpasswd(opts.Users)
		if err != nil {
			return nil, err
		}
		config["auth"] = map[string]any{"htpasswd": map[string]any{"realm": "sluice-test", "path": htpasswd}}
	}
	if len(endpoints) > 0 {
		config["notifications"] = map[string]any{
			"events":    map[string]any{"includereferences": true},
			"endpoints": endpoints,
		}
	}
	return yaml.Marshal(config)
}

// htpasswd writes the users' bcrypt hashes to Dir/htpasswd, returning its
// path, and makes the first user by name the one PushImage pushes as.
func (r *Registry) htpasswd(users map[string]string) (string, error) {
	names := slices.Sorted(maps.Keys(users))
	var b strings.Builder
	for _, user := range names {
		hash, err := bcrypt.GenerateFromPassword([]byte(users[user]), bcrypt.MinCost)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s:%s\n", user, hash)
	}
	r.Auth = &authn.Basic{Username: names[0], Password: users[names[0]]}
	path := filepath.Join(r.Dir, "htpasswd")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// DockerConfigJSON is the .dockerconfigjson of a kubernetes.io/dockerconfigjson
// Secret that logs in to this registry as user.
func (r *Registry) DockerConfigJSON(user, password string) []byte {
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{
		r.Host(): map[string]string{"username": user, "password": password},
	}})
	return b
}

// Host is the registry's host and port, "127.0.0.1:<port>", as it starts an
// image reference.
func (r *Registry) Host() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// URL is the registry's base URL, "http://127.0.0.1:<port>".
func (r *Registry) URL() string { return "http://" + r.Host() }

// Repository is the full name of the repository path (e.g. "team/web") in
// this registry, "127.0.0.1:<port>/team/web", as a Trigger's
// image.repository names it.
func (r *Registry) Repository(path string) string { return r.Host() + "/" + path }

// PushImage builds a small image of one random layer and pushes it as
// repository path:tag, returning its manifest digest ("sha256:…"). The same
// seed gives the same image, hence the same digest, so a test can move a tag
// to new content with a new seed, or give two tags the same content.
func (r *Registry) PushImage(ctx context.Context, path, tag string, seed int) (string, error) {
	return Push(ctx, r.Repository(path)+":"+tag, seed, r.Auth)
}

// Push builds a small image of one random layer from seed and pushes it to
// ref ("127.0.0.1:5000/team/web:1.3.0"; plain HTTP for a loopback
// registry) as auth, returning its manifest digest.
func Push(ctx context.Context, ref string, seed int, auth authn.Authenticator) (string, error) {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return "", err
	}
	img, err := ggcrrandom.Image(256, 1, ggcrrandom.WithSource(mathrand.NewSource(int64(seed))))
	if err != nil {
		return "", err
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx), remote.WithAuth(auth)); err != nil {
		return "", fmt.Errorf("push %s: %w", tag, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	return digest.String(), nil
}

// Stop kills the registry and, if Start made its directory, removes it. The
// registry keeps nothing worth a graceful shutdown.
func (r *Registry) Stop() {
	if r.Process != nil {
		_ = r.Process.Kill()
	}
	if r.removeDir {
		_ = os.RemoveAll(r.Dir)
	}
}
