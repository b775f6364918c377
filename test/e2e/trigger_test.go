package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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

	bindRole(t, ns, "tess", "sluice-view")
	triggers := sluiceAs(t, "tess").Triggers(ns)
	list := afterRBAC(t, "tess lists triggers", func(ctx context.Context) (*v1alpha1.TriggerList, error) {
		return triggers.List(ctx, metav1.ListOptions{})
	})
	require.Len(t, list.Items, 1)
	_, err = triggers.Create(testContext(t), tr.DeepCopy(), metav1.CreateOptions{})
	requireStatus(t, 403, err, "a viewer creating a trigger")
}
