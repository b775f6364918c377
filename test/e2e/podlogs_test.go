package e2e

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/localstack"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// These tests check what the stack gives the log work: `kubectl logs` and
// pods/log on a step Pod reach kwok's kubelet API through kube-apiserver,
// and return the output a test sets with Stack.SetContainerLogs.

// logStep is a step of two actions with names of their own, init then main
// container; env goes on the main container, which the kwok Stages read.
func logStep(name, initAction, mainAction string, env ...string) v1alpha1.Step {
	s := runStep(name, env...)
	s.Actions[0].Name, s.Actions[1].Name = initAction, mainAction
	return s
}

// podLog is a container's log through kube-apiserver's pods/log, with
// the clientset.
func podLog(t *testing.T, ns, pod string, opts *corev1.PodLogOptions) string {
	t.Helper()
	b, err := kube(t).CoreV1().Pods(ns).GetLogs(pod, opts).DoRaw(testContext(t))
	require.NoError(t, err, "log of %s/%s container %s", ns, pod, opts.Container)
	return string(b)
}

// text is the output of lines, as pods/log serves it without timestamps.
func logText(lines []localstack.LogLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

// TestPodLogs: a job of two steps of two actions each; every action's
// container, init or main, prints exactly the lines set for it, through
// `kubectl logs` and the clientset, with the times set or stamped; a
// follower sees a line appended; a Pod of a namespace nobody configured
// has empty logs.
func TestPodLogs(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "podlogs")
	quiet := namespace(t, "podlogs-quiet")

	// Times of the test's choosing, two hours ago, for the timestamps; the
	// other lines are stamped when set.
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Second).Add(891011 * time.Microsecond)
	logs := map[string][]localstack.LogLine{
		"checkout": localstack.Lines("Cloning into '/workspace/src'...", "HEAD is now at 4f2a9c1 release v1.4.2"),
		"compile": {
			{Time: t0, Text: "go build ./..."},
			{Time: t0.Add(1500 * time.Millisecond), Text: "built web in 1.5s"},
		},
		"fetch": localstack.Lines("go: downloading github.com/example/lib v1.2.0"),
		"unit":  localstack.Lines("=== RUN   TestServe", "--- PASS: TestServe (0.01s)", "PASS", "ok  \texample.com/web\t0.012s"),
	}
	require.NoError(t, stack.SetContainerLogs(ctx, ns, logs))

	steps := []v1alpha1.Step{
		logStep("build", "checkout", "compile", "KWOK_DURATION", "200ms"),
		logStep("test", "fetch", "unit", "KWOK_DURATION", "200ms"),
	}
	// The Pods stay after the job, for kubectl logs.
	p := testutil.Pipeline("web", steps...)
	p.Spec.PodRetention = v1alpha1.PodRetentionNever
	createPipelineAndJob(t, ns, p, testutil.Job("web-1", "web"))
	createPipelineAndJob(t, quiet, p.DeepCopy(), testutil.Job("web-1", "web"))
	j := waitJob(t, ns, "web-1", v1alpha1.JobSucceeded, 2*time.Minute)
	waitJob(t, quiet, "web-1", v1alpha1.JobSucceeded, 2*time.Minute)

	for i, st := range j.Status.Steps {
		pod := st.PodName
		require.Equal(t, "web-1-"+steps[i].Name+"-1", pod)
		for _, a := range steps[i].Actions {
			want := logText(logs[a.Name])
			require.Equal(t, want, kubectl(t, "-n", ns, "logs", pod, "-c", a.Name), "kubectl logs %s -c %s", pod, a.Name)
			require.Equal(t, want, podLog(t, ns, pod, &corev1.PodLogOptions{Container: a.Name}), "pods/log %s container %s", pod, a.Name)
		}
	}
	// `kubectl logs --all-containers` has both, each line prefixed with its
	// container (kubectl takes the containers in no defined order).
	var want []string
	for _, c := range []string{"checkout", "compile"} {
		for _, l := range logs[c] {
			want = append(want, "[pod/web-1-build-1/"+c+"] "+l.Text)
		}
	}
	require.ElementsMatch(t, want, lines(kubectl(t, "-n", ns, "logs", "web-1-build-1", "--all-containers", "--prefix")))

	// Timestamps are the lines' own: the chosen ones as set (a kubelet
	// prints nine digits of fraction), the others increasing, line after
	// line; sinceTime and sinceSeconds select by them, as tailLines by
	// count.
	const kubeletTime = "2006-01-02T15:04:05.000000000Z07:00"
	require.Equal(t,
		t0.UTC().Format(kubeletTime)+" go build ./...\n"+t0.Add(1500*time.Millisecond).UTC().Format(kubeletTime)+" built web in 1.5s\n",
		kubectl(t, "-n", ns, "logs", "web-1-build-1", "-c", "compile", "--timestamps"))
	require.Equal(t, "built web in 1.5s\n",
		kubectl(t, "-n", ns, "logs", "web-1-build-1", "-c", "compile", "--since-time="+t0.Add(time.Second).UTC().Format(time.RFC3339)))
	require.Empty(t, kubectl(t, "-n", ns, "logs", "web-1-build-1", "-c", "compile", "--since=1h"))
	require.Equal(t, logText(logs["unit"]), kubectl(t, "-n", ns, "logs", "web-1-test-1", "-c", "unit", "--since=1h"))
	stamped := stampedLines(t, kubectl(t, "-n", ns, "logs", "web-1-test-1", "-c", "unit", "--timestamps"))
	require.Len(t, stamped, 4)
	for i := 1; i < len(stamped); i++ {
		require.True(t, stamped[i].After(stamped[i-1]), "line %d is stamped %s, after line %d's %s", i, stamped[i], i-1, stamped[i-1])
	}
	require.Equal(t, "PASS\nok  \texample.com/web\t0.012s\n", podLog(t, ns, "web-1-test-1", &corev1.PodLogOptions{Container: "unit", TailLines: ptr.To[int64](2)}))

	t.Run("follow", func(t *testing.T) {
		followCtx, stop := context.WithCancel(ctx)
		defer stop()
		stream, err := kube(t).CoreV1().Pods(ns).GetLogs("web-1-test-1", &corev1.PodLogOptions{Container: "unit", Follow: true, Timestamps: true}).Stream(followCtx)
		require.NoError(t, err)
		defer stream.Close()
		followed := make(chan string)
		go func() {
			defer close(followed)
			sc := bufio.NewScanner(stream)
			for sc.Scan() {
				select {
				case followed <- sc.Text():
				case <-followCtx.Done():
					return
				}
			}
		}()
		next := func(what string) string {
			t.Helper()
			select {
			case l, ok := <-followed:
				require.True(t, ok, "the stream ended before %s", what)
				return l
			case <-time.After(30 * time.Second):
				t.Fatalf("no %s within 30s", what)
				return ""
			}
		}
		var last string
		for i, l := range logs["unit"] {
			last = next(fmt.Sprintf("line %d", i))
			require.True(t, strings.HasSuffix(last, " "+l.Text), "line %d: %q", i, last)
		}
		require.NoError(t, stack.AppendContainerLog(ns, "unit", localstack.Lines("coverage: 81.2% of statements")...))
		appended := next("the appended line")
		require.True(t, strings.HasSuffix(appended, " coverage: 81.2% of statements"), appended)
		require.True(t, stampedLines(t, appended)[0].After(stampedLines(t, last)[0]), "the appended line %q is not stamped after %q", appended, last)
	})

	// Setting the namespace's output again replaces it, appended lines
	// and all: a container no line is set for prints nothing, and
	// appending to it is an error rather than output nobody reads.
	delete(logs, "fetch")
	require.NoError(t, stack.SetContainerLogs(ctx, ns, logs))
	require.Empty(t, kubectl(t, "-n", ns, "logs", "web-1-test-1", "-c", "fetch"))
	require.Equal(t, logText(logs["unit"]), kubectl(t, "-n", ns, "logs", "web-1-test-1", "-c", "unit"))
	require.ErrorContains(t, stack.AppendContainerLog(ns, "fetch", localstack.Lines("x")...), "no output is set")

	// Every container of a namespace nobody configured prints nothing, as
	// one that wrote nothing does on a kubelet, rather than failing.
	for _, st := range steps {
		for _, a := range st.Actions {
			require.Empty(t, kubectl(t, "-n", quiet, "logs", "web-1-"+st.Name+"-1", "-c", a.Name))
			require.Empty(t, podLog(t, quiet, "web-1-"+st.Name+"-1", &corev1.PodLogOptions{Container: a.Name}))
		}
	}
}

// stampedLines parses the timestamps of `--timestamps` output.
func stampedLines(t *testing.T, out string) []time.Time {
	t.Helper()
	var times []time.Time
	for _, l := range lines(out) {
		stamp, _, ok := strings.Cut(l, " ")
		require.True(t, ok, l)
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		require.NoError(t, err, l)
		times = append(times, ts)
	}
	return times
}
