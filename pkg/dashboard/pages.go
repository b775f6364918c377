package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

// lastJobs is how many of a pipeline's jobs its section shows.
const lastJobs = 5

// jobsPageSize is how many jobs a page of the history shows.
const jobsPageSize = 50

// pipelineView is a pipeline's section of the pipelines page.
type pipelineView struct {
	Pipeline     *v1alpha1.Pipeline
	Environments []environmentView
	Jobs         []*v1alpha1.PipelineJob
	Triggers     []triggerView
	// JobsError says why the jobs could not be listed.
	JobsError string
}

type environmentView struct {
	Name              string
	Current, Previous *v1alpha1.Release
}

type triggerView struct {
	Trigger *v1alpha1.Trigger
	Ready   string // the Ready condition's status and reason, as text
}

// pipelinesPage is each pipeline of the namespace with what each of its
// environments runs, its last jobs and its triggers.
func (s *Server) pipelinesPage(w http.ResponseWriter, r *http.Request) {
	p, ok := s.startPage(w, r, "Pipelines")
	if !ok {
		return
	}
	ctx := r.Context()
	c := s.Sluice.SluiceV1alpha1()
	pipelines, err := c.Pipelines(p.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		s.apiError(w, p, "listing the pipelines", err)
		return
	}
	triggers := map[string][]triggerView{}
	if l, err := c.Triggers(p.Namespace).List(ctx, metav1.ListOptions{}); err == nil {
		for i := range l.Items {
			t := &l.Items[i]
			// The server labels a Trigger with the pipeline it starts.
			name := t.Labels[v1alpha1.LabelPipeline]
			triggers[name] = append(triggers[name], triggerView{Trigger: t, Ready: readyText(t.Status.Conditions)})
		}
	}
	var views []pipelineView
	// The page follows the changes made after the lists it shows, from
	// their versions: the first list of jobs is the oldest of them, and
	// a change seen again is drawn again, to the same effect.
	var jobsVersion string
	for i := range pipelines.Items {
		pl := &pipelines.Items[i]
		v := pipelineView{Pipeline: pl, Triggers: triggers[pl.Name]}
		v.Environments = environmentsOf(pl)
		var rv string
		v.Jobs, rv, err = s.newestJobs(ctx, p.Namespace, pl.Name)
		if err != nil {
			v.JobsError = sluicectl.ErrorMessage(err)
		}
		if jobsVersion == "" {
			jobsVersion = rv
		}
		views = append(views, v)
	}
	p.Data = views
	live := url.Values{"namespace": {p.Namespace}, "pipelines": {pipelines.ResourceVersion}}
	if jobsVersion != "" {
		live.Set("jobs", jobsVersion)
	}
	p.Live = "/events?" + live.Encode()
	s.render(w, http.StatusOK, "pipelines", p)
}

// environmentsOf is what each environment of the pipeline runs.
func environmentsOf(pl *v1alpha1.Pipeline) []environmentView {
	releases := map[string]v1alpha1.EnvironmentStatus{}
	for _, e := range pl.Status.Environments {
		releases[e.Name] = e
	}
	var envs []environmentView
	for _, env := range sluicectl.Environments(pl) {
		envs = append(envs, environmentView{Name: env, Current: releases[env].Current, Previous: releases[env].Previous})
	}
	return envs
}

// newestJobs are the last jobs of pipeline, newest first, read as
// kubectl sluice list reads them: every job of the pipeline, a page at a
// time, keeping the newest; and the version they were read at.
func (s *Server) newestJobs(ctx context.Context, ns, pipeline string) ([]*v1alpha1.PipelineJob, string, error) {
	selector := labels.Set{v1alpha1.LabelPipeline: pipeline}.AsSelector().String()
	jobs := s.Sluice.SluiceV1alpha1().PipelineJobs(ns)
	var version string
	newest, err := sluicectl.KeepNewest(ctx, lastJobs, func(j *v1alpha1.PipelineJob) *v1alpha1.PipelineJob { return j },
		func(ctx context.Context, cont string) ([]*v1alpha1.PipelineJob, string, error) {
			l, err := jobs.List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: sluicectl.NewestPageSize, Continue: cont})
			if err != nil {
				return nil, "", err
			}
			if version == "" {
				// The pages of a list are one snapshot, at the first's version.
				version = l.ResourceVersion
			}
			page := make([]*v1alpha1.PipelineJob, len(l.Items))
			for i := range l.Items {
				j := l.Items[i]
				// Keep what the section shows, not the snapshot of the
				// pipeline nor the steps.
				j.Status.PipelineSpec, j.Status.Steps, j.Spec.PipelineSpec = nil, nil, nil
				page[i] = &j
			}
			return page, l.Continue, nil
		})
	return newest, version, err
}

// readyText is the Ready condition as text: its status, and its reason
// when it is not True.
func readyText(conditions []metav1.Condition) string {
	for _, c := range conditions {
		if c.Type == "Ready" {
			if c.Status == metav1.ConditionTrue {
				return "True"
			}
			return string(c.Status) + " (" + c.Reason + ")"
		}
	}
	return "Unknown"
}

// jobsFilter is the selection of the jobs page.
type jobsFilter struct {
	Pipeline, Environment, Phase, Trigger string
	Continue                              string
}

type jobsView struct {
	Filter jobsFilter
	Jobs   []v1alpha1.PipelineJob
	// Next is the URL of the next page, empty on the last.
	Next string
	// First is the first page: the one new jobs are added to.
	First  bool
	Phases []v1alpha1.JobPhase
}

// jobsSelection reads the filter of the jobs page from a query, and the
// list options that select it with the indexed selectors; an error is
// the user's, for a 400.
func jobsSelection(q url.Values) (jobsFilter, metav1.ListOptions, error) {
	f := jobsFilter{Pipeline: q.Get("pipeline"), Environment: q.Get("environment"), Phase: q.Get("phase"), Trigger: q.Get("trigger"), Continue: q.Get("continue")}
	set := labels.Set{}
	for label, value := range map[string]string{v1alpha1.LabelPipeline: f.Pipeline, v1alpha1.LabelEnvironment: f.Environment, v1alpha1.LabelTrigger: f.Trigger} {
		if value != "" {
			set[label] = value
		}
	}
	selector, err := labels.ValidatedSelectorFromSet(set)
	if err != nil {
		return f, metav1.ListOptions{}, err
	}
	opts := metav1.ListOptions{LabelSelector: selector.String()}
	if f.Phase != "" {
		if !sluicectl.KnownJobPhase(f.Phase) {
			return f, opts, fmt.Errorf("phase %s: expected Pending, Running, Succeeded, Failed or Cancelled", f.Phase)
		}
		opts.FieldSelector = fields.OneTermEqualSelector("status.phase", f.Phase).String()
	}
	return f, opts, nil
}

// values are the filter's non-empty terms as a query.
func (f jobsFilter) values(ns string) url.Values {
	v := url.Values{"namespace": {ns}}
	for k, val := range map[string]string{"pipeline": f.Pipeline, "environment": f.Environment, "phase": f.Phase, "trigger": f.Trigger} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v
}

// jobsPage is the job history in the server's order, filtered by the
// indexed selectors, a page at a time.
func (s *Server) jobsPage(w http.ResponseWriter, r *http.Request) {
	p, ok := s.startPage(w, r, "Jobs")
	if !ok {
		return
	}
	f, opts, err := jobsSelection(r.URL.Query())
	if err != nil {
		p.Message = err.Error()
		s.render(w, http.StatusBadRequest, "refused", p)
		return
	}
	opts.Limit, opts.Continue = jobsPageSize, f.Continue
	l, err := s.Sluice.SluiceV1alpha1().PipelineJobs(p.Namespace).List(r.Context(), opts)
	if err != nil {
		s.apiError(w, p, "listing the jobs", err)
		return
	}
	v := jobsView{Filter: f, Jobs: l.Items, First: f.Continue == "",
		Phases: []v1alpha1.JobPhase{v1alpha1.JobPending, v1alpha1.JobRunning, v1alpha1.JobSucceeded, v1alpha1.JobFailed, v1alpha1.JobCancelled}}
	if l.Continue != "" {
		next := f.values(p.Namespace)
		next.Set("continue", l.Continue)
		v.Next = "/jobs?" + next.Encode()
	}
	// The jobs shown change in place as they run; on the first page, the
	// jobs started since are added at its top.
	live := f.values(p.Namespace)
	live.Set("jobs", l.ResourceVersion)
	p.Live = "/events?" + live.Encode()
	p.Data = v
	s.render(w, http.StatusOK, "jobs", p)
}

// jobView is the job page.
type jobView struct {
	Job      *v1alpha1.PipelineJob
	Timeline template.HTML
	Finished bool
	// Log is the output when the page was made; a running job's is then
	// streamed by the script.
	Log string
	// LogError says why the output could not be read.
	LogError string
}

// maxLogBytes bounds the output a page shows; the rest is with kubectl
// sluice logs.
const maxLogBytes = 1 << 20

// jobPage is a job's timeline, approval gate, actions and log.
func (s *Server) jobPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	p, ok := s.startPage(w, r, name)
	if !ok {
		return
	}
	job, err := s.Sluice.SluiceV1alpha1().PipelineJobs(p.Namespace).Get(r.Context(), name, metav1.GetOptions{})
	if err != nil {
		s.apiError(w, p, "reading the job", err)
		return
	}
	timeline, err := s.timeline(job, p.Namespace)
	if err != nil {
		s.apiError(w, p, "rendering the job", err)
		return
	}
	v := jobView{Job: job, Timeline: timeline, Finished: sluicectl.JobFinished(job)}
	// The output so far, also of a running job, so that the page shows
	// it without JavaScript; the script streams it again, whole.
	{
		var b bytes.Buffer
		lw := &cappedWriter{w: &b, n: maxLogBytes}
		if err := s.Logs(r.Context(), p.Namespace, name, false, lw); err != nil && !errors.Is(err, errCapped) {
			v.LogError = sluicectl.ErrorMessage(err)
		}
		v.Log = b.String()
		if lw.n == 0 {
			v.Log += "\n[dashboard] the output is longer than 1 MiB: see kubectl sluice logs " + name + "\n"
		}
	}
	p.Data = v
	s.render(w, http.StatusOK, "job", p)
}

// startPage begins a page: its namespace and the namespaces to switch to.
// A bad namespace is answered with a 400.
func (s *Server) startPage(w http.ResponseWriter, r *http.Request, title string) (page, bool) {
	p := page{Title: title}
	ns, err := s.namespace(r)
	if err != nil {
		p.Title, p.Message = "Bad request", err.Error()
		s.render(w, http.StatusBadRequest, "refused", p)
		return p, false
	}
	p.Namespace = ns
	if s.Kube != nil {
		// Who may not list namespaces types one in.
		if l, err := s.Kube.CoreV1().Namespaces().List(r.Context(), metav1.ListOptions{}); err == nil {
			for _, n := range l.Items {
				p.Namespaces = append(p.Namespaces, n.Name)
			}
			sort.Strings(p.Namespaces)
		}
	}
	return p, true
}

// apiError shows the server's answer to a read that failed, with its
// status code when it is the user's (4xx), else 502: the dashboard's
// upstream failed.
func (s *Server) apiError(w http.ResponseWriter, p page, doing string, err error) {
	p.Message = doing + ": " + sluicectl.ErrorMessage(err)
	code := sluicectl.HTTPStatus(err)
	if code < 400 || code >= 500 {
		code = http.StatusBadGateway
	}
	if apierrors.IsNotFound(err) {
		p.Title = "Not found"
	}
	s.render(w, code, "refused", p)
}
