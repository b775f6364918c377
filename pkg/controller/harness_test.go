package controller

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubeinformers "k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/egress"
	sluicefake "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/fake"
	sluiceinformers "github.com/sluice-dev/sluice/pkg/generated/informers/externalversions"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

const ns = "team-a"

// harness is a controller on fake clientsets with a fake clock. Tests call
// sync directly and play the kubelet by setting Pod statuses.
type harness struct {
	t        *testing.T
	ctx      context.Context
	kube     *kubefake.Clientset
	sluice   *sluicefake.Clientset
	c        *Controller
	clock    *clocktesting.FakeClock
	recorder *record.FakeRecorder
	notifier *Notifier
	queue    *countingQueue
	// user is who the fake API server authenticates the controller as: it
	// records them as the canceller of the jobs the controller cancels.
	user string
	// copier stands for pods/log and pipelinejobs/log (see fakeCopier).
	copier *fakeCopier
	// holdLogs stops sync from running the copies the controller asked
	// for; tests of the archive run them with copyLogs.
	holdLogs bool
	// timeline records, in order, the copies and the Pod deletions.
	timeline *timeline
	// flushes counts the markers flushInformers has created.
	flushes int
}

// flushInformers returns once the job and Pod informers have handed their
// handlers every notification of what was written before the call. The
// caches hold a write before the handlers hear of it, so a test that
// counts the job's wake-ups must not start counting while a notification
// of an earlier write is still on its way. Each informer notifies its
// handlers in order: once a marker job, and a marker Pod it controls,
// have both woken the marker job, everything written before them has
// been handled.
func (h *harness) flushInformers() {
	h.t.Helper()
	h.flushes++
	name := fmt.Sprintf("flush-%d", h.flushes)
	h.createJob(jobOf(name, "flush"))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name + "-pod", Namespace: ns,
		Labels:          map[string]string{v1alpha1.LabelJob: name},
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(h.job(name), v1alpha1.SchemeGroupVersion.WithKind("PipelineJob"))},
	}}
	_, err := h.kube.CoreV1().Pods(ns).Create(h.ctx, pod, metav1.CreateOptions{})
	require.NoError(h.t, err)
	h.eventually("the informers' earlier notifications", func() bool { return h.queue.added(ns+"/"+name) >= 2 })
}

// controllerUser is the controller's identity on a real cluster.
const controllerUser = "system:serviceaccount:sluice-system:sluice-controller"

func newHarness(t *testing.T, objects ...runtime.Object) *harness {
	return newHarnessWith(t, kubefake.NewClientset(), sluicefake.NewClientset(objects...))
}

// timeline is the order of events that a test asserts across clients.
type timeline struct {
	mu     sync.Mutex
	events []string
}

func (tl *timeline) add(e string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.events = append(tl.events, e)
}

func (tl *timeline) get() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.events)
}

// versionedClients are the fake clientsets serveResourceVersions serves.
var versionedClients sync.Map

// newHarnessWith starts a controller on existing fake clients: a second
// harness on the same clients is a restarted controller.
func newHarnessWith(t *testing.T, kube *kubefake.Clientset, sluice *sluicefake.Clientset) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, kube: kube, sluice: sluice,
		clock:    clocktesting.NewFakeClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)),
		recorder: record.NewFakeRecorder(1000),
		user:     controllerUser,
	}
	// Like the apiserver, keep pipelines' resourceVersions, so that a
	// status write from a stale copy fails instead of losing an update;
	// once per clientset, which a restarted controller shares.
	if _, done := versionedClients.LoadOrStore(sluice, true); !done {
		serveResourceVersions(sluice, "pipelines")
	}
	// Like the apiserver, stamp new Pods with their creation time.
	kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		pod.CreationTimestamp = metav1.NewTime(h.clock.Now())
		return false, nil, nil
	})
	// Like the apiserver, serve pipelinejobs/cancel, and keep the Archived
	// log states it records in every status write.
	sluice.PrependReactor("create", "pipelinejobs", h.cancelReactor)
	sluice.PrependReactor("update", "pipelinejobs", h.statusReactor)
	h.timeline = &timeline{}
	kube.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		h.timeline.add("delete " + a.(k8stesting.DeleteAction).GetName())
		return false, nil, nil
	})
	h.copier = &fakeCopier{t: t, kube: kube, sluice: sluice, timeline: h.timeline}
	h.notifier = NewNotifier(kube, NotifierOptions{Clock: h.clock, Backoff: time.Millisecond, MaxAttempts: 3, Timeout: 5 * time.Second,
		Egress: loopbackEgress(t)})
	kubeInformers := kubeinformers.NewSharedInformerFactoryWithOptions(kube, 0, kubeinformers.WithTweakListOptions(InformerTweak))
	sluiceInformers := sluiceinformers.NewSharedInformerFactory(sluice, 0)
	c, err := New(kube, sluice, kubeInformers, sluiceInformers, h.recorder, h.notifier, h.copier,
		Options{RetryBackoff: 10 * time.Second, MaxRetryBackoff: time.Minute, Clock: h.clock, Egress: loopbackEgress(t)})
	require.NoError(t, err)
	// Count what is added to the workqueue; the informers are not started
	// yet, so every Add goes through the counter.
	h.queue = &countingQueue{TypedRateLimitingInterface: c.queue, adds: map[string]int{}, after: map[string][]time.Duration{}}
	c.queue = h.queue
	h.c = c
	kubeInformers.Start(ctx.Done())
	sluiceInformers.Start(ctx.Done())
	for _, synced := range c.hasSynced {
		require.Eventually(t, synced, 10*time.Second, time.Millisecond)
	}
	return h
}

// loopbackEgress is an egress policy that allows the loopback addresses
// the tests' httptest servers listen on, which egress.Default() refuses.
func loopbackEgress(t *testing.T) *egress.Policy {
	p, err := egress.Parse([]string{"127.0.0.0/8", "::1/128"}, nil)
	require.NoError(t, err)
	return p
}

// replaceNotifier gives the controller a new Notifier with options o, as
// the controller's command would build it.
func (h *harness) replaceNotifier(o NotifierOptions) *Notifier {
	n := NewNotifier(h.kube, o)
	n.onResult = h.c.enqueueKey
	h.c.notifier, h.notifier = n, n
	return n
}

// eventually waits for cond, for informer caches to catch up.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	require.Eventually(h.t, cond, 10*time.Second, time.Millisecond, what)
}

func (h *harness) createPipeline(p *v1alpha1.Pipeline) {
	h.t.Helper()
	p.Namespace = ns
	if p.Spec.ConcurrencyPolicy == "" {
		p.Spec.ConcurrencyPolicy = v1alpha1.AllowConcurrent
	}
	_, err := h.sluice.SluiceV1alpha1().Pipelines(ns).Create(h.ctx, p, metav1.CreateOptions{})
	require.NoError(h.t, err)
	h.eventually("pipeline in cache", func() bool { _, err := h.c.pipelines.Pipelines(ns).Get(p.Name); return err == nil })
}

// createJob creates a job as the apiserver would: Pending, labelled, with
// a UID and, unless the test set one, the submit time of now.
func (h *harness) createJob(j *v1alpha1.PipelineJob) {
	h.t.Helper()
	j.Namespace = ns
	j.UID = types.UID("uid-" + j.Name)
	j.Generation = 1
	if j.Status.Phase == "" {
		j.Status.Phase = v1alpha1.JobPending
	}
	if j.Status.SubmitTime == nil {
		now := metav1.NewMicroTime(h.clock.Now())
		j.Status.SubmitTime = &now
	}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	if j.Spec.PipelineRef != nil {
		j.Labels[v1alpha1.LabelPipeline] = j.Spec.PipelineRef.Name
	}
	if j.Spec.Environment != "" {
		j.Labels[v1alpha1.LabelEnvironment] = j.Spec.Environment
	}
	_, err := h.sluice.SluiceV1alpha1().PipelineJobs(ns).Create(h.ctx, j, metav1.CreateOptions{})
	require.NoError(h.t, err)
	h.eventually("job in cache", func() bool { _, err := h.c.jobs.PipelineJobs(ns).Get(j.Name); return err == nil })
}

// sync runs one sync of the job and waits until the caches hold what it
// wrote. Unless the test holds the logs (holdLogs), it then runs the
// copies of actions' output that the sync asked for, which the fake server
// records Archived, and syncs again as that status write would make the
// controller do, until no copy is asked for.
func (h *harness) sync(name string) *v1alpha1.PipelineJob {
	h.t.Helper()
	for {
		stored := h.syncOnce(name)
		if h.holdLogs || h.copyLogs() == 0 {
			return stored
		}
		h.waitJobCache(name)
	}
}

// syncOnce runs exactly one sync of the job and waits for the caches.
func (h *harness) syncOnce(name string) *v1alpha1.PipelineJob {
	h.t.Helper()
	require.NoError(h.t, h.c.sync(h.ctx, ns+"/"+name))
	stored := h.waitJobCache(name)
	h.syncPodCache()
	return stored
}

// waitJobCache waits until the job cache holds the job as the API has it,
// and returns it.
func (h *harness) waitJobCache(name string) *v1alpha1.PipelineJob {
	h.t.Helper()
	stored := h.job(name)
	// The fake clientset keeps no resourceVersions: compare contents.
	h.eventually("job status in cache", func() bool {
		cached, err := h.c.jobs.PipelineJobs(ns).Get(name)
		return err == nil && apiequality.Semantic.DeepEqual(cached.Status, stored.Status) && apiequality.Semantic.DeepEqual(cached.Spec, stored.Spec)
	})
	return stored
}

// copyLogs runs the copies in the controller's copy queue that are due,
// one after the other, as its copy workers would, and returns how many
// it ran. It waits until the job cache holds the jobs the copies changed.
func (h *harness) copyLogs() int {
	h.t.Helper()
	made := len(h.copier.made())
	n := 0
	for h.c.copies.queue.Len() > 0 {
		require.True(h.t, h.c.processNextCopy(h.ctx))
		n++
	}
	jobs := map[string]bool{}
	for _, c := range h.copier.made()[made:] {
		jobs[c.Job] = true
	}
	for name := range jobs {
		h.waitJobCache(name)
	}
	return n
}

// syncPodCache waits until the Pod cache matches the fake API.
func (h *harness) syncPodCache() {
	h.t.Helper()
	pods, err := h.kube.CoreV1().Pods(ns).List(h.ctx, metav1.ListOptions{})
	require.NoError(h.t, err)
	h.eventually("pods in cache", func() bool {
		cached, err := h.c.pods.Pods(ns).List(everything)
		if err != nil || len(cached) != len(pods.Items) {
			return false
		}
		for _, p := range pods.Items {
			c, err := h.c.pods.Pods(ns).Get(p.Name)
			if err != nil || !apiequality.Semantic.DeepEqual(c.Status, p.Status) {
				return false
			}
		}
		return true
	})
}

func (h *harness) job(name string) *v1alpha1.PipelineJob {
	h.t.Helper()
	j, err := h.sluice.SluiceV1alpha1().PipelineJobs(ns).Get(h.ctx, name, metav1.GetOptions{})
	require.NoError(h.t, err)
	return j
}

func (h *harness) pod(name string) *corev1.Pod {
	h.t.Helper()
	p, err := h.kube.CoreV1().Pods(ns).Get(h.ctx, name, metav1.GetOptions{})
	require.NoError(h.t, err, "pod %s", name)
	return p
}

func (h *harness) podNames() []string {
	pods, err := h.kube.CoreV1().Pods(ns).List(h.ctx, metav1.ListOptions{})
	require.NoError(h.t, err)
	var out []string
	for _, p := range pods.Items {
		out = append(out, p.Name)
	}
	return out
}

func (h *harness) podGone(name string) bool {
	_, err := h.kube.CoreV1().Pods(ns).Get(h.ctx, name, metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}

// finishPod plays the kubelet: every container of the Pod terminates, the
// last with exitCode (0 for success).
func (h *harness) finishPod(name string, exitCode int32) {
	h.t.Helper()
	p := h.pod(name)
	now := metav1.NewTime(h.clock.Now())
	term := func(c corev1.Container, code int32) corev1.ContainerStatus {
		reason := "Completed"
		if code != 0 {
			reason = "Error"
		}
		return corev1.ContainerStatus{Name: c.Name, Image: c.Image, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: code, Reason: reason, StartedAt: now, FinishedAt: now}}}
	}
	p.Status.InitContainerStatuses = nil
	for _, c := range p.Spec.InitContainers {
		p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, term(c, 0))
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{term(p.Spec.Containers[0], exitCode)}
	p.Status.Phase = corev1.PodSucceeded
	if exitCode != 0 {
		p.Status.Phase = corev1.PodFailed
	}
	h.updatePodStatus(p)
}

// runPod plays the kubelet starting the Pod.
func (h *harness) runPod(name string) {
	h.t.Helper()
	p := h.pod(name)
	now := metav1.NewTime(h.clock.Now())
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: p.Spec.Containers[0].Name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
	h.updatePodStatus(p)
}

func (h *harness) updatePodStatus(p *corev1.Pod) {
	h.t.Helper()
	_, err := h.kube.CoreV1().Pods(ns).UpdateStatus(h.ctx, p, metav1.UpdateOptions{})
	require.NoError(h.t, err)
	h.syncPodCache()
}

// events drains the recorded Events.
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// statusWrites counts the job status updates the controller made.
func (h *harness) statusWrites() int {
	n := 0
	for _, a := range h.sluice.Actions() {
		if a.GetVerb() == "update" && a.GetResource().Resource == "pipelinejobs" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

func (h *harness) podCreates() int {
	n := 0
	for _, a := range h.kube.Actions() {
		// An update's action has an object too: ask for the verb.
		if a.GetVerb() == "create" && a.GetResource().Resource == "pods" && a.GetSubresource() == "" {
			n++
		}
	}
	return n
}

func steps(names ...string) []v1alpha1.Step {
	var out []v1alpha1.Step
	for _, n := range names {
		out = append(out, v1alpha1.Step{Name: n, Actions: []v1alpha1.Action{
			{Name: "prepare", Image: "alpine:3.20", Command: []string{"true"}},
			{Name: "run", Image: "alpine:3.20", Command: []string{"sh", "-c", "echo " + n}},
		}})
	}
	return out
}

// jobOf is a job as the apiserver stores it: with the trigger and the
// starter it sets, which the fake clientset does not.
func jobOf(name, pipeline string, params ...v1alpha1.Param) *v1alpha1.PipelineJob {
	j := testutil.Job(name, pipeline, params...)
	j.Spec.Trigger = v1alpha1.JobTrigger{Type: v1alpha1.TriggerManual}
	j.Spec.StartedBy = &v1alpha1.UserInfo{Username: "alice"}
	return j
}

// cancelReactor serves pipelinejobs/cancel as the apiserver does: it sets
// spec.cancel and records the caller (h.user) and the reason in status, in
// one write; a job already being cancelled is answered as it is, and a
// finished job is a conflict. It runs inside the fake clientset's lock, so
// it works on the object tracker directly.
func (h *harness) cancelReactor(a k8stesting.Action) (bool, runtime.Object, error) {
	if a.GetSubresource() != "cancel" {
		return false, nil, nil
	}
	create := a.(k8stesting.CreateActionImpl)
	req := create.GetObject().(*v1alpha1.CancelRequest)
	gvr := a.GetResource()
	obj, err := h.sluice.Tracker().Get(gvr, a.GetNamespace(), create.Name)
	if err != nil {
		return true, nil, err
	}
	j := obj.(*v1alpha1.PipelineJob).DeepCopy()
	if finished(j.Status.Phase) {
		return true, nil, apierrors.NewConflict(v1alpha1.Resource("pipelinejobs"), j.Name,
			fmt.Errorf("the job has already finished as %s", j.Status.Phase))
	}
	if j.Spec.Cancel {
		return true, j, nil
	}
	j.Spec.Cancel = true
	j.Status.CancelledBy = &v1alpha1.UserInfo{Username: h.user}
	j.Status.CancelReason = req.Reason
	if err := h.sluice.Tracker().Update(gvr, j, j.Namespace); err != nil {
		return true, nil, err
	}
	return true, j, nil
}

// cancel cancels a job through pipelinejobs/cancel as user, and waits
// until the job cache has seen it.
func (h *harness) cancel(name, user, reason string) {
	h.t.Helper()
	h.user = user
	defer func() { h.user = controllerUser }()
	_, err := h.sluice.SluiceV1alpha1().PipelineJobs(ns).Cancel(h.ctx, name, &v1alpha1.CancelRequest{Reason: reason}, metav1.CreateOptions{})
	require.NoError(h.t, err)
	h.eventually("cancel in cache", func() bool { c, _ := h.c.jobs.PipelineJobs(ns).Get(name); return c.Spec.Cancel })
}

// decide records user's decision at the job's waiting approval gate, at
// the fake clock's now, as pipelinejobs/approval does on the server (which
// also checks who may decide; the controller trusts what it recorded), and
// waits until the job cache has seen it.
func (h *harness) decide(name, user string, decision v1alpha1.Decision, msg string) {
	h.t.Helper()
	h.decideAt(name, user, decision, msg, h.clock.Now())
}

func (h *harness) decideAt(name, user string, decision v1alpha1.Decision, msg string, at time.Time) {
	h.t.Helper()
	j := h.job(name)
	i := slices.IndexFunc(j.Status.Steps, func(s v1alpha1.StepStatus) bool { return s.Phase == v1alpha1.StepWaitingForApproval })
	require.GreaterOrEqual(h.t, i, 0, "job %s waits at no gate: %s", name, testutil.StepPhases(j))
	j.Status.Steps[i].Approvals = append(j.Status.Steps[i].Approvals, v1alpha1.ApprovalDecision{
		User: v1alpha1.UserInfo{Username: user}, Decision: decision, Time: metav1.NewTime(at), Message: msg})
	_, err := h.sluice.SluiceV1alpha1().PipelineJobs(ns).UpdateStatus(h.ctx, j, metav1.UpdateOptions{})
	require.NoError(h.t, err)
	want := len(j.Status.Steps[i].Approvals)
	h.eventually("decision in cache", func() bool {
		c, err := h.c.jobs.PipelineJobs(ns).Get(name)
		return err == nil && len(c.Status.Steps[i].Approvals) == want
	})
}

// countingQueue counts the keys added to the controller's workqueue, and
// records the delays of the keys added for later.
type countingQueue struct {
	workqueue.TypedRateLimitingInterface[string]
	mu    sync.Mutex
	adds  map[string]int
	after map[string][]time.Duration
}

func (q *countingQueue) Add(key string) {
	q.mu.Lock()
	q.adds[key]++
	q.mu.Unlock()
	q.TypedRateLimitingInterface.Add(key)
}

func (q *countingQueue) AddAfter(key string, d time.Duration) {
	q.mu.Lock()
	q.after[key] = append(q.after[key], d)
	q.mu.Unlock()
	q.TypedRateLimitingInterface.AddAfter(key, d)
}

// added is how many times key was added.
func (q *countingQueue) added(key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.adds[key]
}

// lastDelay is the delay of the last AddAfter of key, or -1.
func (q *countingQueue) lastDelay(key string) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	if d := q.after[key]; len(d) > 0 {
		return d[len(d)-1]
	}
	return -1
}

// pipelineStatusWrites counts the pipeline status updates the controller made.
func (h *harness) pipelineStatusWrites() int {
	n := 0
	for _, a := range h.sluice.Actions() {
		if a.GetVerb() == "update" && a.GetResource().Resource == "pipelines" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

func (h *harness) pipeline(name string) *v1alpha1.Pipeline {
	h.t.Helper()
	p, err := h.sluice.SluiceV1alpha1().Pipelines(ns).Get(h.ctx, name, metav1.GetOptions{})
	require.NoError(h.t, err)
	return p
}

// gate is an approval step that needs required approvals of the group
// release-managers.
func gate(name string, required int32) v1alpha1.Step {
	return v1alpha1.Step{Name: name, Approval: &v1alpha1.ApprovalGate{
		Approvers: []v1alpha1.Approver{{Kind: v1alpha1.ApproverGroup, Name: "release-managers"}, {Kind: v1alpha1.ApproverUser, Name: "carol"}},
		Required:  required,
	}}
}

// inEnv is job name of pipeline in environment env, submitted at the
// harness's clock plus offset.
func (h *harness) inEnv(name, pipeline, env string, offset time.Duration, params ...v1alpha1.Param) *v1alpha1.PipelineJob {
	j := jobOf(name, pipeline, params...)
	j.Spec.Environment = env
	at := metav1.NewMicroTime(h.clock.Now().Add(offset))
	j.Status.SubmitTime = &at
	return j
}

var (
	podsGVR = corev1.SchemeGroupVersion.WithResource("pods")
	jobsGVR = v1alpha1.SchemeGroupVersion.WithResource("pipelinejobs")
)

// fakeCopier stands for pods/log and the server's pipelinejobs/log, which
// the fake clientsets cannot serve. It reads an action's output from the
// Pod in the fake API (ErrPodGone when there is none), and records it
// Archived in the job's status as the server does when it has stored it:
// only when the step's attempts is the copy's attempt, and as the server's
// own write, straight into the object tracker, so the controller learns it
// from its informer. fail, while set, fails every copy.
type fakeCopier struct {
	t        *testing.T
	kube     *kubefake.Clientset
	sluice   *sluicefake.Clientset
	timeline *timeline

	mu     sync.Mutex
	copies []LogCopy
	fail   error
}

func (f *fakeCopier) CopyLog(_ context.Context, c LogCopy) (int64, error) {
	f.mu.Lock()
	f.copies = append(f.copies, c)
	fail := f.fail
	f.mu.Unlock()
	f.timeline.add("copy " + c.Pod + "/" + c.Action)
	if fail != nil {
		return 0, fail
	}
	if _, err := f.kube.Tracker().Get(podsGVR, c.Namespace, c.Pod); err != nil {
		if apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("reading the output of pod %s: %w", c.Pod, ErrPodGone)
		}
		return 0, err
	}
	output := int64(len(c.Pod + "/" + c.Action + " says hello\n"))
	obj, err := f.sluice.Tracker().Get(jobsGVR, c.Namespace, c.Job)
	if err != nil {
		return 0, err
	}
	j := obj.(*v1alpha1.PipelineJob).DeepCopy()
	for i := range j.Status.Steps {
		st := &j.Status.Steps[i]
		if st.Name != c.Step || st.Attempts != c.Attempt {
			continue
		}
		for k := range st.Actions {
			if st.Actions[k].Name == c.Action {
				st.Actions[k].Log = &v1alpha1.ActionLog{State: v1alpha1.LogArchived, Bytes: output}
			}
		}
	}
	return output, f.sluice.Tracker().Update(jobsGVR, j, c.Namespace)
}

// failWith makes every copy fail with err, or succeed again with nil.
func (f *fakeCopier) failWith(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

// made is the copies made, failed ones included, in order.
func (f *fakeCopier) made() []LogCopy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.copies)
}

// statusReactor serves pipelinejobs/status as the server's status strategy
// does for the log states: it keeps the Archived states the server
// recorded for each step's latest attempt and drops the ones a writer
// claims. A controller that claims one fails the test: it never writes
// Archived itself.
func (h *harness) statusReactor(a k8stesting.Action) (bool, runtime.Object, error) {
	if a.GetSubresource() != "status" {
		return false, nil, nil
	}
	j := a.(k8stesting.UpdateAction).GetObject().(*v1alpha1.PipelineJob).DeepCopy()
	obj, err := h.sluice.Tracker().Get(a.GetResource(), a.GetNamespace(), j.Name)
	if err != nil {
		return false, nil, nil
	}
	type key struct {
		step    string
		attempt int32
		action  string
	}
	recorded := map[key]*v1alpha1.ActionLog{}
	for _, st := range obj.(*v1alpha1.PipelineJob).Status.Steps {
		for _, ac := range st.Actions {
			if ac.Log != nil && ac.Log.State == v1alpha1.LogArchived {
				recorded[key{st.Name, st.Attempts, ac.Name}] = ac.Log
			}
		}
	}
	for i := range j.Status.Steps {
		st := &j.Status.Steps[i]
		for k := range st.Actions {
			ac := &st.Actions[k]
			if log, ok := recorded[key{st.Name, st.Attempts, ac.Name}]; ok {
				ac.Log = log
			} else if ac.Log != nil && ac.Log.State == v1alpha1.LogArchived {
				h.t.Errorf("a status write claims the output of %s/%s (attempt %d) Archived, which the server did not record", st.Name, ac.Name, st.Attempts)
				ac.Log = nil
			}
		}
	}
	if err := h.sluice.Tracker().Update(a.GetResource(), j, a.GetNamespace()); err != nil {
		return true, nil, err
	}
	return true, j, nil
}
