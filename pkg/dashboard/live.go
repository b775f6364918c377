package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

// The live updates: server-sent events. A browser's EventSource opens
// again by itself when a stream breaks, and each stream begins with the
// state as it is, so nothing is missed: the job stream with the job as it
// is now, the log stream with the whole output so far (the page is
// cleared first).

// eventStream writes server-sent events.
type eventStream struct {
	w       http.ResponseWriter
	flusher http.Flusher
	mu      sync.Mutex
}

// startEvents answers a request with an event stream.
func startEvents(w http.ResponseWriter) (*eventStream, bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported", http.StatusInternalServerError)
		return nil, false
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return &eventStream{w: w, flusher: f}, true
}

// send writes one event; data may have several lines.
func (e *eventStream) send(event, data string) error {
	return e.sendAt(event, data, nil)
}

// sendAt writes one event with the id that id returns, called under the
// stream's lock so that ids go out in the order they were made.
func (e *eventStream) sendAt(event, data string, id func() string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	if id != nil {
		fmt.Fprintf(&b, "id: %s\n", id())
	}
	fmt.Fprintf(&b, "event: %s\n", event)
	for _, line := range strings.Split(data, "\n") {
		fmt.Fprintf(&b, "data: %s\n", line)
	}
	b.WriteString("\n")
	if _, err := e.w.Write([]byte(b.String())); err != nil {
		return err
	}
	e.flusher.Flush()
	return nil
}

// jobEvents streams the job's timeline, re-rendered on every change seen
// by a watch of the job, as "timeline" events; "end" when the job has
// ended. The stream starts with the job as it is, unless it is the
// version the page shows (shown=VERSION).
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) {
	ns, err := s.namespace(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	name := r.PathValue("name")
	ctx := r.Context()
	jobs := s.Sluice.SluiceV1alpha1().PipelineJobs(ns)
	job, err := jobs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		code := sluicectl.HTTPStatus(err)
		if code < 400 || code >= 500 {
			code = http.StatusBadGateway
		}
		http.Error(w, sluicectl.ErrorMessage(err), code)
		return
	}
	events, ok := startEvents(w)
	if !ok {
		return
	}
	// The page shows the version it was made from: the stream sends the
	// job as it is only when it is not that one, so that the page is not
	// redrawn, under the user's cursor, to the same.
	if job.ResourceVersion != r.URL.Query().Get("shown") || sluicectl.JobFinished(job) {
		if ended, err := s.sendTimeline(events, job, ns); err != nil || ended {
			return
		}
	}
	byName := fields.OneTermEqualSelector("metadata.name", name).String()
	changes, err := retryWatch(ctx, job.ResourceVersion, func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		opts.FieldSelector = byName
		return jobs.Watch(ctx, opts)
	})
	if err != nil {
		return
	}
	defer changes.Stop()
	for ev := range changes.ResultChan() {
		job, ok := ev.Object.(*v1alpha1.PipelineJob)
		if !ok || job.Name != name {
			// A watch that cannot go on (the version is too old, the
			// user may no longer watch): the browser opens the stream
			// again, which starts from the job as it is.
			if ev.Type == watch.Error {
				return
			}
			continue
		}
		if ev.Type == watch.Deleted {
			return
		}
		if ended, err := s.sendTimeline(events, job, ns); err != nil || ended {
			return
		}
	}
}

// retryWatch watches from version rv until ctx ends, opening the watch
// again from the last version seen when the server closes it (its
// timeout) or the connection breaks, as client-go's RetryWatcher does. A
// watch that cannot go on (410 Gone, 403) ends with a watch.Error event.
func retryWatch(ctx context.Context, rv string, open cache.WatchFuncWithContext) (*watchtools.RetryWatcher, error) {
	return watchtools.NewRetryWatcherWithContext(ctx, rv, &cache.ListWatch{WatchFuncWithContext: open})
}

// sendTimeline sends the job's timeline, and "end" once it has ended.
func (s *Server) sendTimeline(events *eventStream, job *v1alpha1.PipelineJob, ns string) (bool, error) {
	html, err := s.timeline(job, ns)
	if err != nil {
		return false, err
	}
	if err := events.send("timeline", string(html)); err != nil {
		return false, err
	}
	if sluicectl.JobFinished(job) {
		return true, events.send("end", string(sluicectl.JobPhase(job)))
	}
	return false, nil
}

// logEvents streams the job's output as "line" events, each one line,
// from the beginning, until the job has ended and all of it is sent:
// then "end". A failure to read it is a "failure" event with the reason.
func (s *Server) logEvents(w http.ResponseWriter, r *http.Request) {
	ns, err := s.namespace(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	events, ok := startEvents(w)
	if !ok {
		return
	}
	lw := &lineEvents{events: events}
	err = s.Logs(r.Context(), ns, r.PathValue("name"), true, lw)
	if r.Context().Err() != nil {
		return
	}
	_ = lw.flush()
	if err != nil {
		_ = events.send("failure", sluicectl.ErrorMessage(err))
		return
	}
	_ = events.send("end", "")
}

// lineEvents sends what is written to it as one "line" event per line.
type lineEvents struct {
	events  *eventStream
	partial bytes.Buffer
}

func (l *lineEvents) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.partial.Write(p)
			break
		}
		l.partial.Write(p[:i])
		if err := l.send(); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// flush sends the line written so far, if any.
func (l *lineEvents) flush() error {
	if l.partial.Len() == 0 {
		return nil
	}
	return l.send()
}

// send sends the line written so far, even an empty one.
func (l *lineEvents) send() error {
	line := strings.ReplaceAll(l.partial.String(), "\r", "")
	l.partial.Reset()
	return l.events.send("line", line)
}

// listEvents keeps the pipelines page and the jobs page up to date. With
// jobs=VERSION, it watches the namespace's jobs (those the jobs page's
// filter selects) from that version: "job-added" and "job-changed" carry
// the job's row, "job-deleted" its name (a job that no longer matches a
// filter on its phase leaves it too). With pipelines=VERSION, it watches
// the pipelines: "environments" carries a pipeline's environments, with
// what each runs now, and "pipelines" says that one was added or deleted,
// for the page to offer a reload. Each event's id holds the versions
// reached; a browser that reconnects sends it back (Last-Event-ID) and the
// stream goes on from there. "stale" says that a watch cannot go on (its
// version is too old, or the user may no longer watch): the page is then
// out of date, and says so.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	ns, err := s.namespace(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	_, jobsOpts, err := jobsSelection(q)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	versions := listVersions{jobs: q.Get("jobs"), pipelines: q.Get("pipelines")}
	if last, err := url.ParseQuery(r.Header.Get("Last-Event-ID")); err == nil {
		if v := last.Get("jobs"); v != "" && versions.jobs != "" {
			versions.jobs = v
		}
		if v := last.Get("pipelines"); v != "" && versions.pipelines != "" {
			versions.pipelines = v
		}
	}
	if versions.jobs == "" && versions.pipelines == "" {
		http.Error(w, "nothing to follow: give jobs=VERSION or pipelines=VERSION", http.StatusBadRequest)
		return
	}
	events, ok := startEvents(w)
	if !ok {
		return
	}
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	c := s.Sluice.SluiceV1alpha1()
	var wg sync.WaitGroup
	follow := func(version *string, open cache.WatchFuncWithContext, send func(watch.Event) (string, string, error)) {
		defer wg.Done()
		// Whichever watch ends, the stream ends: the browser opens it
		// again from the versions it reached.
		defer stop()
		changes, err := retryWatch(ctx, *version, open)
		if err != nil {
			return
		}
		defer changes.Stop()
		for ev := range changes.ResultChan() {
			if ev.Type == watch.Error {
				_ = events.send("stale", sluicectl.ErrorMessage(apierrors.FromObject(ev.Object)))
				return
			}
			name, data, err := send(ev)
			if err != nil {
				klog.ErrorS(err, "Rendering a dashboard update")
				return
			}
			if name == "" {
				continue
			}
			if err := events.sendAt(name, data, func() string {
				*version = ev.Object.(metav1.Object).GetResourceVersion()
				return versions.id()
			}); err != nil {
				return
			}
		}
	}
	if versions.jobs != "" {
		wg.Add(1)
		go follow(&versions.jobs, func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector, opts.FieldSelector = jobsOpts.LabelSelector, jobsOpts.FieldSelector
			return c.PipelineJobs(ns).Watch(ctx, opts)
		}, func(ev watch.Event) (string, string, error) {
			job, ok := ev.Object.(*v1alpha1.PipelineJob)
			if !ok {
				return "", "", nil
			}
			switch ev.Type {
			case watch.Deleted:
				return "job-deleted", job.Name, nil
			case watch.Added:
				row, err := s.fragment("jobrow", job)
				return "job-added", row, err
			default:
				row, err := s.fragment("jobrow", job)
				return "job-changed", row, err
			}
		})
	}
	if versions.pipelines != "" {
		wg.Add(1)
		go follow(&versions.pipelines, func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return c.Pipelines(ns).Watch(ctx, opts)
		}, func(ev watch.Event) (string, string, error) {
			pl, ok := ev.Object.(*v1alpha1.Pipeline)
			if !ok {
				return "", "", nil
			}
			switch ev.Type {
			case watch.Added:
				return "pipelines", "Pipeline " + pl.Name + " was added.", nil
			case watch.Deleted:
				return "pipelines", "Pipeline " + pl.Name + " was deleted.", nil
			default:
				html, err := s.fragment("environments", environmentsFragment{Namespace: ns, Pipeline: pl.Name, Environments: environmentsOf(pl)})
				return "environments", html, err
			}
		})
	}
	wg.Wait()
}

// listVersions are the versions a list stream has reached.
type listVersions struct {
	jobs, pipelines string
}

// id is the versions as an event id: a query, as the stream is asked.
func (v *listVersions) id() string {
	q := url.Values{}
	if v.jobs != "" {
		q.Set("jobs", v.jobs)
	}
	if v.pipelines != "" {
		q.Set("pipelines", v.pipelines)
	}
	return q.Encode()
}

// environmentsFragment is what the environments fragment shows.
type environmentsFragment struct {
	Namespace    string
	Pipeline     string
	Environments []environmentView
}

// fragment renders one of the fragments the pages share.
func (s *Server) fragment(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := s.pages["pipelines"].ExecuteTemplate(&b, name, data); err != nil {
		return "", err
	}
	return b.String(), nil
}
