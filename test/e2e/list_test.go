package e2e

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// TestPaginationAndSelectors stores 2,000 jobs and checks that a chunked
// kubectl list returns each exactly once, that label and field selectors
// return exactly the right sets, and that a watch from a list's
// resourceVersion sees the next changes and nothing twice.
func TestPaginationAndSelectors(t *testing.T) {
	const n = 2000
	ctx := testContext(t)
	ns := namespace(t, "pages")
	c := sluiceAdmin(t).SluiceV1alpha1()
	for _, name := range []string{"nightly", "release"} {
		_, err := c.Pipelines(ns).Create(ctx, pipeline(name, "build"), metav1.CreateOptions{})
		require.NoError(t, err)
	}

	// Jobs i%4==0 run "release", the rest "nightly"; every 10th is Failed;
	// every 100th carries the label tier=gold.
	want := struct{ release, failed, gold, failedRelease []string }{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				name := fmt.Sprintf("job-%04d", i)
				pl := "nightly"
				if i%4 == 0 {
					pl = "release"
				}
				j := job(name, pl)
				if i%100 == 0 {
					j.Labels["tier"] = "gold"
				}
				created, err := c.PipelineJobs(ns).Create(ctx, j, metav1.CreateOptions{})
				if err != nil {
					t.Errorf("create %s: %v", name, err)
					continue
				}
				if i%10 == 0 {
					created.Status.Phase = v1alpha1.JobFailed
					if _, err := c.PipelineJobs(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
						t.Errorf("status %s: %v", name, err)
					}
				}
				mu.Lock()
				if pl == "release" {
					want.release = append(want.release, name)
				}
				if i%10 == 0 {
					want.failed = append(want.failed, name)
					if pl == "release" {
						want.failedRelease = append(want.failedRelease, name)
					}
				}
				if i%100 == 0 {
					want.gold = append(want.gold, name)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	require.False(t, t.Failed())

	// Every job exactly once, in pages of 100.
	names := lines(kubectl(t, "-n", ns, "get", "pipelinejobs", "--chunk-size=100", "-o", "name"))
	require.Len(t, names, n)
	seen := map[string]bool{}
	for _, name := range names {
		require.False(t, seen[name], "%s listed twice", name)
		seen[name] = true
	}

	getNames := func(args ...string) []string {
		out := lines(kubectl(t, append([]string{"-n", ns, "get", "pipelinejobs", "-o", "custom-columns=:metadata.name", "--no-headers"}, args...)...))
		sort.Strings(out)
		return out
	}
	sorted := func(s []string) []string { sort.Strings(s); return s }
	require.Equal(t, sorted(want.failed), getNames("--field-selector", "status.phase=Failed"))
	require.Equal(t, sorted(want.release), getNames("--field-selector", "spec.pipelineRef.name=release"))
	require.Equal(t, sorted(want.failedRelease), getNames("--field-selector", "status.phase=Failed,spec.pipelineRef.name=release", "--chunk-size=7"))
	require.Equal(t, sorted(want.gold), getNames("-l", "tier=gold"))
	require.Equal(t, sorted(want.release), getNames("-l", "sluice.dev/pipeline=release", "--chunk-size=50"))
	require.Len(t, getNames("-l", "tier!=gold"), n-len(want.gold))
	require.Len(t, getNames("--field-selector", "status.phase!=Failed"), n-len(want.failed))

	// A watch from a list's resourceVersion sees the changes after it,
	// each once.
	list, err := c.PipelineJobs(ns).List(ctx, metav1.ListOptions{Limit: 500})
	require.NoError(t, err)
	w, err := c.PipelineJobs(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	require.NoError(t, err)
	defer w.Stop()
	for i := range 20 {
		_, err := c.PipelineJobs(ns).Create(ctx, job(fmt.Sprintf("late-%02d", i), "nightly"), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	require.NoError(t, c.PipelineJobs(ns).Delete(ctx, "job-0001", metav1.DeleteOptions{}))
	var events []string
	for len(events) < 21 {
		select {
		case ev := <-w.ResultChan():
			j := ev.Object.(*v1alpha1.PipelineJob)
			events = append(events, string(ev.Type)+" "+j.Name)
		case <-ctx.Done():
			t.Fatalf("watch saw %d events: %v", len(events), events)
		}
	}
	require.Equal(t, "DELETED job-0001", events[20])
	for i, e := range events[:20] {
		require.Equal(t, fmt.Sprintf("ADDED late-%02d", i), e)
	}
	// Nothing more arrives: no event twice.
	timeout := time.After(time.Second)
	for {
		select {
		case ev := <-w.ResultChan():
			require.Equal(t, watch.Bookmark, ev.Type, "unexpected extra event %v", ev.Object)
		case <-timeout:
			return
		}
	}
}
