package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// Options configure a control plane.
type Options struct {
	// Dir holds certificates, data and logs. Required.
	Dir string
	// EtcdQuotaBytes is etcd's backend quota; etcd's default (2 GiB) when zero.
	EtcdQuotaBytes int64
	// EtcdUnsafeNoFsync trades crash safety for speed in tests.
	EtcdUnsafeNoFsync bool
	// ExtraAPIServerArgs are appended to kube-apiserver's flags.
	ExtraAPIServerArgs []string
}

// PKI holds the certificates of a control plane.
type PKI struct {
	// CA signs serving and client certificates; kube-apiserver trusts client
	// certificates and kubelet serving certificates it signed.
	CA *CA
	// FrontProxyCA signs the client certificate kube-apiserver presents to
	// aggregated API servers. They trust request headers only from it.
	FrontProxyCA *CA
	// FrontProxyClient is that client certificate (CN front-proxy-client).
	FrontProxyClient CertKey
	// ServiceAccountKey signs service account tokens; ServiceAccountPub verifies them.
	ServiceAccountKey, ServiceAccountPub string
}

// FrontProxyClientName is the CN aggregated servers must allow in
// --requestheader-allowed-names.
const FrontProxyClientName = "front-proxy-client"

// ControlPlane is a running etcd and kube-apiserver on 127.0.0.1.
type ControlPlane struct {
	Dir string
	PKI PKI
	// EtcdURL is the client URL of etcd.
	EtcdURL string
	// APIServerURL is https://127.0.0.1:<port>.
	APIServerURL string
	// Kubeconfig is the path of an admin (system:masters) kubeconfig.
	Kubeconfig string
	// Config is the admin REST config.
	Config *rest.Config

	Etcd      *Process
	APIServer *Process
}

// Start starts etcd and kube-apiserver, with the aggregation layer configured,
// and returns once kube-apiserver reports ready. On error, whatever was
// started has been stopped.
func Start(ctx context.Context, opts Options) (cp *ControlPlane, err error) {
	if opts.Dir == "" {
		return nil, errors.New("controlplane: Options.Dir is required")
	}
	etcdBin, err := Binary("etcd")
	if err != nil {
		return nil, err
	}
	apiserverBin, err := Binary("kube-apiserver")
	if err != nil {
		return nil, err
	}
	pkiDir := filepath.Join(opts.Dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o755); err != nil {
		return nil, err
	}
	started := &ControlPlane{Dir: opts.Dir}
	cp = started
	defer func() {
		if err != nil {
			// Stop what did start: cp is already nil on an error return.
			started.Stop()
			cp = nil
		}
	}()
	if err := cp.makePKI(pkiDir); err != nil {
		return nil, err
	}
	err = retryOnPortClash(func() error { return cp.startEtcd(ctx, etcdBin, opts) }, func() *Process { return cp.Etcd })
	if err != nil {
		return nil, err
	}
	err = retryOnPortClash(func() error { return cp.startAPIServer(ctx, apiserverBin, opts) }, func() *Process { return cp.APIServer })
	if err != nil {
		return nil, err
	}
	return cp, nil
}

// retryOnPortClash runs start again, up to five times, while it fails
// because the process it started exited on a port another process took:
// testutil.FreePort's port is free when picked, not when the server binds
// it, and on a busy machine (tests side by side) something else may bind
// it first. Each start picks new ports.
func retryOnPortClash(start func() error, started func() *Process) error {
	for attempt := 1; ; attempt++ {
		err := start()
		p := started()
		if err == nil || attempt == 5 || p == nil || !p.Exited() || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
	}
}

func (cp *ControlPlane) makePKI(dir string) error {
	var err error
	if cp.PKI.CA, err = NewCA(dir, "ca"); err != nil {
		return err
	}
	if cp.PKI.FrontProxyCA, err = NewCA(dir, "front-proxy-ca"); err != nil {
		return err
	}
	if cp.PKI.FrontProxyClient, err = cp.PKI.FrontProxyCA.Issue(dir, "front-proxy-client", CertOptions{CommonName: FrontProxyClientName, Client: true}); err != nil {
		return err
	}
	cp.PKI.ServiceAccountKey, cp.PKI.ServiceAccountPub, err = NewServiceAccountKey(dir)
	return err
}

func (cp *ControlPlane) startEtcd(ctx context.Context, binary string, opts Options) error {
	// A start that lost its port may have begun a data directory for the
	// peer URL it could not bind.
	if err := os.RemoveAll(filepath.Join(cp.Dir, "etcd")); err != nil {
		return err
	}
	clientPort, err := testutil.FreePort()
	if err != nil {
		return err
	}
	peerPort, err := testutil.FreePort()
	if err != nil {
		return err
	}
	cp.EtcdURL = fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	args := []string{
		"--name=default",
		"--data-dir=" + filepath.Join(cp.Dir, "etcd"),
		"--listen-client-urls=" + cp.EtcdURL,
		"--advertise-client-urls=" + cp.EtcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		"--log-level=warn",
	}
	if opts.EtcdQuotaBytes > 0 {
		args = append(args, "--quota-backend-bytes="+strconv.FormatInt(opts.EtcdQuotaBytes, 10))
	}
	if opts.EtcdUnsafeNoFsync {
		args = append(args, "--unsafe-no-fsync")
	}
	if cp.Etcd, err = StartProcess(cp.Dir, "etcd", binary, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return cp.Etcd.WaitFor(ctx, "etcd health", func(ctx context.Context) error {
		return testutil.GetOK(ctx, cp.EtcdURL+"/health", `"health":"true"`)
	})
}

func (cp *ControlPlane) startAPIServer(ctx context.Context, binary string, opts Options) error {
	pkiDir := filepath.Join(cp.Dir, "pki")
	port, err := testutil.FreePort()
	if err != nil {
		return err
	}
	cp.APIServerURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	serving, err := cp.PKI.CA.Issue(pkiDir, "apiserver", CertOptions{
		CommonName: "kube-apiserver",
		DNSNames:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
		Server:     true,
	})
	if err != nil {
		return err
	}
	admin, err := cp.PKI.CA.Issue(pkiDir, "admin", CertOptions{CommonName: "admin", Organizations: []string{"system:masters"}, Client: true})
	if err != nil {
		return err
	}
	args := []string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--etcd-servers=" + cp.EtcdURL,
		"--tls-cert-file=" + serving.CertFile,
		"--tls-private-key-file=" + serving.KeyFile,
		"--client-ca-file=" + cp.PKI.CA.CertFile,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + cp.PKI.ServiceAccountPub,
		"--service-account-signing-key-file=" + cp.PKI.ServiceAccountKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=Node,RBAC",
		// As hardened clusters do: setting blockOwnerDeletion needs
		// update on the owner's finalizers, which keeps RBAC honest.
		"--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
		// The aggregation layer: kube-apiserver proxies to aggregated servers
		// with this client certificate and identifies the user in headers.
		"--requestheader-client-ca-file=" + cp.PKI.FrontProxyCA.CertFile,
		"--requestheader-allowed-names=" + FrontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-uid-headers=X-Remote-Uid",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + cp.PKI.FrontProxyClient.CertFile,
		"--proxy-client-key-file=" + cp.PKI.FrontProxyClient.KeyFile,
		// pods/log, exec and port-forward go to a node's kubelet API.
		// Without a CA kube-apiserver does not verify the kubelet's
		// serving certificate; the cluster CA signs it (the local stack
		// issues kwok's), so verify it.
		"--kubelet-certificate-authority=" + cp.PKI.CA.CertFile,
		"--v=1",
	}
	args = append(args, opts.ExtraAPIServerArgs...)
	if cp.APIServer, err = StartProcess(cp.Dir, "kube-apiserver", binary, args); err != nil {
		return err
	}

	cp.Config = &rest.Config{
		Host:            cp.APIServerURL,
		TLSClientConfig: rest.TLSClientConfig{CAFile: cp.PKI.CA.CertFile, CertFile: admin.CertFile, KeyFile: admin.KeyFile},
		QPS:             -1, // no client-side rate limit in tests and tools
	}
	cp.Kubeconfig = filepath.Join(cp.Dir, "admin.kubeconfig")
	if err := WriteKubeconfig(cp.Kubeconfig, cp.Config, "admin"); err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	return cp.APIServer.WaitFor(ctx, "kube-apiserver /readyz", func(ctx context.Context) error {
		_, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

// Stop stops kube-apiserver, then etcd.
func (cp *ControlPlane) Stop() {
	if cp.APIServer != nil {
		_ = cp.APIServer.Stop(30 * time.Second)
	}
	if cp.Etcd != nil {
		_ = cp.Etcd.Stop(30 * time.Second)
	}
}

// WriteKubeconfig writes a kubeconfig for cfg with one context named name.
// Certificate files are embedded, so the kubeconfig can be copied elsewhere.
func WriteKubeconfig(path string, cfg *rest.Config, name string) error {
	c := clientcmdapi.NewConfig()
	c.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthority: cfg.CAFile}
	c.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificate: cfg.CertFile, ClientKey: cfg.KeyFile, Token: cfg.BearerToken}
	c.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	c.CurrentContext = name
	if err := clientcmdapi.FlattenConfig(c); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*c, path)
}
