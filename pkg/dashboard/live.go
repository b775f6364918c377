package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

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
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
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
// ended. The stream starts with the job as it is.
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
	rv := job.ResourceVersion
	for {
		if ended, err := s.sendTimeline(events, job, ns); err != nil || ended {
			return
		}
		// A watch ends now and then (the server's timeout); it is opened
		// again from the last version seen.
		job, rv, err = s.nextChange(ctx, ns, name, rv)
		if err != nil || job == nil {
			return
		}
	}
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

// nextChange waits for the next change of the job after version rv; nil
// when the job was deleted or the request ended.
func (s *Server) nextChange(ctx context.Context, ns, name, rv string) (*v1alpha1.PipelineJob, string, error) {
	for {
		wi, err := s.Sluice.SluiceV1alpha1().PipelineJobs(ns).Watch(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: rv,
		})
		if err != nil {
			return nil, rv, err
		}
	events:
		for {
			var ev watch.Event
			var open bool
			// The request's end stops the wait even if the watch does not
			// close with its context at once.
			select {
			case <-ctx.Done():
				wi.Stop()
				return nil, rv, ctx.Err()
			case ev, open = <-wi.ResultChan():
			}
			if !open {
				break events
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				job, ok := ev.Object.(*v1alpha1.PipelineJob)
				// The version sent already is not sent again.
				if !ok || job.Name != name || job.ResourceVersion == rv {
					continue
				}
				wi.Stop()
				return job, job.ResourceVersion, nil
			case watch.Deleted:
				if job, ok := ev.Object.(*v1alpha1.PipelineJob); ok && job.Name == name {
					wi.Stop()
					return nil, rv, nil
				}
			case watch.Error:
				// Gone: the version is too old; the browser opens the
				// stream again and starts from the job as it is.
				wi.Stop()
				return nil, rv, fmt.Errorf("the watch of %s failed", name)
			}
		}
		wi.Stop()
		if ctx.Err() != nil {
			return nil, rv, ctx.Err()
		}
	}
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
