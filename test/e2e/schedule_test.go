package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
	"github.com/sluice-dev/sluice/pkg/trigger/schedule"
)

// TestSchedule (issue 13, scenario 1): an @every 2s Trigger starts jobs
// named after their slots. With two controller replicas, and the leader
// killed in between, every slot runs exactly once: no slot is missing
// (catchUp covers the failover) and none runs twice. Not parallel: it
// kills a controller.
func TestSchedule(t *testing.T) {
	ensureControllers(t, 2)
	ns := namespace(t, "schedule")
	ctx := testContext(t)
	_, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Create(ctx,
		testutil.Pipeline("quick", runStep("a", "KWOK_DURATION", "100ms")), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = sluiceAdmin(t).SluiceV1alpha1().Triggers(ns).Create(ctx, &v1alpha1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: "tick"},
		Spec: v1alpha1.TriggerSpec{
			PipelineRef: v1alpha1.PipelineReference{Name: "quick"},
			// The failover takes a Lease duration: catchUp runs the slots
			// missed meanwhile, so every slot has its job.
			Schedule: &v1alpha1.ScheduleSource{Cron: "@every 2s", CatchUp: ptr.To[int32](100)},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		// Stop the slots before the namespace goes.
		_ = sluiceAdmin(t).SluiceV1alpha1().Triggers(ns).Delete(context.Background(), "tick", metav1.DeleteOptions{})
	})

	jobs := func(ctx context.Context) ([]string, error) {
		list, err := sluiceAdmin(t).SluiceV1alpha1().PipelineJobs(ns).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelTrigger + "=tick"})
		if err != nil {
			return nil, err
		}
		var names []string
		for _, j := range list.Items {
			if j.Spec.Trigger.Type != v1alpha1.TriggerSchedule || j.Spec.Trigger.Name != "tick" {
				return nil, fmt.Errorf("job %s has trigger %+v", j.Name, j.Spec.Trigger)
			}
			names = append(names, j.Name)
		}
		return names, nil
	}
	atLeast := func(n int) {
		t.Helper()
		eventually(t, 2*time.Minute, fmt.Sprintf("%d jobs of the trigger", n), func(ctx context.Context) error {
			names, err := jobs(ctx)
			if err != nil {
				return err
			}
			if len(names) < n {
				return fmt.Errorf("%d jobs: %v", len(names), names)
			}
			return nil
		})
	}

	atLeast(3)
	first := leader(t)
	before, err := jobs(ctx)
	require.NoError(t, err)
	require.NoError(t, first.Kill(), "killed: the Lease is not released and must expire")
	second := leader(t)
	require.NotEqual(t, first, second, "the standby took the Lease over")
	atLeast(len(before) + 3)

	// Every job is one slot, named after it; the slots are 2s apart
	// from the first to the last, with none missing and none twice.
	names, err := jobs(ctx)
	require.NoError(t, err)
	var slots []int64
	for _, name := range names {
		unix, err := strconv.ParseInt(strings.TrimPrefix(name, "tick-"), 10, 64)
		require.NoError(t, err, name)
		require.Equal(t, schedule.SlotName("tick", time.Unix(unix, 0)), name)
		slots = append(slots, unix)
	}
	slices.Sort(slots)
	for i := 1; i < len(slots); i++ {
		require.EqualValues(t, 2, slots[i]-slots[i-1], "consecutive slots of %v", names)
	}
	require.Positive(t, metric(t, second, `sluice_trigger_events_total{result="started",source="schedule"}`), "the new leader fired slots")

	eventually(t, time.Minute, "the trigger's status", func(ctx context.Context) error {
		tr, err := sluiceAdmin(t).SluiceV1alpha1().Triggers(ns).Get(ctx, "tick", metav1.GetOptions{})
		if err != nil {
			return err
		}
		ready := meta.FindStatusCondition(tr.Status.Conditions, "Ready")
		switch {
		case ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != "Scheduled":
			return fmt.Errorf("ready %+v", ready)
		case tr.Status.LastEvent == nil || !strings.HasPrefix(tr.Status.LastEvent.Job, "tick-"):
			return fmt.Errorf("last event %+v", tr.Status.LastEvent)
		case tr.Status.NextScheduleTime == nil || tr.Status.LastScheduleTime == nil:
			return fmt.Errorf("schedule times %v %v", tr.Status.NextScheduleTime, tr.Status.LastScheduleTime)
		case tr.Status.SkippedSlots != 0:
			return fmt.Errorf("%d slots skipped", tr.Status.SkippedSlots)
		}
		return nil
	})
	ensureControllers(t, 2)
}
