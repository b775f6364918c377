package pipelinejob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/validation"
	"github.com/sluice-dev/sluice/pkg/joblog"
	"github.com/sluice-dev/sluice/pkg/storage/postgres"
)

// LogArchive keeps the output of the actions of jobs after their Pods are
// gone: postgres.LogArchive.
type LogArchive interface {
	Write(ctx context.Context, key postgres.LogKey, namespace, job string, r io.Reader, maxBytes int64) (postgres.LogInfo, error)
	List(ctx context.Context, jobUID types.UID) ([]postgres.LogInfo, error)
	Open(ctx context.Context, key postgres.LogKey) (io.ReadCloser, postgres.LogInfo, error)
	DeleteJob(ctx context.Context, jobUID types.UID) error
}

// PodLogs reads the output of a container of a Pod, with each line's time,
// through kube-apiserver's pods/log.
type PodLogs interface {
	Stream(ctx context.Context, namespace, pod, container string, follow bool) (io.ReadCloser, error)
}

// NewPodLogs reads Pods' output with a client of the cluster; the server's
// own identity needs get on pods/log, and nothing else of Pods.
func NewPodLogs(kube kubernetes.Interface) PodLogs { return kubePodLogs{kube} }

type kubePodLogs struct{ kube kubernetes.Interface }

func (k kubePodLogs) Stream(ctx context.Context, namespace, pod, container string, follow bool) (io.ReadCloser, error) {
	return k.kube.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{
		Container: container, Follow: follow, Timestamps: true,
	}).Stream(ctx)
}

// Logs configures the pipelinejobs/log subresource.
type Logs struct {
	Archive LogArchive
	Pods    PodLogs
	// MaxBytes is the most of one action's output the archive keeps: its
	// end, cut at a line. 0 keeps everything.
	MaxBytes int64
}

// LogREST serves pipelinejobs/log. A GET reads a job's output: each
// action from the archive once its output is there, from its Pod's
// pods/log until then, and with follow, live, as the job advances. A POST
// archives the output of one action: the controller sends it as each
// container ends, as OpenShift's builds/log streams a build's containers
// through the apiserver.
type LogREST struct {
	jobs *REST
	logs Logs
}

var (
	_ rest.GetterWithOptions = &LogREST{}
	_ rest.Connecter         = &LogREST{}
	_ rest.StorageMetadata   = &LogREST{}
)

// New returns an empty job: the resource the subresource belongs to.
func (r *LogREST) New() runtime.Object { return &sluice.PipelineJob{} }

// Destroy does nothing: the subresource shares the job's storage.
func (r *LogREST) Destroy() {}

// ProducesMIMETypes says a GET answers with plain text.
func (r *LogREST) ProducesMIMETypes(verb string) []string {
	if verb == "GET" {
		return []string{"text/plain"}
	}
	return nil
}

// ProducesObject says a GET answers with a string, a POST with a Status.
func (r *LogREST) ProducesObject(verb string) any {
	if verb == "GET" {
		return ""
	}
	return &metav1.Status{}
}

// NewGetOptions returns the options of a GET.
func (r *LogREST) NewGetOptions() (runtime.Object, bool, string) {
	return &sluice.PipelineJobLogOptions{}, false, ""
}

// NewConnectOptions returns the options of a POST.
func (r *LogREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &sluice.PipelineJobLogOptions{}, false, ""
}

// ConnectMethods is POST: archiving an action's output.
func (r *LogREST) ConnectMethods() []string { return []string{http.MethodPost} }

// Get checks the request against the job now, so that a bad step or action
// is a 422 and a missing job a 404, and returns the stream of the answer.
func (r *LogREST) Get(ctx context.Context, name string, options runtime.Object) (runtime.Object, error) {
	opts := options.(*sluice.PipelineJobLogOptions)
	job, err := r.selectedJob(ctx, name, opts, validation.ValidatePipelineJobLogOptions(opts))
	if err != nil {
		return nil, err
	}
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	return &logStream{r: r, ns: ns, job: job, opts: opts, now: time.Now()}, nil
}

// selectedJob is the named job, once the options are valid (errs are
// their errors) and name a step and action of its pipeline: a 422 with
// the options' fields otherwise, and a 404 for a job that does not exist.
func (r *LogREST) selectedJob(ctx context.Context, name string, opts *sluice.PipelineJobLogOptions, errs field.ErrorList) (*sluice.PipelineJob, error) {
	if len(errs) == 0 {
		job, err := r.jobs.getJob(ctx, name)
		if err != nil {
			return nil, err
		}
		if errs = r.checkSelection(ctx, job, opts); len(errs) == 0 {
			return job, nil
		}
	}
	return nil, apierrors.NewInvalid(sluice.Kind("PipelineJobLogOptions"), name, errs)
}

// checkSelection checks that the step and action asked for are in the
// pipeline the job runs: its snapshot once it has started, before that its
// inline pipeline or its Pipeline as it is now (a Pipeline that does not
// exist fails the job when it starts, so it is not an error here).
func (r *LogREST) checkSelection(ctx context.Context, job *sluice.PipelineJob, opts *sluice.PipelineJobLogOptions) field.ErrorList {
	if opts.Step == "" {
		return nil
	}
	spec := job.Status.PipelineSpec
	if spec == nil {
		spec = job.Spec.PipelineSpec
	}
	if spec == nil && job.Spec.PipelineRef != nil {
		p, err := r.jobs.pipelines.Get(ctx, job.Spec.PipelineRef.Name, &metav1.GetOptions{})
		if err != nil {
			return nil
		}
		spec = &p.(*sluice.Pipeline).Spec
	}
	if spec == nil {
		return nil
	}
	step := stepNamed(spec, opts.Step)
	if step == nil {
		return field.ErrorList{field.NotFound(field.NewPath("step"), opts.Step)}
	}
	if step.Approval != nil {
		return field.ErrorList{field.Invalid(field.NewPath("step"), opts.Step, "is an approval gate, which has no output")}
	}
	if opts.Action != "" && actionIndex(step, opts.Action) < 0 {
		return field.ErrorList{field.NotFound(field.NewPath("action"), opts.Action)}
	}
	return nil
}

func stepNamed(spec *sluice.PipelineSpec, name string) *sluice.Step {
	for i := range spec.Steps {
		if spec.Steps[i].Name == name {
			return &spec.Steps[i]
		}
	}
	return nil
}

func actionIndex(step *sluice.Step, name string) int {
	for k := range step.Actions {
		if step.Actions[k].Name == name {
			return k
		}
	}
	return -1
}

// Connect archives the output of one action of one attempt, the request's
// body, and records in the job's status that it is archived. Archiving
// again replaces the earlier copy, so a sender may retry.
func (r *LogREST) Connect(ctx context.Context, name string, options runtime.Object, responder rest.Responder) (http.Handler, error) {
	opts := options.(*sluice.PipelineJobLogOptions)
	job, err := r.selectedJob(ctx, name, opts, validation.ValidateLogArchiveOptions(opts))
	if err != nil {
		return nil, err
	}
	if job.Status.PipelineSpec == nil {
		return nil, apierrors.NewConflict(sluice.Resource("pipelinejobs"), name, errors.New("the job has not started"))
	}
	if st := stepStatus(job, opts.Step); st == nil || int64(st.Attempts) < opts.Attempt {
		return nil, apierrors.NewConflict(sluice.Resource("pipelinejobs"), name,
			fmt.Errorf("step %q has not started attempt %d", opts.Step, opts.Attempt))
	}
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	key := postgres.LogKey{JobUID: job.UID, Step: opts.Step, Attempt: int32(opts.Attempt), Action: opts.Action}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		defer req.Body.Close()
		info, err := r.logs.Archive.Write(ctx, key, ns, name, req.Body, r.logs.MaxBytes)
		if err != nil {
			what := fmt.Sprintf("archiving the output of %s/%s attempt %d", key.Step, key.Action, key.Attempt)
			// The archive's database errors are statuses already (503
			// unavailable, 507 out of disk space): the sender retries
			// by them. Anything else is ours.
			var status apierrors.APIStatus
			if errors.As(err, &status) {
				st := status.Status()
				st.Message = what + ": " + st.Message
				responder.Error(&apierrors.StatusError{ErrStatus: st})
				return
			}
			responder.Error(apierrors.NewInternalError(fmt.Errorf("%s: %w", what, err)))
			return
		}
		if err := r.recordArchived(ctx, job, info); err != nil {
			responder.Error(err)
			return
		}
		responder.Object(http.StatusCreated, &metav1.Status{
			Status: metav1.StatusSuccess, Code: http.StatusCreated,
			Message: fmt.Sprintf("archived %d bytes of %s/%s (attempt %d)", info.Bytes, key.Step, key.Action, key.Attempt),
			Details: &metav1.StatusDetails{Name: name, Group: sluice.GroupName, Kind: "pipelinejobs"},
		})
	}), nil
}

// recordArchived records in the job's status that the action's output is
// archived, when the step is still at that attempt: the status holds the
// actions of each step's latest attempt only.
func (r *LogREST) recordArchived(ctx context.Context, job *sluice.PipelineJob, info postgres.LogInfo) error {
	_, err := r.jobs.updateForAction(ctx, job.Name, nil, func(j *sluice.PipelineJob) error {
		if j.UID != job.UID {
			return apierrors.NewConflict(sluice.Resource("pipelinejobs"), job.Name, errors.New("the job was deleted and created again"))
		}
		st := stepStatus(j, info.Step)
		if st == nil || st.Attempts != info.Attempt {
			return nil
		}
		for k := range st.Actions {
			if st.Actions[k].Name == info.Action {
				st.Actions[k].Log = &sluice.ActionLog{State: sluice.LogArchived, Bytes: info.Bytes, TruncatedBytes: info.TruncatedBytes}
				return nil
			}
		}
		st.Actions = append(st.Actions, sluice.ActionStatus{Name: info.Action,
			Log: &sluice.ActionLog{State: sluice.LogArchived, Bytes: info.Bytes, TruncatedBytes: info.TruncatedBytes}})
		return nil
	})
	return err
}

func stepStatus(job *sluice.PipelineJob, name string) *sluice.StepStatus {
	for i := range job.Status.Steps {
		if job.Status.Steps[i].Name == name {
			return &job.Status.Steps[i]
		}
	}
	return nil
}

// logStream is the answer of a GET: a stream of plain text, written as it
// is read. It is an object only to pass through the generic handler.
type logStream struct {
	r    *LogREST
	ns   string
	job  *sluice.PipelineJob
	opts *sluice.PipelineJobLogOptions
	now  time.Time
}

var _ rest.ResourceStreamer = &logStream{}

func (s *logStream) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

func (s *logStream) DeepCopyObject() runtime.Object {
	panic("a log stream is not copied")
}

// InputStream starts writing the answer into a pipe, which the handler
// copies to the client, flushing each write when following.
func (s *logStream) InputStream(ctx context.Context, apiVersion, acceptHeader string) (io.ReadCloser, bool, string, error) {
	// ctx is the request's, without the namespace the handler put in
	// the context of Get.
	ctx = genericapirequest.WithNamespace(ctx, s.ns)
	pr, pw := io.Pipe()
	go func() {
		err := s.write(ctx, pw)
		if errors.Is(err, joblog.ErrLimit) || errors.Is(err, errJobGone) {
			err = nil
		}
		_ = pw.CloseWithError(err)
	}()
	return pr, s.opts.Follow, "text/plain; charset=utf-8", nil
}

// filter is the line filter of the request.
func (s *logStream) filter() joblog.Filter {
	f := joblog.Filter{Tail: joblog.NoTail, Timestamps: s.opts.Timestamps}
	if s.opts.TailLines != nil {
		f.Tail = *s.opts.TailLines
	}
	if s.opts.SinceSeconds != nil {
		f.Since = s.now.Add(-time.Duration(*s.opts.SinceSeconds) * time.Second)
	}
	return f
}

// headers says whether each action's output is introduced by a header:
// unless the request names one step, one action and one attempt.
func (s *logStream) headers() bool {
	return s.opts.Step == "" || s.opts.Action == "" || s.opts.Attempt == 0
}
