package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/egress"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	sluiceinformers "github.com/sluice-dev/sluice/pkg/generated/informers/externalversions"
	sluicev1alpha1informers "github.com/sluice-dev/sluice/pkg/generated/informers/externalversions/sluice/v1alpha1"
	sluicelisters "github.com/sluice-dev/sluice/pkg/generated/listers/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/trigger/imagewatch"
)

// Reasons in job and step conditions, status and Events.
const (
	ReasonRunning              = "Running"
	ReasonSucceeded            = "Succeeded"
	ReasonStepFailed           = "StepFailed"
	ReasonTimeout              = "Timeout"
	ReasonCancelled            = "Cancelled"
	ReasonPipelineNotFound     = "PipelineNotFound"
	ReasonInvalidParams        = "InvalidParams"
	ReasonInvalidReference     = "InvalidReference"
	ReasonInvalidPod           = "InvalidPod"
	ReasonFailedCreatePod      = "FailedCreatePod"
	ReasonConcurrencyForbidden = "ConcurrencyForbidden"
	// ReasonPodConflict: a Pod the job does not control has the name of
	// the step's attempt.
	ReasonPodConflict = "PodConflict"
	// ReasonWorkspaceConflict: a PVC the job does not control has the name
	// of the job's workspace claim.
	ReasonWorkspaceConflict = "WorkspaceConflict"
	// ReasonRejected: an approver rejected the job at an approval gate.
	ReasonRejected = "Rejected"
	// ReasonApprovalTimeout: an approval gate was not passed within its
	// timeout.
	ReasonApprovalTimeout = "ApprovalTimeout"
	// ReasonWaitingForLogs: the step's Pod has ended, or is about to be
	// deleted, and the step waits for the output of its actions to be
	// archived before it moves on.
	ReasonWaitingForLogs = "WaitingForLogs"
)

// Event reasons recorded on PipelineJobs.
const (
	EventStarted           = "Started"
	EventStepStarted       = "StepStarted"
	EventStepSucceeded     = "StepSucceeded"
	EventStepFailed        = "StepFailed"
	EventStepRetrying      = "StepRetrying"
	EventSucceeded         = "Succeeded"
	EventFailed            = "Failed"
	EventCancelled         = "Cancelled"
	EventFailedCreatePod   = "FailedCreatePod"
	EventPodConflict       = "PodConflict"
	EventWorkspaceConflict = "WorkspaceConflict"
	// EventApprovalRequested: the job reached an approval gate.
	EventApprovalRequested = "ApprovalRequested"
	// EventApproved and EventRejected: an approver decided a gate.
	EventApproved = "Approved"
	EventRejected = "Rejected"
	// EventLogArchiveFailed: copying an action's output to the archive
	// failed; it is retried.
	EventLogArchiveFailed = "LogArchiveFailed"
	// EventLogLost: an action's Pod went before its output was archived.
	EventLogLost = "LogLost"
)

// Options configure the controller.
type Options struct {
	// RetryBackoff is the wait before the second attempt of a step; it
	// doubles with each further attempt, up to MaxRetryBackoff.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// Instance is the value of the sluice.dev/controller-instance label
	// of the jobs this controller runs; when empty it runs the jobs
	// without the label.
	Instance string
	// LogCopyWorkers copy actions' output to the archive concurrently.
	// Default 16.
	LogCopyWorkers int
	// Clock is the clock; the real one when nil.
	Clock clock.WithTicker
	// Egress decides which addresses the controller connects to on a
	// user's behalf, such as the image registries of Triggers; the
	// Notifier has its own (NotifierOptions.Egress). Default
	// egress.Default().
	Egress *egress.Policy
}

// Controller runs PipelineJobs: informers feed a rate-limited workqueue of
// job keys, and one sync per key moves the job on.
type Controller struct {
	kube   kubernetes.Interface
	sluice sluiceclient.Interface

	jobs      sluicelisters.PipelineJobLister
	pipelines sluicelisters.PipelineLister
	pods      corelisters.PodLister
	// jobIndex and podIndex are the job and Pod informers' caches, for
	// their indexes queuedByGroup and podsByJob.
	jobIndex  cache.Indexer
	podIndex  cache.Indexer
	pvcs      corelisters.PersistentVolumeClaimLister
	hasSynced []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	recorder  record.EventRecorder
	notifier  *Notifier
	// copier and copies copy each action's output to the log archive,
	// off the sync (see logarchive.go).
	copier LogCopier
	copies copyQueue
	clock  clock.Clock
	opts   Options
	// jobSelector selects this instance's jobs (see Options.Instance).
	jobSelector string
	// written holds this controller's last status write of each job
	// until the job informer has it (written.go).
	written ownWrites
	// startLocks serialise the starts of one concurrency group's jobs
	// (pipeline and environment) within this process; see sync.
	startLocks keyedMutex
	// history deletes the finished jobs beyond their pipelines' history
	// limits (history.go).
	history *historyCleaner

	// The trigger loop (triggers.go): its own workqueue of Trigger keys.
	triggers     sluicelisters.TriggerLister
	triggerQueue workqueue.TypedRateLimitingInterface[string]
	// lastTriggered is the newest job each trigger started, by trigger
	// key, as the job informer has seen them (see noteTriggeredJob).
	lastTriggered keyedEvents
	// triggersStarted is when Run started: schedule slots before it were
	// missed while no controller ran.
	triggersStarted time.Time
	// images reads image triggers' registries (images.go).
	images *imagewatch.Reader
}

// New wires the controller to its informers. copier copies each action's
// output to the log archive (NewLogCopier). Start the informer factories
// and then call Run.
func New(kube kubernetes.Interface, sluice sluiceclient.Interface, kubeInformers kubeinformers.SharedInformerFactory,
	sluiceInformers sluiceinformers.SharedInformerFactory, recorder record.EventRecorder, notifier *Notifier, copier LogCopier,
	opts Options) (*Controller, error) {
	if opts.RetryBackoff == 0 {
		opts.RetryBackoff = 10 * time.Second
	}
	if opts.MaxRetryBackoff == 0 {
		opts.MaxRetryBackoff = 5 * time.Minute
	}
	if opts.LogCopyWorkers == 0 {
		opts.LogCopyWorkers = 16
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Egress == nil {
		opts.Egress = egress.Default()
	}
	// The job informer lists and watches only this instance's jobs: the
	// selector is answered by the server's label index.
	jobSelector := "!" + v1alpha1.LabelControllerInstance
	if opts.Instance != "" {
		jobSelector = v1alpha1.LabelControllerInstance + "=" + opts.Instance
	}
	jobInformer := sluiceInformers.InformerFor(&v1alpha1.PipelineJob{}, func(client sluiceclient.Interface, resync time.Duration) cache.SharedIndexInformer {
		return sluicev1alpha1informers.NewFilteredPipelineJobInformer(client, metav1.NamespaceAll, resync,
			cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
			func(o *metav1.ListOptions) { o.LabelSelector = jobSelector })
	})
	if err := jobInformer.AddIndexers(cache.Indexers{queuedByGroup: indexQueuedByGroup}); err != nil {
		return nil, err
	}
	pipelines := sluiceInformers.Sluice().V1alpha1().Pipelines()
	triggers := sluiceInformers.Sluice().V1alpha1().Triggers()
	pods := kubeInformers.Core().V1().Pods()
	pvcs := kubeInformers.Core().V1().PersistentVolumeClaims()
	if err := pods.Informer().AddIndexers(cache.Indexers{podsByJob: indexPodsByJob}); err != nil {
		return nil, err
	}
	c := &Controller{
		kube:      kube,
		sluice:    sluice,
		jobs:      sluicelisters.NewPipelineJobLister(jobInformer.GetIndexer()),
		pipelines: pipelines.Lister(),
		pods:      pods.Lister(),
		jobIndex:  jobInformer.GetIndexer(),
		podIndex:  pods.Informer().GetIndexer(),
		pvcs:      pvcs.Lister(),
		triggers:  triggers.Lister(),
		hasSynced: []cache.InformerSynced{jobInformer.HasSynced, pipelines.Informer().HasSynced, pods.Informer().HasSynced, pvcs.Informer().HasSynced,
			triggers.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pipelinejobs"}),
		// The trigger queue's clock is the one schedules are read with, so
		// that a trigger wakes at its next slot by that clock.
		triggerQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "triggers", Clock: opts.Clock}),
		recorder: recorder,
		notifier: notifier,
		copier:   copier,
		images:   &imagewatch.Reader{Kube: kube, Transport: opts.Egress.Transport()},
		copies: copyQueue{
			queue: workqueue.NewTypedRateLimitingQueueWithConfig(
				workqueue.NewTypedItemExponentialFailureRateLimiter[LogCopy](copyRetryBase, copyRetryMax),
				workqueue.TypedRateLimitingQueueConfig[LogCopy]{Name: "logcopies", Clock: opts.Clock}),
			state: map[LogCopy]*copyState{},
		},
		clock:       opts.Clock,
		opts:        opts,
		jobSelector: jobSelector,
	}
	if notifier != nil {
		notifier.onResult = c.enqueueKey
	}
	var err error
	if c.history, err = newHistoryCleaner(c, jobInformer, pipelines.Informer()); err != nil {
		return nil, err
	}
	if _, err := jobInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.jobDeleted,
	}); err != nil {
		return nil, err
	}
	// A Pod or PVC wakes the job that controls it.
	owned := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueController(obj, false) },
		UpdateFunc: func(_, obj any) { c.enqueueController(obj, false) },
		DeleteFunc: func(obj any) { c.enqueueController(obj, true) },
	}
	if _, err := pods.Informer().AddEventHandler(owned); err != nil {
		return nil, err
	}
	if _, err := pvcs.Informer().AddEventHandler(owned); err != nil {
		return nil, err
	}
	if _, err := triggers.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueTrigger,
		UpdateFunc: func(_, obj any) { c.enqueueTrigger(obj) },
	}); err != nil {
		return nil, err
	}
	if _, err := pipelines.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: c.enqueueTriggersOf}); err != nil {
		return nil, err
	}
	// A job a trigger started is that trigger's last event.
	if _, err := jobInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: c.noteTriggeredJob}); err != nil {
		return nil, err
	}
	return c, nil
}

// InformerTweak restricts the Pod and PVC informers to Sluice's own
// objects, so the controller never caches the cluster's other Pods.
func InformerTweak(o *metav1.ListOptions) { o.LabelSelector = v1alpha1.LabelJob }

func (c *Controller) enqueue(obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

func (c *Controller) enqueueKey(key string) { c.queue.Add(key) }

func (c *Controller) enqueueController(obj any, deleted bool) {
	if key, ok := c.controllingJob(obj, deleted); ok {
		c.queue.Add(key)
	}
}

// controllingJob is the key of the job a Pod or PVC event concerns. As in
// sample-controller, that is the job its controller reference names, and
// only while a job of that name has the reference's UID: the
// sluice.dev/job label only narrows what the informers cache, and anyone
// can set it. When an object controlled by an earlier job of the same name
// goes, the current job is woken too: it may be waiting for the name.
func (c *Controller) controllingJob(obj any, deleted bool) (string, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	o, ok := obj.(metav1.Object)
	if !ok {
		return "", false
	}
	ref := metav1.GetControllerOf(o)
	if ref == nil || !isJobRef(ref) {
		return "", false
	}
	job, err := c.jobs.PipelineJobs(o.GetNamespace()).Get(ref.Name)
	if err != nil || (job.UID != ref.UID && !deleted) {
		return "", false
	}
	return o.GetNamespace() + "/" + ref.Name, true
}

// isJobRef reports whether an owner reference names a PipelineJob, of any
// version of the sluice.dev group.
func isJobRef(ref *metav1.OwnerReference) bool {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	return err == nil && gv.Group == v1alpha1.GroupName && ref.Kind == "PipelineJob"
}

func (c *Controller) jobDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	job, ok := obj.(*v1alpha1.PipelineJob)
	if !ok {
		return
	}
	if c.notifier != nil {
		c.notifier.Forget(job)
	}
	c.forgetCopies(job.Namespace, job.Name)
	c.written.forget(job.Namespace + "/" + job.Name)
	// A job deleted while it ran, or waited, no longer holds up the
	// jobs queued behind it.
	c.wakeWaiting(job)
}

// Run waits for the caches and runs workers, the workers that copy
// actions' output to the archive, and the trigger loop, until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	defer c.copies.queue.ShutDown()
	defer c.triggerQueue.ShutDown()
	c.triggersStarted = c.clock.Now()
	klog.InfoS("starting the PipelineJob controller", "workers", workers, "logCopyWorkers", c.opts.LogCopyWorkers)
	if !cache.WaitForCacheSync(ctx.Done(), c.hasSynced...) {
		return fmt.Errorf("caches did not sync")
	}
	for range workers {
		go wait.UntilWithContext(ctx, c.worker, time.Second)
	}
	go c.history.run(ctx)
	for range c.opts.LogCopyWorkers {
		go wait.UntilWithContext(ctx, c.copyWorker, time.Second)
	}
	// One trigger worker: a sync makes a few API calls, and a slot's
	// job is started on time unless thousands of triggers share a slot.
	go wait.UntilWithContext(ctx, c.triggerWorker, time.Second)
	<-ctx.Done()
	klog.InfoS("stopping the PipelineJob controller")
	return nil
}

func (c *Controller) worker(ctx context.Context) {
	for c.processNext(ctx) {
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	start := time.Now()
	err := c.sync(ctx, key)
	reconcileDuration.Observe(time.Since(start).Seconds())
	if err == nil {
		c.queue.Forget(key)
		return true
	}
	reconcileErrors.Inc()
	if apierrors.IsConflict(err) {
		// The job changed since the version this sync started from (the
		// server recorded an action's output Archived, or someone
		// cancelled it): the informer has yet to deliver that change, and
		// its event adds the job again, to be synced from it. Retrying
		// sooner would start from the same stale version; retrying with
		// the rate limiter would, in a burst of jobs, wait for the
		// limiter's shared 10 per second.
		klog.V(4).InfoS("conflict, waiting for the newer job", "job", key)
		c.queue.Forget(key)
		return true
	}
	utilruntime.HandleErrorWithContext(ctx, err, "syncing PipelineJob", "job", key)
	c.queue.AddRateLimited(key)
	return true
}

// keyedMutex serialises work per key. A key's mutex lives only while
// someone holds or waits for it, so the map does not grow with every key
// ever locked.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*refMutex
}

type refMutex struct {
	sync.Mutex
	refs int // holders and waiters; guarded by keyedMutex.mu
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*refMutex{}
	}
	m := k.locks[key]
	if m == nil {
		m = &refMutex{}
		k.locks[key] = m
	}
	m.refs++
	k.mu.Unlock()
	m.Lock()
	return func() {
		m.Unlock()
		k.mu.Lock()
		if m.refs--; m.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
