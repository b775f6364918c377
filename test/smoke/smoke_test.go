// Package smoke proves the toolchain works: the pinned etcd and
// kube-apiserver from bin/ start and serve, and the PostgreSQL helper gives a
// test a working database.
package smoke

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/sluice-dev/sluice/pkg/testing/controlplane"
	"github.com/sluice-dev/sluice/pkg/testing/postgres"
)

func TestMain(m *testing.M) { os.Exit(postgres.RunMain(m)) }

func TestControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cp, err := controlplane.Start(ctx, controlplane.Options{Dir: t.TempDir(), EtcdUnsafeNoFsync: true})
	require.NoError(t, err)
	t.Cleanup(cp.Stop)

	client, err := kubernetes.NewForConfig(cp.Config)
	require.NoError(t, err)
	v, err := client.Discovery().ServerVersion()
	require.NoError(t, err)
	require.Equal(t, "v1.36.3", v.GitVersion, "kube-apiserver must be stamped with its real version")

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "smoke"}}
	_, err = client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	require.NoError(t, err)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "smoke"}, Data: map[string]string{"k": "v"}}
	_, err = client.CoreV1().ConfigMaps("smoke").Create(ctx, cm, metav1.CreateOptions{})
	require.NoError(t, err)
	got, err := client.CoreV1().ConfigMaps("smoke").Get(ctx, "hello", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "v", got.Data["k"])
}

func TestPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, postgres.NewDatabase(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var version int
	require.NoError(t, conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version))
	require.GreaterOrEqual(t, version, 150000)
}
