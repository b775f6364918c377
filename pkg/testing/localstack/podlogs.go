package localstack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Container output on kwok nodes.
//
// No container runs on a kwok node, so kwok's kubelet API serves a Pod's
// container log from a file named by a ClusterLogs object (kwok.x-k8s.io),
// in the CRI log format a real kubelet reads ("<RFC3339Nano time> stdout F
// <line>"). kube-apiserver reaches that API for pods/log as it reaches a
// kubelet: at the node's InternalIP, 127.0.0.1, and kubeletEndpoint port,
// kwok's server port.
//
// The stack keeps exactly one ClusterLogs per namespace, selecting that
// namespace: kwok picks among the ClusterLogs that match a Pod in no
// defined order, so two could never be told apart. Every namespace gets
// one when it appears, under which every container prints nothing, as
// on a kubelet a container that wrote nothing has an empty log (kwok
// answers 400 for a Pod no configuration matches). SetContainerLogs
// replaces it with one that names files of the test's own.
//
// kwok follows a log (follow=true) until the client goes away, even after
// the container has ended, where a kubelet ends the stream: a client
// that follows must stop on its own when the container's status says it
// has terminated.

// clusterLogsResource is kwok's ClusterLogs, cluster-scoped.
var clusterLogsResource = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "clusterlogs"}

// podLogsFieldManager owns the ClusterLogs the stack writes.
const podLogsFieldManager = "sluice-localstack"

// probeContainer is a container name no test may use: SetContainerLogs
// gives it the number of the configuration it writes, to see when kwok
// has that configuration.
const probeContainer = "localstack-probe"

// LogLine is one line a container wrote to its standard output.
type LogLine struct {
	// Time is when it was written. The zero time means when it is set or
	// appended, and then later than every line of the stack before it.
	Time time.Time
	// Text is the line without its newline.
	Text string
}

// Lines are lines of text, each stamped when it is set or appended.
func Lines(text ...string) []LogLine {
	out := make([]LogLine, len(text))
	for i, t := range text {
		out[i] = LogLine{Text: t}
	}
	return out
}

// podLogs is the stack's part of container output: the files it writes and
// the clock that stamps their lines.
type podLogs struct {
	// dir holds empty.log, the output of every container not configured,
	// and a directory per configured namespace of <container>.log files.
	dir string
	// kwokURL is kwok's kubelet API, https://127.0.0.1:<port>; client
	// trusts its certificate.
	kwokURL string
	client  *http.Client
	dynamic dynamic.Interface
	// stopWatch ends the namespace watch.
	stopWatch context.CancelFunc

	mu       sync.Mutex
	lastTime time.Time
	// generation numbers the configurations SetContainerLogs writes.
	generation int
}

func (s *Stack) clusterLogsName(namespace string) string { return "namespace-" + namespace }

func (s *Stack) containerLogFile(namespace, container string) string {
	return filepath.Join(s.podLogs.dir, namespace, container+".log")
}

// SetContainerLogs makes the lines of logs the output of the container of
// that name in every Pod of the namespace, for pods/log and `kubectl
// logs`; every other container of the namespace prints nothing. It
// replaces what an earlier call set for the namespace, and returns once
// kwok serves it. Container names are DNS labels, and localstack-probe
// is the stack's own.
func (s *Stack) SetContainerLogs(ctx context.Context, namespace string, logs map[string][]LogLine) error {
	if s.podLogs.dynamic == nil {
		return errors.New("the stack runs no kwok")
	}
	for container, lines := range logs {
		if err := checkContainerName(container); err != nil {
			return err
		}
		for _, l := range lines {
			if strings.ContainsAny(l.Text, "\r\n") {
				return fmt.Errorf("container %s: a line holds a line break: %q", container, l.Text)
			}
		}
	}
	client, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		return err
	}
	ns, err := client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if err != nil {
		return err
	}

	dir := filepath.Join(s.podLogs.dir, namespace)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	containers := slices.Sorted(maps.Keys(logs))
	for _, c := range containers {
		if err := s.writeLogFile(s.containerLogFile(namespace, c), logs[c]); err != nil {
			return err
		}
	}

	s.podLogs.mu.Lock()
	s.podLogs.generation++
	generation := fmt.Sprintf("configuration %d", s.podLogs.generation)
	s.podLogs.mu.Unlock()
	probe := s.containerLogFile(namespace, probeContainer)
	if err := os.WriteFile(probe, fmt.Appendf(nil, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), generation), 0o644); err != nil {
		return err
	}
	entries := []any{map[string]any{"containers": []any{probeContainer}, "logsFile": probe}}
	for _, c := range containers {
		entries = append(entries, map[string]any{"containers": []any{c}, "logsFile": s.containerLogFile(namespace, c)})
	}
	obj := s.clusterLogs(ns, entries)
	if _, err := s.podLogs.dynamic.Resource(clusterLogsResource).Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: podLogsFieldManager, Force: true}); err != nil {
		return fmt.Errorf("ClusterLogs %s: %w", obj.GetName(), err)
	}
	if err := s.waitKwokServes(ctx, namespace, generation); err != nil {
		return err
	}
	// What an earlier call set and this one does not is no longer output
	// (kwok reads this configuration), and appending to it must fail.
	old, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return err
	}
	for _, f := range old {
		c := strings.TrimSuffix(filepath.Base(f), ".log")
		if _, keep := logs[c]; !keep && c != probeContainer {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// AppendContainerLog appends lines to the output SetContainerLogs set for
// the container in the namespace; a client following the log sees them.
func (s *Stack) AppendContainerLog(namespace, container string, lines ...LogLine) error {
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return fmt.Errorf("namespace %q: %s", namespace, strings.Join(errs, "; "))
	}
	if err := checkContainerName(container); err != nil {
		return err
	}
	f, err := os.OpenFile(s.containerLogFile(namespace, container), os.O_WRONLY|os.O_APPEND, 0)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no output is set for container %q in namespace %q: SetContainerLogs first", container, namespace)
	}
	if err != nil {
		return err
	}
	b, err := s.criLines(lines)
	if err == nil {
		// One write: a follower never reads half of what was appended
		// as a line of its own.
		_, err = f.Write(b)
	}
	return errors.Join(err, f.Close())
}

// checkContainerName accepts the names of containers, which also name
// their files, except the probe's.
func checkContainerName(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("container name %q: %s", name, strings.Join(errs, "; "))
	}
	if name == probeContainer {
		return fmt.Errorf("container name %q is the stack's own", name)
	}
	return nil
}

// writeLogFile replaces path with the lines. A follower of the old file
// sees it recreated and reads the new one.
func (s *Stack) writeLogFile(path string, lines []LogLine) error {
	b, err := s.criLines(lines)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// criLines renders lines in the CRI log format, stamping those without a
// time.
func (s *Stack) criLines(lines []LogLine) ([]byte, error) {
	s.podLogs.mu.Lock()
	defer s.podLogs.mu.Unlock()
	var b strings.Builder
	for _, l := range lines {
		if strings.ContainsAny(l.Text, "\r\n") {
			return nil, fmt.Errorf("a line holds a line break: %q", l.Text)
		}
		t := l.Time
		if t.IsZero() {
			t = time.Now()
			if !t.After(s.podLogs.lastTime) {
				t = s.podLogs.lastTime.Add(time.Microsecond)
			}
		}
		if t.After(s.podLogs.lastTime) {
			s.podLogs.lastTime = t
		}
		fmt.Fprintf(&b, "%s stdout F %s\n", t.UTC().Format(time.RFC3339Nano), l.Text)
	}
	return []byte(b.String()), nil
}

// clusterLogs is the namespace's ClusterLogs: entries, then the default
// for every other container, an empty log. The namespace owns it, so the
// garbage collector deletes it with the namespace.
func (s *Stack) clusterLogs(ns *corev1.Namespace, entries []any) *unstructured.Unstructured {
	entries = append(entries, map[string]any{"logsFile": filepath.Join(s.podLogs.dir, "empty.log")})
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "ClusterLogs",
		"metadata": map[string]any{
			"name": s.clusterLogsName(ns.Name),
			"ownerReferences": []any{map[string]any{
				"apiVersion": "v1", "kind": "Namespace", "name": ns.Name, "uid": string(ns.UID),
			}},
		},
		"spec": map[string]any{
			"selector": map[string]any{"matchNamespaces": []any{ns.Name}},
			"logs":     entries,
		},
	}}
}

// waitKwokServes polls kwok's kubelet API until it serves the
// namespace's configuration of that generation, which it tells by the
// output of the probe container. kwok matches a ClusterLogs by namespace
// only, so any Pod name asks it.
func (s *Stack) waitKwokServes(ctx context.Context, namespace, generation string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return s.Kwok.WaitFor(ctx, "kwok to serve the container logs of namespace "+namespace, func(ctx context.Context) error {
		got, err := s.kwokContainerLog(ctx, namespace, probeContainer, probeContainer)
		if err != nil {
			return err
		}
		if got != generation+"\n" {
			return fmt.Errorf("kwok serves %q, not %s", got, generation)
		}
		return nil
	})
}

// kwokContainerLog asks kwok's kubelet API for a container's log, as
// kube-apiserver does.
func (s *Stack) kwokContainerLog(ctx context.Context, namespace, pod, container string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/containerLogs/%s/%s/%s", s.podLogs.kwokURL, namespace, pod, container), nil)
	if err != nil {
		return "", err
	}
	resp, err := s.podLogs.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("kwok: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// startPodLogs prepares container output before kwok starts: its CRD, the
// empty log, and a client of kwok's kubelet API.
func (s *Stack) startPodLogs(ctx context.Context, kwokURL string) error {
	crd := filepath.Join(s.opts.RepoRoot, "bin", "kwok-crds", "kwok.x-k8s.io_clusterlogs.yaml")
	if _, err := os.Stat(crd); err != nil {
		return fmt.Errorf("kwok's ClusterLogs CRD: %w (run `make tools`)", err)
	}
	if _, err := s.Kubectl(ctx, "apply", "--server-side", "-f", crd); err != nil {
		return err
	}
	if _, err := s.Kubectl(ctx, "wait", "--for=condition=Established", "--timeout=1m", "crd/clusterlogs.kwok.x-k8s.io"); err != nil {
		return err
	}
	s.podLogs.dir = filepath.Join(s.Dir, "pod-logs")
	if err := os.MkdirAll(s.podLogs.dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.podLogs.dir, "empty.log"), nil, 0o644); err != nil {
		return err
	}
	ca, err := os.ReadFile(s.ControlPlane.PKI.CA.CertFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return errors.New("no certificate in the cluster CA file")
	}
	s.podLogs.kwokURL = kwokURL
	s.podLogs.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	s.podLogs.dynamic, err = dynamic.NewForConfig(s.Config)
	return err
}

// watchNamespaces gives every namespace, as it appears, a ClusterLogs
// under which its containers print nothing, unless SetContainerLogs gave
// it one first.
func (s *Stack) watchNamespaces() error {
	client, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.podLogs.stopWatch = cancel
	_, controller := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: cache.NewListWatchFromClient(client.CoreV1().RESTClient(), "namespaces", "", fields.Everything()),
		ObjectType:    &corev1.Namespace{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				ns := obj.(*corev1.Namespace)
				if ns.DeletionTimestamp == nil {
					if err := s.defaultClusterLogs(ctx, ns); err != nil && ctx.Err() == nil {
						fmt.Fprintf(s.opts.Log, "localstack: ClusterLogs of namespace %s: %v\n", ns.Name, err)
					}
				}
			},
		},
	})
	go controller.Run(ctx.Done())
	return nil
}

// defaultClusterLogs creates the namespace's ClusterLogs, under which its
// containers print nothing, unless it has one. One left by an earlier
// namespace of the same name, which the garbage collector has yet to
// delete, is replaced.
func (s *Stack) defaultClusterLogs(ctx context.Context, ns *corev1.Namespace) error {
	client := s.podLogs.dynamic.Resource(clusterLogsResource)
	for range 5 {
		_, err := client.Create(ctx, s.clusterLogs(ns, nil), metav1.CreateOptions{FieldManager: podLogsFieldManager})
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		existing, err := client.Get(ctx, s.clusterLogsName(ns.Name), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if slices.ContainsFunc(existing.GetOwnerReferences(), func(o metav1.OwnerReference) bool { return o.UID == ns.UID }) {
			return nil
		}
		uid := existing.GetUID()
		err = client.Delete(ctx, existing.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
	}
	return errors.New("another ClusterLogs of the same name keeps coming back")
}
