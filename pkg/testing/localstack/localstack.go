package localstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/sluice-dev/sluice/pkg/testing/controlplane"
	pgtest "github.com/sluice-dev/sluice/pkg/testing/postgres"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// Options configure a stack.
type Options struct {
	// Dir holds all state. It is emptied first.
	Dir string
	// RepoRoot is the Sluice checkout: bin/ and artifacts/ are read from it.
	RepoRoot string
	// APIServers is how many sluice-apiserver replicas run over the same
	// database. The first is behind the APIService; the others are reached
	// directly. Default 1.
	APIServers int
	// Nodes is how many kwok nodes to create. Default 2.
	Nodes int
	// ExtraKwokStages are files of kwok Stage definitions added to the
	// node and pod lifecycle stages that kwok ships.
	ExtraKwokStages []string
	// APIServerArgs are extra flags for every sluice-apiserver.
	APIServerArgs []string
	// Controllers is how many sluice-controller replicas to start; they
	// elect a leader. Default 1; -1 starts none.
	Controllers int
	// ControllerArgs are extra flags for every sluice-controller.
	ControllerArgs []string
	// Durable runs PostgreSQL with fsync and synchronous commit on, and
	// etcd with fsync.
	Durable bool
	// APIOnly starts only what serves the APIs: PostgreSQL, etcd,
	// kube-apiserver and sluice-apiserver. No kube-controller-manager,
	// scheduler, kwok or sluice-controller (benchmarks measure the API).
	APIOnly bool
	// KubeControllers is kube-controller-manager's --controllers list. By
	// default only what Sluice needs from a cluster runs (startControllers
	// says which and why); {"*"} runs kube-controller-manager's own
	// defaults, as a real cluster does (the full-stack benchmark).
	KubeControllers []string
	// EtcdQuotaBytes is etcd's backend quota; etcd's default when zero.
	EtcdQuotaBytes int64
	// PostgresSettings are extra postgresql.conf parameters.
	PostgresSettings map[string]string
	// PostgresDiskFault lets a test fill the disk under the databases with
	// Stack.Postgres.SetDiskFull (pkg/testing/postgres). It needs a C
	// compiler.
	PostgresDiskFault bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Stack is a running local cluster with Sluice.
type Stack struct {
	Dir          string
	opts         Options
	Postgres     *pgtest.Server
	DatabaseURL  string
	ControlPlane *controlplane.ControlPlane
	// Kubeconfig is an admin kubeconfig; Config the same as a rest.Config.
	Kubeconfig string
	Config     *rest.Config

	ControllerManager *controlplane.Process
	Scheduler         *controlplane.Process
	Kwok              *controlplane.Process
	APIServers        []*APIServer
	Controllers       []*Controller

	pkiDir               string
	controllerKubeconfig string
	controllerSeq        int
	podLogs              podLogs
}

// Controller is one sluice-controller process.
type Controller struct {
	*controlplane.Process
	// Identity is its name in the leader-election Lease.
	Identity string
	// MetricsURL is http://127.0.0.1:<port>, serving /healthz and /metrics.
	MetricsURL string
	// ReceiverURL is http://127.0.0.1:<port>, the trigger receiver:
	// POST /hooks/<namespace>/<trigger>, and /readyz. Every replica
	// serves it, leader or not.
	ReceiverURL string
}

// APIServer is one sluice-apiserver process.
type APIServer struct {
	*controlplane.Process
	Port int
	// URL is https://127.0.0.1:<port>.
	URL string
	// args are its flags, for RestartAPIServer.
	args []string
}

// Identities of the local processes. sluice-apiserver authenticates as its
// service account, so the RBAC in artifacts/deploy/rbac is what it gets.
const (
	apiserverUser = "system:serviceaccount:sluice-system:sluice-apiserver"
	// sluiceNamespace holds Sluice's service accounts and the controller's
	// leader-election Lease, as artifacts/deploy does.
	sluiceNamespace = "sluice-system"
)

// Start brings the whole stack up and returns once `kubectl get pipelines`
// is answered. On error, everything started is stopped again.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	if opts.APIServers == 0 {
		opts.APIServers = 1
	}
	if opts.Nodes == 0 {
		opts.Nodes = 2
	}
	if opts.Controllers == 0 {
		opts.Controllers = 1
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.RepoRoot == "" {
		bin, err := controlplane.BinDir()
		if err != nil {
			return nil, err
		}
		opts.RepoRoot = filepath.Dir(bin)
	}
	for _, b := range []string{"kube-controller-manager", "kube-scheduler", "kubectl", "kwok", "sluice-apiserver", "sluice-controller"} {
		if _, err := os.Stat(filepath.Join(opts.RepoRoot, "bin", b)); err != nil {
			return nil, fmt.Errorf("bin/%s is missing: run `make tools build`", b)
		}
	}
	if err := os.RemoveAll(opts.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	started := &Stack{Dir: opts.Dir, opts: opts}
	s = started
	defer func() {
		if err != nil {
			// Stop what did start: s is already nil on an error return.
			started.Stop()
			s = nil
		}
	}()
	steps := []struct {
		what string
		fn   func(context.Context) error
	}{
		{"PostgreSQL", s.startPostgres},
		{"etcd and kube-apiserver", s.startControlPlane},
		{"kube-controller-manager and kube-scheduler", s.startControllers},
		{"kwok and its nodes", s.startKwok},
		{"sluice-apiserver", s.startSluiceAPIServers},
		{"the APIService", s.registerAPIService},
		{"sluice-controller", s.startSluiceControllers},
	}
	for _, step := range steps {
		if opts.APIOnly && !slices.Contains([]string{"PostgreSQL", "etcd and kube-apiserver", "sluice-apiserver", "the APIService"}, step.what) {
			continue
		}
		start := time.Now()
		fmt.Fprintf(opts.Log, ">> starting %s\n", step.what)
		if err := step.fn(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", step.what, err)
		}
		fmt.Fprintf(opts.Log, "   %s ready in %s\n", step.what, time.Since(start).Round(100*time.Millisecond))
	}
	return s, nil
}

func (s *Stack) startPostgres(ctx context.Context) error {
	var err error
	s.Postgres, err = pgtest.Start(ctx, pgtest.Options{Dir: filepath.Join(s.Dir, "postgres"), Durable: s.opts.Durable,
		Settings: s.opts.PostgresSettings, DiskFault: s.opts.PostgresDiskFault})
	if err != nil {
		return err
	}
	if err := testutil.ExecSQL(ctx, s.Postgres.DSN("postgres"), "CREATE DATABASE sluice"); err != nil {
		return err
	}
	s.DatabaseURL = s.Postgres.DSN("sluice")
	return nil
}

func (s *Stack) startControlPlane(ctx context.Context) error {
	var err error
	s.ControlPlane, err = controlplane.Start(ctx, controlplane.Options{
		Dir:               filepath.Join(s.Dir, "cluster"),
		EtcdUnsafeNoFsync: !s.opts.Durable,
		EtcdQuotaBytes:    s.opts.EtcdQuotaBytes,
	})
	if err != nil {
		return err
	}
	s.Kubeconfig, s.Config = s.ControlPlane.Kubeconfig, s.ControlPlane.Config
	s.pkiDir = filepath.Join(s.Dir, "cluster", "pki")
	return nil
}

// UserConfig returns a client config that authenticates as user with a
// client certificate signed by the cluster CA.
func (s *Stack) UserConfig(user string, groups ...string) (*rest.Config, error) {
	name := strings.NewReplacer(":", "_", "/", "_").Replace(user)
	ck, err := s.ControlPlane.PKI.CA.Issue(s.pkiDir, "user-"+name, controlplane.CertOptions{CommonName: user, Organizations: groups, Client: true})
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host:            s.ControlPlane.APIServerURL,
		TLSClientConfig: rest.TLSClientConfig{CAFile: s.ControlPlane.PKI.CA.CertFile, CertFile: ck.CertFile, KeyFile: ck.KeyFile},
		QPS:             -1,
	}, nil
}

// userKubeconfig writes a kubeconfig for user and returns its path.
func (s *Stack) userKubeconfig(user string, groups ...string) (string, error) {
	cfg, err := s.UserConfig(user, groups...)
	if err != nil {
		return "", err
	}
	path := filepath.Join(s.Dir, strings.NewReplacer(":", "_", "/", "_").Replace(user)+".kubeconfig")
	return path, controlplane.WriteKubeconfig(path, cfg, "local")
}

func (s *Stack) bin(name string) string { return filepath.Join(s.BinDir(), name) }

// BinDir is the checkout's bin/: the pinned control plane, Sluice's
// binaries and the kubectl plugin kubectl-sluice.
func (s *Stack) BinDir() string { return filepath.Join(s.opts.RepoRoot, "bin") }

func (s *Stack) startControllers(ctx context.Context) error {
	kcmConfig, err := s.userKubeconfig("system:kube-controller-manager")
	if err != nil {
		return err
	}
	schedConfig, err := s.userKubeconfig("system:kube-scheduler")
	if err != nil {
		return err
	}
	// What Sluice needs from a cluster: garbage collection of owned
	// objects, namespace deletion, service accounts for Pods, and
	// aggregation of the sluice-* roles into view/edit/admin, and node
	// lifecycle, which lifts the not-ready taint once kwok reports Ready.
	controllers := []string{"garbagecollector", "namespace", "serviceaccount", "serviceaccount-token",
		"root-ca-cert-publisher", "clusterrole-aggregation", "nodelifecycle"}
	if s.opts.KubeControllers != nil {
		controllers = s.opts.KubeControllers
	}
	dir := s.ControlPlane.Dir
	s.ControllerManager, err = controlplane.StartProcess(dir, "kube-controller-manager", s.bin("kube-controller-manager"), []string{
		"--kubeconfig=" + kcmConfig,
		"--authentication-kubeconfig=" + kcmConfig,
		"--authorization-kubeconfig=" + kcmConfig,
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--leader-elect=false",
		"--controllers=" + strings.Join(controllers, ","),
		"--service-account-private-key-file=" + s.ControlPlane.PKI.ServiceAccountKey,
		"--root-ca-file=" + s.ControlPlane.PKI.CA.CertFile,
		"--use-service-account-credentials=true", // each controller with its own RBAC, as kubeadm runs it
		"--v=1",
	})
	if err != nil {
		return err
	}
	s.Scheduler, err = controlplane.StartProcess(dir, "kube-scheduler", s.bin("kube-scheduler"), []string{
		"--kubeconfig=" + schedConfig,
		"--authentication-kubeconfig=" + schedConfig,
		"--authorization-kubeconfig=" + schedConfig,
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--leader-elect=false",
		"--v=1",
	})
	if err != nil {
		return err
	}
	// The default service account appears once the controllers run.
	client, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return s.ControllerManager.WaitFor(ctx, "the default service account", func(ctx context.Context) error {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

func (s *Stack) startKwok(ctx context.Context) error {
	stages := filepath.Join(s.opts.RepoRoot, "bin", "kwok-stages")
	files := []string{
		"node/fast/node-initialize.yaml",
		"node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
		// Pods start at once (init containers complete, the main one
		// runs) and go when deleted; Sluice's step Pods are ended by
		// test/e2e/kwok/sluice-stages.yaml.
		"pod/fast/pod-ready.yaml",
		"pod/fast/pod-complete.yaml",
		"pod/fast/pod-delete.yaml",
	}
	var config bytes.Buffer
	sluiceStages := filepath.Join(s.opts.RepoRoot, "test", "e2e", "kwok", "sluice-stages.yaml")
	all := append(append(prefixed(stages, files), sluiceStages), s.opts.ExtraKwokStages...)
	for i, f := range all {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("kwok stages: %w (run `make tools`)", err)
		}
		if i > 0 {
			config.WriteString("\n---\n")
		}
		config.Write(b)
	}
	configFile := filepath.Join(s.Dir, "kwok.yaml")
	if err := os.WriteFile(configFile, config.Bytes(), 0o644); err != nil {
		return err
	}
	port, err := testutil.FreePort()
	if err != nil {
		return err
	}
	kwokURL := fmt.Sprintf("https://127.0.0.1:%d", port)
	if err := s.startPodLogs(ctx, kwokURL); err != nil {
		return err
	}
	// kwok serves the kubelet API of its nodes (container logs): their
	// status names 127.0.0.1 and its port, and kube-apiserver verifies
	// its certificate with the cluster CA.
	serving, err := s.ControlPlane.PKI.CA.Issue(s.pkiDir, "kwok", controlplane.CertOptions{
		CommonName: "kwok",
		IPs:        []net.IP{net.ParseIP("127.0.0.1")},
		Server:     true,
	})
	if err != nil {
		return err
	}
	s.Kwok, err = controlplane.StartProcess(s.ControlPlane.Dir, "kwok", s.bin("kwok"), []string{
		"--kubeconfig=" + s.Kubeconfig,
		"--config=" + configFile,
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-lease-duration-seconds=40",
		"--server-address=127.0.0.1:" + strconv.Itoa(port),
		"--node-ip=127.0.0.1",
		"--node-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + serving.CertFile,
		"--tls-private-key-file=" + serving.KeyFile,
		// Container output is configured at run time (podlogs.go).
		"--enable-crds=ClusterLogs",
		"--cidr=10.244.0.0/16",
	})
	if err != nil {
		return err
	}
	if err := s.watchNamespaces(); err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		return err
	}
	for i := range s.opts.Nodes {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        fmt.Sprintf("kwok-node-%d", i),
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels:      map[string]string{"kubernetes.io/hostname": fmt.Sprintf("kwok-node-%d", i), "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok"},
			},
			Status: corev1.NodeStatus{
				Capacity:    nodeResources(),
				Allocatable: nodeResources(),
			},
		}
		if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return s.Kwok.WaitFor(ctx, "nodes to be Ready", func(ctx context.Context) error {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=kwok"})
		if err != nil {
			return err
		}
		ready := 0
		for _, n := range nodes.Items {
			if nodeSchedulable(&n) {
				ready++
			}
		}
		if ready < s.opts.Nodes {
			return fmt.Errorf("%d of %d nodes ready and untainted", ready, s.opts.Nodes)
		}
		return nil
	})
}

// nodeSchedulable is a Ready node without the not-ready taint, which the
// node lifecycle controller lifts once the node reports Ready.
func nodeSchedulable(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady {
			return false
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func prefixed(dir string, files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = filepath.Join(dir, f)
	}
	return out
}

func nodeResources() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("250"),
	}
}

func (s *Stack) startSluiceAPIServers(ctx context.Context) error {
	// The server's RBAC, as deployed in a real cluster.
	if _, err := s.Kubectl(ctx, "apply", "-k", filepath.Join(s.opts.RepoRoot, "artifacts", "deploy", "rbac")); err != nil {
		return err
	}
	kubeconfig, err := s.userKubeconfig(apiserverUser, "system:serviceaccounts", "system:serviceaccounts:"+sluiceNamespace)
	if err != nil {
		return err
	}
	serving, err := s.ControlPlane.PKI.CA.Issue(s.pkiDir, "sluice-apiserver", controlplane.CertOptions{
		CommonName: "sluice-apiserver",
		DNSNames:   []string{"localhost", "sluice-apiserver.sluice-system.svc"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1")},
		Server:     true,
	})
	if err != nil {
		return err
	}
	for i := range s.opts.APIServers {
		port, err := testutil.FreePort()
		if err != nil {
			return err
		}
		name := "sluice-apiserver"
		if i > 0 {
			name = fmt.Sprintf("sluice-apiserver-%d", i)
		}
		args := append([]string{
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--tls-cert-file=" + serving.CertFile,
			"--tls-private-key-file=" + serving.KeyFile,
			"--kubeconfig=" + kubeconfig,
			"--authentication-kubeconfig=" + kubeconfig,
			"--authorization-kubeconfig=" + kubeconfig,
			"--database-url=" + s.DatabaseURL,
			"--v=1",
		}, s.opts.APIServerArgs...)
		p, err := controlplane.StartProcess(s.ControlPlane.Dir, name, s.bin("sluice-apiserver"), args)
		if err != nil {
			return err
		}
		srv := &APIServer{Process: p, Port: port, URL: fmt.Sprintf("https://127.0.0.1:%d", port), args: args}
		s.APIServers = append(s.APIServers, srv)
	}
	for _, srv := range s.APIServers {
		if err := s.waitReady(ctx, srv); err != nil {
			return err
		}
	}
	return nil
}

// RestartAPIServer starts a sluice-apiserver replica that has exited (a
// test stopped or killed it) again, with the same flags on the same port,
// as a Deployment's restart would, and returns once it is ready. The first
// replica is the APIService's again. It replaces srv.Process: call it
// while nothing else uses srv.
func (s *Stack) RestartAPIServer(ctx context.Context, srv *APIServer) error {
	if !srv.Exited() {
		return fmt.Errorf("%s is still running", srv.Name)
	}
	p, err := controlplane.StartProcess(s.ControlPlane.Dir, srv.Name, s.bin("sluice-apiserver"), srv.args)
	if err != nil {
		return err
	}
	srv.Process = p
	return s.waitReady(ctx, srv)
}

// waitReady polls a sluice-apiserver's /readyz as the cluster's admin
// would reach it through the front proxy.
func (s *Stack) waitReady(ctx context.Context, srv *APIServer) error {
	client, err := s.DirectClient(srv, "system:admin", "system:masters")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return srv.WaitFor(ctx, "sluice-apiserver /readyz", func(ctx context.Context) error {
		_, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

// DirectConfig returns a config that talks to one sluice-apiserver
// directly, as kube-apiserver's aggregator does: with the front-proxy
// client certificate and the user in request headers.
func (s *Stack) DirectConfig(srv *APIServer, user string, groups ...string) *rest.Config {
	pki := s.ControlPlane.PKI
	return &rest.Config{
		Host: srv.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile:   pki.CA.CertFile,
			CertFile: pki.FrontProxyClient.CertFile,
			KeyFile:  pki.FrontProxyClient.KeyFile,
		},
		WrapTransport: frontProxyHeaders(user, groups),
		QPS:           -1,
	}
}

// DirectClient is a clientset over DirectConfig.
func (s *Stack) DirectClient(srv *APIServer, user string, groups ...string) (*kubernetes.Clientset, error) {
	return kubernetes.NewForConfig(s.DirectConfig(srv, user, groups...))
}

func (s *Stack) registerAPIService(ctx context.Context) error {
	ca, err := os.ReadFile(s.ControlPlane.PKI.CA.CertFile)
	if err != nil {
		return err
	}
	// Endpoints may not hold loopback addresses, but an ExternalName
	// Service may name one: the aggregator dials externalName:port.
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: sluice-apiserver
  namespace: sluice-system
spec:
  type: ExternalName
  externalName: 127.0.0.1
  ports:
  - name: https
    port: %[1]d
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1alpha1.sluice.dev
spec:
  group: sluice.dev
  version: v1alpha1
  groupPriorityMinimum: 1000
  versionPriority: 15
  service:
    name: sluice-apiserver
    namespace: sluice-system
    port: %[1]d
  caBundle: %[2]s
`, s.APIServers[0].Port, base64(ca))
	if _, err := s.KubectlStdin(ctx, manifest, "apply", "-f", "-"); err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return s.APIServers[0].WaitFor(ctx, "kubectl get pipelines -A and explain", func(ctx context.Context) error {
		if _, err := client.Discovery().ServerResourcesForGroupVersion("sluice.dev/v1alpha1"); err != nil {
			return err
		}
		if _, err := s.Kubectl(ctx, "get", "pipelines", "--all-namespaces"); err != nil {
			return err
		}
		// kube-apiserver aggregates OpenAPI from the APIService shortly
		// after it becomes available; kubectl explain needs it.
		_, err := s.Kubectl(ctx, "explain", "pipelinejobs.spec")
		return err
	})
}

// Kubectl runs the pinned kubectl as admin and returns its output.
func (s *Stack) Kubectl(ctx context.Context, args ...string) (string, error) {
	return s.KubectlStdin(ctx, "", args...)
}

// KubectlStdin runs kubectl with stdin.
func (s *Stack) KubectlStdin(ctx context.Context, stdin string, args ...string) (string, error) {
	return s.KubectlAs(ctx, s.Kubeconfig, stdin, args...)
}

// KubectlAs runs kubectl with a given kubeconfig.
func (s *Stack) KubectlAs(ctx context.Context, kubeconfig, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin("kubectl"), append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// PluginResult is how a run of `kubectl sluice` ended.
type PluginResult struct {
	Stdout, Stderr string
	// ExitCode is the plugin's exit code, which kubectl passes on.
	ExitCode int
}

// KubectlSluice runs `kubectl sluice args...` as a user types it, with
// kubeconfig: the pinned kubectl finds the plugin bin/kubectl-sluice,
// bin/ being first on PATH. An exit code other than 0 is a result, not an
// error; the error is for a command that could not run.
func (s *Stack) KubectlSluice(ctx context.Context, kubeconfig string, args ...string) (PluginResult, error) {
	return s.KubectlWithPlugins(ctx, kubeconfig, append([]string{"sluice"}, args...)...)
}

// KubectlWithPlugins runs the pinned kubectl with kubeconfig and bin/
// first on PATH, where it finds the plugin kubectl-sluice and its
// completion, kubectl_complete-sluice.
func (s *Stack) KubectlWithPlugins(ctx context.Context, kubeconfig string, args ...string) (PluginResult, error) {
	cmd := exec.CommandContext(ctx, s.bin("kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+s.BinDir()+string(os.PathListSeparator)+os.Getenv("PATH"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := PluginResult{Stdout: stdout.String(), Stderr: stderr.String()}
	if cmd.ProcessState == nil {
		return res, fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	res.ExitCode = cmd.ProcessState.ExitCode()
	return res, nil
}

func (s *Stack) startSluiceControllers(ctx context.Context) error {
	var err error
	if s.controllerKubeconfig, err = s.userKubeconfig("system:serviceaccount:sluice-system:sluice-controller",
		"system:serviceaccounts", "system:serviceaccounts:"+sluiceNamespace); err != nil {
		return err
	}
	for range max(s.opts.Controllers, 0) {
		if _, err := s.StartController(ctx); err != nil {
			return err
		}
	}
	return nil
}

// StartController starts one more sluice-controller replica, authenticated
// as its service account (the RBAC of artifacts/deploy/rbac), with
// Options.ControllerArgs and then extraArgs, and returns once it serves
// /healthz.
func (s *Stack) StartController(ctx context.Context, extraArgs ...string) (*Controller, error) {
	port, err := testutil.FreePort()
	if err != nil {
		return nil, err
	}
	receiverPort, err := testutil.FreePort()
	if err != nil {
		return nil, err
	}
	s.controllerSeq++
	id := fmt.Sprintf("sluice-controller-%d", s.controllerSeq)
	args := append([]string{
		"--kubeconfig=" + s.controllerKubeconfig,
		"--bind-address=127.0.0.1:" + strconv.Itoa(port),
		"--receiver-address=127.0.0.1:" + strconv.Itoa(receiverPort),
		"--leader-elect-namespace=" + sluiceNamespace,
		"--leader-elect-identity=" + id,
		// Tests' webhook and Slack servers, and the test registry,
		// listen on 127.0.0.1, which the egress policy refuses by default.
		"--egress-allow-cidrs=127.0.0.0/8",
		"--v=2",
	}, s.opts.ControllerArgs...)
	args = append(args, extraArgs...)
	p, err := controlplane.StartProcess(s.ControlPlane.Dir, id, s.bin("sluice-controller"), args)
	if err != nil {
		return nil, err
	}
	c := &Controller{Process: p, Identity: id, MetricsURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		ReceiverURL: fmt.Sprintf("http://127.0.0.1:%d", receiverPort)}
	s.Controllers = append(s.Controllers, c)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.WaitFor(ctx, "sluice-controller /healthz", func(ctx context.Context) error {
		return testutil.GetOK(ctx, c.MetricsURL+"/healthz", "")
	}); err != nil {
		return c, err
	}
	return c, p.WaitFor(ctx, "the trigger receiver's /readyz", func(ctx context.Context) error {
		return testutil.GetOK(ctx, c.ReceiverURL+"/readyz", "")
	})
}

// Stop stops everything, newest first.
func (s *Stack) Stop() {
	for i := len(s.Controllers) - 1; i >= 0; i-- {
		_ = s.Controllers[i].Stop(20 * time.Second)
	}
	for i := len(s.APIServers) - 1; i >= 0; i-- {
		_ = s.APIServers[i].Stop(20 * time.Second)
	}
	if s.podLogs.stopWatch != nil {
		s.podLogs.stopWatch()
	}
	for _, p := range []*controlplane.Process{s.Kwok, s.Scheduler, s.ControllerManager} {
		if p != nil {
			_ = p.Stop(20 * time.Second)
		}
	}
	if s.ControlPlane != nil {
		s.ControlPlane.Stop()
	}
	if s.Postgres != nil {
		if err := s.Postgres.Stop(); err != nil {
			fmt.Fprintf(s.opts.Log, "stopping PostgreSQL: %v\n", err)
		}
	}
}

// LogTails returns the end of every process log, for a failing test.
func (s *Stack) LogTails(n int) string {
	var b strings.Builder
	procs := []*controlplane.Process{s.Kwok, s.Scheduler, s.ControllerManager}
	if s.ControlPlane != nil {
		procs = append(procs, s.ControlPlane.APIServer, s.ControlPlane.Etcd)
	}
	for _, a := range s.APIServers {
		procs = append(procs, a.Process)
	}
	for _, c := range s.Controllers {
		procs = append(procs, c.Process)
	}
	for _, p := range procs {
		if p != nil {
			fmt.Fprintf(&b, "==== %s (%s)\n%s\n", p.Name, p.LogFile, p.LogTail(n))
		}
	}
	return b.String()
}
