package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/apiserver"
	"github.com/sluice-dev/sluice/pkg/registry/pipelinejob"
	"github.com/sluice-dev/sluice/pkg/testing/localstack"
)

// TestHugeRunsEveryPhase runs the huge scale's whole flow at 2,000 jobs on
// a real stack, as make bench BENCH_SCALE=huge runs it at 10 million: the
// bulk load, every measurement through kube-apiserver, the plan of a
// history page and the report. The numbers are not asserted; that every
// job is stored, and that the lists return what they select, are.
func TestHugeRunsEveryPhase(t *testing.T) {
	out := t.TempDir()
	cfg := config{scale: hugeScale, objects: []int{2000}, gets: 100, selectorLists: 3,
		memoryLimit: 16 << 30, stackDir: testStacks(t, "bench-test-huge"), out: out}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := measureHuge(ctx, cfg)
	require.NoError(t, err)

	assert.Equal(t, 2000, res.Stored)
	assert.Equal(t, 2000, res.Load.Requests)
	assert.Zero(t, res.Load.Errors)
	assert.Positive(t, res.LoadCPUSeconds["postgres"], "the load's CPU time is read")
	// A tenth finished, a tenth of those failed, by the hash of hugeKind.
	assert.InDelta(t, 200, res.Finished, 60)
	assert.InDelta(t, 20, res.Failed, 15)
	assert.Equal(t, 3, res.LabelList.Latency.Count)
	assert.Zero(t, res.LabelList.Errors)
	assert.Equal(t, 100, res.Gets.Latency.Count)
	assert.Zero(t, res.Gets.Errors)
	// 2,000 jobs in 1,000 pipelines: a history is one page of two.
	assert.Equal(t, 3, res.HistoryFirst.Latency.Count)
	assert.Equal(t, 3, res.FailedList.Latency.Count)
	assert.Zero(t, res.FailedList.Errors)
	for _, k := range []string{"sluice-apiserver before the load", "sluice-apiserver after the load", "sluice-apiserver after the measurements", "postgres"} {
		assert.Positivef(t, res.Memory[k].RSS, "memory of %s", k)
	}
	assert.Positive(t, res.DBBytes["database"])
	assert.Positive(t, res.DBBytes["kv"])
	assert.Less(t, res.DBBytes["kv"], res.DBBytes["database"])
	for _, kind := range []string{hugePending, hugeSucceeded, hugeFailed} {
		assert.Positivef(t, res.ObjectBytes[kind], "stored size of a %s job", kind)
	}
	assert.Greater(t, res.ObjectBytes[hugeSucceeded], res.ObjectBytes[hugePending], "a status is stored")

	plan, err := os.ReadFile(filepath.Join(out, "explain-history-2000.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(plan), "Execution Time")
	assert.Contains(t, string(plan), "fields ->> 'spec.pipelineRef.name'", "the field selector is in the SQL")
	assert.NotEmpty(t, res.HistoryPlan)

	require.NoError(t, writeHugeResults(res, out, false))
	md, err := os.ReadFile(filepath.Join(out, "huge-results.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "2,000 jobs")
	assert.Contains(t, string(md), "history of one pipeline, first page")
	assert.NotContains(t, string(md), "NaN")
	assert.NotContains(t, string(md), "The run failed")
	_, err = os.Stat(filepath.Join(out, "huge-results.json"))
	assert.NoError(t, err)
}

// TestHugeLoaderStoresWhatTheAPIStores creates jobs of each kind through
// kube-apiserver (and writes the status of the finished ones, as a
// controller does), builds the same jobs as the loader does, stores them
// through its Store under another name, and requires that each reads back
// equal to the one the API stored, but for what differs between any two
// creates: name, UID, times and resourceVersion.
func TestHugeLoaderStoresWhatTheAPIStores(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stack, err := localstack.Start(ctx, localstack.Options{Dir: filepath.Join(testStacks(t, "bench-test-huge-loader"), "stack"),
		RepoRoot: root, APIOnly: true})
	require.NoError(t, err)
	t.Cleanup(stack.Stop)
	kube, err := kubernetes.NewForConfig(stack.Config)
	require.NoError(t, err)
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}, metav1.CreateOptions{})
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(stack.Config)
	require.NoError(t, err)
	client := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("pipelinejobs")).Namespace(benchNamespace)

	conn, err := pgx.Connect(ctx, stack.DatabaseURL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })

	const n = 1000
	loader, err := newHugeLoader(ctx, stack.DatabaseURL, n)
	require.NoError(t, err)
	t.Cleanup(loader.close)
	require.NoError(t, loader.createSamples(ctx, client))
	require.Len(t, loader.templates, 3)

	// Jobs that are not samples: a few of each kind.
	samples := map[int]bool{}
	for _, i := range hugeSamples(n) {
		samples[i] = true
	}
	byKind := map[string][]int{}
	for i := 0; i < n; i++ {
		if k := hugeKind(i); !samples[i] && len(byKind[k]) < 2 {
			byKind[k] = append(byKind[k], i)
		}
	}
	now := time.Now()
	strategy := pipelinejob.NewStrategy(apiserver.Scheme)
	for kind, indices := range byKind {
		require.Lenf(t, indices, 2, "jobs of kind %s", kind)
		for _, i := range indices {
			u := loader.hugeJob(i)
			created, err := client.Create(ctx, u, metav1.CreateOptions{})
			require.NoError(t, err)
			if kind != hugePending {
				created.Object["status"] = hugeStatus(u, kind, now)
				_, err := client.UpdateStatus(ctx, created, metav1.UpdateOptions{})
				require.NoError(t, err)
			}
			viaAPI, err := loader.get(ctx, u.GetName())
			require.NoError(t, err)

			built, builtKind, err := loader.build(ctx, i, now)
			require.NoError(t, err)
			require.Equal(t, kind, builtKind)
			assert.Empty(t, strategy.Validate(ctx, built), "the loaded job is valid")
			built.Name += "-loaded"
			key, err := loader.keyFunc(genericapirequest.WithNamespace(ctx, benchNamespace), built.Name)
			require.NoError(t, err)
			require.NoError(t, loader.store.Create(ctx, key, built, &sluice.PipelineJob{}, 0))
			loaded, err := loader.get(ctx, built.Name)
			require.NoError(t, err)

			for _, j := range []*sluice.PipelineJob{viaAPI, loaded} {
				j.Name = strings.TrimSuffix(j.Name, "-loaded")
				j.UID, j.ResourceVersion, j.CreationTimestamp = "", "", metav1.Time{}
				for k := range j.ManagedFields {
					j.ManagedFields[k].Time = nil
				}
				j.Status.SubmitTime = nil
			}
			assert.Equalf(t, viaAPI, loaded, "job %d (%s): the loaded job is the one the API stored", i, kind)
			// The rows too: the same labels and selectable fields beside
			// the value, and a value in the same encoding (JSON, protobuf
			// and CBOR differ in their first bytes), so a change in how
			// sluice-apiserver wires its storage that the loader misses
			// fails here, even where both decode alike.
			var apiRow, loadedRow struct {
				labels, fields string
				head           []byte
			}
			for _, r := range []struct {
				name string
				row  *struct {
					labels, fields string
					head           []byte
				}
			}{{u.GetName(), &apiRow}, {u.GetName() + "-loaded", &loadedRow}} {
				require.NoError(t, conn.QueryRow(ctx, "SELECT coalesce(labels::text, ''), coalesce(fields::text, ''), substring(value from 1 for 8) FROM sluice.kv WHERE key = $1",
					loader.prefix+r.name).Scan(&r.row.labels, &r.row.fields, &r.row.head))
			}
			loadedRow.fields = strings.ReplaceAll(loadedRow.fields, u.GetName()+"-loaded", u.GetName())
			assert.Equalf(t, apiRow, loadedRow, "job %d (%s): the loaded row is the one the API stored", i, kind)
			assert.Equal(t, loader.hugeJob(i).GetLabels()[v1alpha1.LabelPipeline], loaded.Spec.PipelineRef.Name)
		}
	}
}
