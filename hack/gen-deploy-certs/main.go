// Command gen-deploy-certs writes a CA and a serving certificate for
// sluice-apiserver into artifacts/deploy/base/certs/, where the kustomization
// turns them into the server's TLS secret and the APIService's caBundle.
// The directory is ignored by git; run this once per cluster.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-dev/sluice/pkg/testing/controlplane"
)

func main() {
	dir := flag.String("dir", "artifacts/deploy/base/certs", "where to write ca.crt, tls.crt and tls.key")
	namespace := flag.String("namespace", "sluice-system", "namespace of the sluice-apiserver Service")
	flag.Parse()
	if err := run(*dir, *namespace); err != nil {
		fmt.Fprintf(os.Stderr, "gen-deploy-certs: %v\n", err)
		os.Exit(1)
	}
}

func run(dir, namespace string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := controlplane.NewCA(dir, "ca")
	if err != nil {
		return err
	}
	svc := "sluice-apiserver." + namespace + ".svc"
	if _, err := ca.Issue(dir, "tls", controlplane.CertOptions{
		CommonName: svc,
		DNSNames:   []string{"sluice-apiserver", "sluice-apiserver." + namespace, svc, svc + ".cluster.local"},
		Server:     true,
	}); err != nil {
		return err
	}
	// The CA key is not needed once the certificate is signed.
	if err := os.Remove(filepath.Join(dir, "ca.key")); err != nil {
		return err
	}
	fmt.Printf("wrote %s/{ca.crt,tls.crt,tls.key} for %s\n", dir, svc)
	return nil
}
