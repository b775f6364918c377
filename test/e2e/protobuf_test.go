package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// protobufOnly is the admin's configuration with protobuf as the only
// media type, of requests and of answers: a server that did not speak it
// would answer 415 or 406, where a client that also accepts JSON, as
// sluice-controller and kube-controller-manager do, would fall back
// without a trace.
func protobufOnly() *rest.Config {
	cfg := rest.CopyConfig(stack.Config)
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf
	return cfg
}

// TestProtobuf: sluice.dev speaks protobuf through kube-apiserver, as
// sluice-controller (--kube-api-content-type) and kube-controller-manager's
// metadata clients use it: writes, an action, reads, lists and watches.
func TestProtobuf(t *testing.T) {
	ctx := testContext(t)
	ns := namespace(t, "protobuf")
	c := sluiceFor(t, protobufOnly()).SluiceV1alpha1()

	p, err := c.Pipelines(ns).Create(ctx, pipeline("p", "build", "test"), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Len(t, p.Spec.Steps, 2)
	w, err := c.PipelineJobs(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: p.ResourceVersion})
	require.NoError(t, err)
	defer w.Stop()

	j := job("j", "p")
	j.Spec.Params = []v1alpha1.Param{{Name: "version", Value: "1.2.3"}}
	created, err := c.PipelineJobs(ns).Create(ctx, j, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, "1.2.3", created.Spec.Params[0].Value)
	require.Equal(t, v1alpha1.JobPending, created.Status.Phase)

	got, err := c.PipelineJobs(ns).Get(ctx, "j", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, created.ResourceVersion, got.ResourceVersion)
	require.NotNil(t, got.Spec.StartedBy, "the server recorded who created it")
	require.NotEmpty(t, got.Spec.StartedBy.Username)

	got.Status.Phase = v1alpha1.JobRunning
	updated, err := c.PipelineJobs(ns).UpdateStatus(ctx, got, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, v1alpha1.JobRunning, updated.Status.Phase)

	run, err := c.Pipelines(ns).Run(ctx, "p", &v1alpha1.RunRequest{Environment: "staging"}, metav1.CreateOptions{})
	require.NoError(t, err, "pipelines/run with a protobuf RunRequest")
	require.Equal(t, "staging", run.Spec.Environment)
	require.NotNil(t, run.Spec.StartedBy)

	list, err := c.PipelineJobs(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Items, 2)

	seen := map[string]watch.EventType{}
	deadline := time.After(time.Minute)
	for len(seen) < 2 || seen["j"] != watch.Modified {
		select {
		case ev, ok := <-w.ResultChan():
			require.True(t, ok, "the watch ended")
			obj, isJob := ev.Object.(*v1alpha1.PipelineJob)
			require.True(t, isJob, "a %s event of %T: %v", ev.Type, ev.Object, ev.Object)
			seen[obj.Name] = ev.Type
		case <-deadline:
			t.Fatalf("the watch delivered %v in a minute", seen)
		}
	}

	// kube-controller-manager's garbage collector, quota and namespace
	// controllers read every resource's metadata in protobuf.
	meta, err := metadata.NewForConfig(protobufOnly())
	require.NoError(t, err)
	jobs := meta.Resource(v1alpha1.SchemeGroupVersion.WithResource("pipelinejobs")).Namespace(ns)
	metaList, err := jobs.List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, metaList.Items, 2)
	metaWatch, err := jobs.Watch(ctx, metav1.ListOptions{ResourceVersion: metaList.ResourceVersion})
	require.NoError(t, err)
	defer metaWatch.Stop()
	require.NoError(t, c.PipelineJobs(ns).Delete(ctx, "j", metav1.DeleteOptions{}))
	select {
	case ev := <-metaWatch.ResultChan():
		m, ok := ev.Object.(*metav1.PartialObjectMetadata)
		require.True(t, ok, "a %s event of %T: %v", ev.Type, ev.Object, ev.Object)
		require.Equal(t, watch.Deleted, ev.Type, fmt.Sprintf("%s of %s", ev.Type, m.Name))
		require.Equal(t, "j", m.Name)
	case <-time.After(time.Minute):
		t.Fatal("no metadata watch event in a minute")
	}
}
