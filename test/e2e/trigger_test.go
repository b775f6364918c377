package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// TestTriggerResource: the Trigger kind as a user meets it through
// kube-apiserver: applied from YAML with its defaults and the server's
// pipeline label, printed with the server's columns, explained, refused
// with field paths, in `kubectl get sluice`, and readable but not writable
// with sluice-view.
func TestTriggerResource(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "trigger")
	kubectlIn(t, `
apiVersion: sluice.dev/v1alpha1
kind: Trigger
metadata: {name: nightly}
spec:
  pipelineRef: {name: release}
  environment: staging
  params:
  - {name: when, value: "$(schedule.time)"}
  schedule: {cron: "0 3 * * 1-5", timeZone: Europe/Berlin, startingDeadlineSeconds: 600}
`, "-n", ns, "apply", "-f", "-")
	tr, err := sluiceAdmin(t).SluiceV1alpha1().Triggers(ns).Get(testContext(t), "nightly", metav1.GetOptions{})
	require.NoError(t, err)
	require.NotNil(t, tr.Spec.Schedule.CatchUp)
	require.EqualValues(t, 1, *tr.Spec.Schedule.CatchUp, "catchUp defaults to the latest missed slot")
	require.Equal(t, "release", tr.Labels[v1alpha1.LabelPipeline])

	table := lines(kubectl(t, "-n", ns, "get", "triggers"))
	require.Len(t, table, 2)
	require.Equal(t, []string{"NAME", "PIPELINE", "SOURCE", "LAST-FIRED", "LAST-JOB", "NEXT", "READY", "AGE"}, strings.Fields(table[0]))
	require.True(t, strings.HasPrefix(table[1], "nightly"), table[1])
	require.Contains(t, table[1], "schedule 0 3 * * 1-5 Europe/Berlin")
	require.Contains(t, kubectl(t, "-n", ns, "get", "sluice"), "trigger.sluice.dev/nightly")
	require.Contains(t, kubectl(t, "explain", "trigger.spec.schedule.cron"), "cron syntax")

	_, err = kubectlErr(t, `
apiVersion: sluice.dev/v1alpha1
kind: Trigger
metadata: {name: confused}
spec:
  pipelineRef: {name: release}
  params: [{name: tag, value: "$(image.tag)"}]
  schedule: {cron: "@every 30s", timeZone: Mars/Olympus}
  slack: {signingSecretRef: {name: slack, key: signing-secret}}
`, "-n", ns, "create", "-f", "-")
	require.Error(t, err)
	for _, want := range []string{"spec.slack: Forbidden", "spec.schedule.timeZone: Invalid value", "spec.params[0].value: Invalid value"} {
		require.ErrorContains(t, err, want)
	}

	// A job for a trigger's event: named after it, so that the event seen
	// again starts nothing; recorded and labelled with the trigger, which
	// must start that pipeline.
	ctx := testContext(t)
	pipelines := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns)
	_, err = pipelines.Create(ctx, deployPipeline("release", ""), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = pipelines.Create(ctx, deployPipeline("other", ""), metav1.CreateOptions{})
	require.NoError(t, err)
	fired := &v1alpha1.RunRequest{Name: "nightly-1764730800", Params: []v1alpha1.Param{param("version", "nightly")},
		Trigger: &v1alpha1.JobTrigger{Type: v1alpha1.TriggerSchedule, Name: "nightly", Detail: "schedule 0 3 * * 1-5 slot 2026-12-03T04:00:00+01:00"}}
	job, err := pipelines.Run(ctx, "release", fired, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, "nightly-1764730800", job.Name)
	require.Equal(t, *fired.Trigger, job.Spec.Trigger)
	require.Equal(t, "nightly", job.Labels[v1alpha1.LabelTrigger])
	_, err = pipelines.Run(ctx, "release", fired, metav1.CreateOptions{})
	require.True(t, apierrors.IsAlreadyExists(err), "the same event again: %v", err)
	_, err = pipelines.Run(ctx, "other", &v1alpha1.RunRequest{Params: fired.Params, Trigger: fired.Trigger}, metav1.CreateOptions{})
	status := requireStatus(t, 422, err, "a trigger of another pipeline")
	require.Equal(t, "trigger.name", status.ErrStatus.Details.Causes[0].Field)
	require.Contains(t, kubectl(t, "-n", ns, "get", "pipelinejobs", "-l", v1alpha1.LabelTrigger+"=nightly", "-o", "name"), "nightly-1764730800")

	bindRole(t, ns, "tess", "sluice-view")
	triggers := sluiceAs(t, "tess").Triggers(ns)
	list := afterRBAC(t, "tess lists triggers", func(ctx context.Context) (*v1alpha1.TriggerList, error) {
		return triggers.List(ctx, metav1.ListOptions{})
	})
	require.Len(t, list.Items, 1)
	_, err = triggers.Create(testContext(t), tr.DeepCopy(), metav1.CreateOptions{})
	requireStatus(t, 403, err, "a viewer creating a trigger")
}
