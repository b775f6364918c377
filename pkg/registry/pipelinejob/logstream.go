package pipelinejob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/joblog"
	"github.com/sluice-dev/sluice/pkg/storage/postgres"
)

// errJobGone ends a followed answer: the job was deleted.
var errJobGone = errors.New("the job was deleted")

// liveRetry is the wait before a Pod's output is asked for again, after its
// stream ended while its container runs on, or could not be opened.
const liveRetry = time.Second

// write writes the answer: what the job has written so far, or, following,
// everything until the job ends.
func (s *logStream) write(ctx context.Context, out io.Writer) error {
	w := out
	if s.opts.LimitBytes != nil {
		w = joblog.NewLimitWriter(out, *s.opts.LimitBytes)
	}
	if s.opts.Follow {
		return s.follow(ctx, w)
	}
	return s.snapshot(ctx, w)
}

// selects says whether the request selects the named step and action; an
// empty action stands for the step itself.
func (s *logStream) selects(step, action string) bool {
	return (s.opts.Step == "" || s.opts.Step == step) && (action == "" || s.opts.Action == "" || s.opts.Action == action)
}

func (s *logStream) key(step string, attempt int32, action string) postgres.LogKey {
	return postgres.LogKey{JobUID: s.job.UID, Step: step, Attempt: attempt, Action: action}
}

// header introduces the output of an action, when the answer may hold more
// than one.
func (s *logStream) header(w io.Writer, k postgres.LogKey) error {
	if !s.headers() {
		return nil
	}
	_, err := io.WriteString(w, joblog.Header(k.Step, k.Action, int64(k.Attempt)))
	return err
}

// snapshot writes the output of each selected action that has any, in the
// order the pipeline runs them: from the archive when it is there, else
// from the Pod of the step's latest attempt.
func (s *logStream) snapshot(ctx context.Context, w io.Writer) error {
	job := s.job
	spec := job.Status.PipelineSpec
	if spec == nil {
		return nil // not started: nothing written yet
	}
	infos, err := s.r.logs.Archive.List(ctx, job.UID)
	if err != nil {
		return err
	}
	archived := make(map[postgres.LogKey]bool, len(infos))
	for _, info := range infos {
		archived[info.LogKey] = true
	}
	for i, step := range spec.Steps {
		if step.Approval != nil || !s.selects(step.Name, "") || i >= len(job.Status.Steps) {
			continue
		}
		st := &job.Status.Steps[i]
		if st.Phase == sluice.StepSkipped {
			if _, err := io.WriteString(w, joblog.Skipped(step.Name)); err != nil {
				return err
			}
			continue
		}
		for _, attempt := range s.attempts(st) {
			for _, action := range step.Actions {
				if !s.selects(step.Name, action.Name) {
					continue
				}
				k := s.key(step.Name, attempt, action.Name)
				switch {
				case archived[k]:
					err = s.copyArchive(ctx, w, k)
				case attempt == st.Attempts && lost(actionStatus(st, action.Name)):
					err = s.lost(w, k, actionStatus(st, action.Name).Log.Message)
				case attempt == st.Attempts && started(actionStatus(st, action.Name)):
					err = s.copyPod(ctx, w, k, st.PodName)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// attempts are the attempts of the step the request selects, in order.
func (s *logStream) attempts(st *sluice.StepStatus) []int32 {
	if s.opts.Attempt > 0 {
		if int64(st.Attempts) < s.opts.Attempt {
			return nil
		}
		return []int32{int32(s.opts.Attempt)}
	}
	out := make([]int32, 0, st.Attempts)
	for a := int32(1); a <= st.Attempts; a++ {
		out = append(out, a)
	}
	return out
}

// started says whether the controller saw the action's container start in
// a Pod the job controls. Only then is the Pod of the step's attempt read:
// a Pod of that name that the job does not control is never shown.
func started(as *sluice.ActionStatus) bool {
	return as != nil && (as.StartTime != nil || as.ExitCode != nil)
}

func lost(as *sluice.ActionStatus) bool {
	return as != nil && as.Log != nil && as.Log.State == sluice.LogLost
}

func archivedState(as *sluice.ActionStatus) bool {
	return as != nil && as.Log != nil && as.Log.State == sluice.LogArchived
}

func actionStatus(st *sluice.StepStatus, name string) *sluice.ActionStatus {
	for k := range st.Actions {
		if st.Actions[k].Name == name {
			return &st.Actions[k]
		}
	}
	return nil
}

// copyArchive writes an archived output through the request's filter,
// after a line that says so when its start was not kept.
func (s *logStream) copyArchive(ctx context.Context, w io.Writer, k postgres.LogKey) error {
	rc, info, err := s.r.logs.Archive.Open(ctx, k)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := s.header(w, k); err != nil {
		return err
	}
	if info.TruncatedBytes > 0 {
		if _, err := io.WriteString(w, joblog.Truncated(info.TruncatedBytes)); err != nil {
			return err
		}
	}
	_, err = s.filter().Copy(w, rc)
	return err
}

// copyPod writes a Pod's output so far through the request's filter.
func (s *logStream) copyPod(ctx context.Context, w io.Writer, k postgres.LogKey, pod string) error {
	rc, err := s.r.logs.Pods.Stream(ctx, s.ns, pod, k.Action, false)
	if apierrors.IsNotFound(err) {
		return nil // gone meanwhile; archived soon, or lost
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := s.header(w, k); err != nil {
		return err
	}
	_, err = s.filter().Copy(w, rc)
	return err
}

// lost writes the line that stands for an output that was never archived.
func (s *logStream) lost(w io.Writer, k postgres.LogKey, why string) error {
	if err := s.header(w, k); err != nil {
		return err
	}
	_, err := io.WriteString(w, joblog.Lost(why))
	return err
}

// follow writes each selected action's output as the job runs it: what
// was written before, then the live tail, moving on to the next action and
// step, until the job has ended, or is deleted, or the client goes.
func (s *logStream) follow(ctx context.Context, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	feed := s.r.jobs.feedJob(ctx, s.job)
	job, err := feed.waitFor(ctx, func(j *sluice.PipelineJob) bool {
		return j.Status.PipelineSpec != nil || j.Status.Phase.Finished()
	})
	if err != nil || job.Status.PipelineSpec == nil {
		return err
	}
	for i, step := range job.Status.PipelineSpec.Steps {
		if step.Approval != nil || !s.selects(step.Name, "") {
			continue
		}
		job, err = feed.waitFor(ctx, func(j *sluice.PipelineJob) bool {
			st := stepAt(j, i)
			return (st.Phase != "" && st.Phase != sluice.StepPending) || j.Status.Phase.Finished()
		})
		if err != nil {
			return err
		}
		if st := stepAt(job, i); st.Phase == sluice.StepSkipped {
			if _, err := io.WriteString(w, joblog.Skipped(step.Name)); err != nil {
				return err
			}
			continue
		}
		attempt := int32(1)
		if s.opts.Attempt > 0 {
			attempt = int32(s.opts.Attempt)
		}
		for ; ; attempt++ {
			job, err = feed.waitFor(ctx, func(j *sluice.PipelineJob) bool {
				st := stepAt(j, i)
				return st.Attempts >= attempt || settled(st) || j.Status.Phase.Finished()
			})
			if err != nil {
				return err
			}
			if stepAt(job, i).Attempts < attempt {
				break
			}
			for _, action := range step.Actions {
				if !s.selects(step.Name, action.Name) {
					continue
				}
				if err := s.followAction(ctx, w, feed, i, s.key(step.Name, attempt, action.Name)); err != nil {
					return err
				}
			}
			if s.opts.Attempt > 0 {
				break
			}
		}
	}
	return nil
}

// stepAt is the status of step i, or an empty one before the job has it.
func stepAt(j *sluice.PipelineJob, i int) *sluice.StepStatus {
	if i < len(j.Status.Steps) {
		return &j.Status.Steps[i]
	}
	return &sluice.StepStatus{}
}

// settled says whether a step has ended; the controller ends it once the
// output of its actions is archived.
func settled(st *sluice.StepStatus) bool {
	switch st.Phase {
	case sluice.StepSucceeded, sluice.StepFailed, sluice.StepCancelled, sluice.StepSkipped:
		return true
	}
	return false
}

// followAction writes the output of one action of one attempt of step i,
// once it has any: from the archive if it is there, else live from the
// Pod until the container ends, then the rest.
func (s *logStream) followAction(ctx context.Context, w io.Writer, feed *jobFeed, i int, k postgres.LogKey) error {
	job, err := feed.waitFor(ctx, func(j *sluice.PipelineJob) bool {
		st := stepAt(j, i)
		as := actionStatus(st, k.Action)
		return st.Attempts > k.Attempt || settled(st) || j.Status.Phase.Finished() ||
			started(as) || (as != nil && as.Log != nil)
	})
	if err != nil {
		return err
	}
	// copyArchive writes nothing for an output the archive does not have.
	if err := s.copyArchive(ctx, w, k); !errors.Is(err, postgres.ErrLogNotFound) {
		return err
	}
	st := stepAt(job, i)
	as := actionStatus(st, k.Action)
	if st.Attempts != k.Attempt {
		return nil // an earlier attempt whose action never ran
	}
	if lost(as) {
		return s.lost(w, k, as.Log.Message)
	}
	if !started(as) {
		return nil // the step ended before the action ran
	}
	if err := s.header(w, k); err != nil {
		return err
	}
	return s.followPod(ctx, w, feed, i, k, st.PodName)
}

// followPod writes an action's output from its Pod as it comes, until the
// controller records that the container has ended, then the rest of it
// from the archive or the Pod. Every read is counted in bytes of whole
// lines of the same output (pods/log with timestamps, which is also what
// the archive holds), so each read goes on exactly where the last one
// stopped: no line is missed or written twice at a seam.
func (s *logStream) followPod(ctx context.Context, w io.Writer, feed *jobFeed, i int, k postgres.LogKey, pod string) error {
	f := s.filter()
	out := joblog.NewFollower(w, joblog.Filter{Tail: joblog.NoTail, Since: f.Since, Timestamps: f.Timestamps})
	ended := func(j *sluice.PipelineJob) bool {
		st := stepAt(j, i)
		as := actionStatus(st, k.Action)
		return st.Attempts != k.Attempt || as == nil || as.ExitCode != nil || as.Log != nil || settled(st) || j.Status.Phase.Finished()
	}
	if f.Tail >= 0 {
		// The tail of what is written so far; the stream goes on after it.
		rc, err := s.r.logs.Pods.Stream(ctx, s.ns, pod, k.Action, false)
		switch {
		case err == nil:
			out.Consumed, err = f.CopyComplete(w, rc)
			rc.Close()
			if err != nil {
				return err
			}
		case !apierrors.IsNotFound(err):
			return err
		}
	}
	for {
		job, _ := feed.current()
		if job == nil {
			return errJobGone
		}
		if ended(job) {
			break
		}
		gone, err := s.streamPod(ctx, feed, out, pod, k.Action, ended)
		if err != nil {
			return err
		}
		if gone {
			break
		}
	}
	return s.finishAction(ctx, w, feed, i, k, pod, out)
}

// streamPod copies the Pod's live output into out, from out.Consumed on,
// until the stream ends or ended says the action has. It reports whether
// the Pod is gone. A write error (the client left, or the byte limit) is
// returned; a stream that broke is for the caller to open again.
func (s *logStream) streamPod(ctx context.Context, feed *jobFeed, out *joblog.Follower, pod, container string, ended func(*sluice.PipelineJob) bool) (bool, error) {
	liveCtx, stop := context.WithCancel(ctx)
	defer stop()
	rc, err := s.r.logs.Pods.Stream(liveCtx, s.ns, pod, container, true)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		klog.V(2).InfoS("Following a Pod's output", "pod", klog.KRef(s.ns, pod), "container", container, "err", err)
		return false, feed.waitChange(ctx, liveRetry)
	}
	defer rc.Close()
	var writeErr error
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		if _, err := io.CopyN(io.Discard, rc, out.Consumed); err != nil {
			return
		}
		writeErr = copyWrites(out, rc)
	}()
	select {
	case <-copied:
		if writeErr == nil && ctx.Err() == nil {
			// The stream ended, perhaps before the container did: open
			// it again once something changes, or after a while.
			writeErr = feed.waitChange(ctx, liveRetry)
		}
	case <-feed.until(liveCtx, ended):
		stop()
		<-copied
	}
	out.Reset()
	if writeErr != nil {
		return false, writeErr
	}
	return false, ctx.Err()
}

// copyWrites copies r into w and returns only w's errors: a read error
// ends a stream the caller opens again.
func copyWrites(w io.Writer, r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
		}
		if rerr != nil {
			return nil
		}
	}
}

// finishAction writes the rest of an ended action's output, after the
// out.Consumed bytes already written: from the archive, or from the Pod
// (whose container has ended, so the output is whole), or, when the Pod
// is gone and the archive does not have it yet, from the archive once the
// controller has put it there.
func (s *logStream) finishAction(ctx context.Context, w io.Writer, feed *jobFeed, i int, k postgres.LogKey, pod string, out *joblog.Follower) error {
	for {
		rc, info, err := s.r.logs.Archive.Open(ctx, k)
		if err == nil {
			defer rc.Close()
			skip := out.Consumed - info.TruncatedBytes
			if skip < 0 {
				// What was not written yet is older than what the archive kept.
				if _, err := io.WriteString(w, joblog.Truncated(-skip)); err != nil {
					return err
				}
				skip = 0
			}
			return s.copyRest(out, rc, skip)
		}
		if !errors.Is(err, postgres.ErrLogNotFound) {
			return err
		}
		rc, err = s.r.logs.Pods.Stream(ctx, s.ns, pod, k.Action, false)
		if err == nil {
			defer rc.Close()
			return s.copyRest(out, rc, out.Consumed)
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
		job, err := feed.waitFor(ctx, func(j *sluice.PipelineJob) bool {
			as := actionStatus(stepAt(j, i), k.Action)
			return as == nil || archivedState(as) || lost(as) || j.Status.Phase.Finished()
		})
		if err != nil {
			return err
		}
		as := actionStatus(stepAt(job, i), k.Action)
		if archivedState(as) {
			continue
		}
		why := "its Pod was deleted before the output was archived"
		if lost(as) && as.Log.Message != "" {
			why = as.Log.Message
		}
		_, err = io.WriteString(w, joblog.Lost(why))
		return err
	}
}

// copyRest copies what follows the first skip bytes of a whole output.
func (s *logStream) copyRest(out *joblog.Follower, r io.Reader, skip int64) error {
	if _, err := io.CopyN(io.Discard, r, skip); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		return err
	}
	return out.Flush()
}

// jobFeed follows one job through the storage's watch, for an answer that
// follows the job: the latest version, and a channel closed when it
// changes.
type jobFeed struct {
	mu      sync.Mutex
	job     *sluice.PipelineJob // nil once the job is deleted
	changed chan struct{}
}

// feedJob starts following job until ctx ends.
func (r *REST) feedJob(ctx context.Context, job *sluice.PipelineJob) *jobFeed {
	f := &jobFeed{job: job, changed: make(chan struct{})}
	go f.run(ctx, r, job)
	return f
}

func (f *jobFeed) current() (*sluice.PipelineJob, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.job, f.changed
}

func (f *jobFeed) set(j *sluice.PipelineJob) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.job = j
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitFor waits until cond holds for the job, and returns it; errJobGone
// when the job is deleted first.
func (f *jobFeed) waitFor(ctx context.Context, cond func(*sluice.PipelineJob) bool) (*sluice.PipelineJob, error) {
	for {
		job, changed := f.current()
		if job == nil {
			return nil, errJobGone
		}
		if cond(job) {
			return job, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// until returns a channel closed once cond holds for the job, or the job
// is gone, or ctx ends.
func (f *jobFeed) until(ctx context.Context, cond func(*sluice.PipelineJob) bool) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = f.waitFor(ctx, cond)
	}()
	return done
}

// waitChange waits until the job changes or d passes.
func (f *jobFeed) waitChange(ctx context.Context, d time.Duration) error {
	_, changed := f.current()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// run watches the job from the version the feed started with. When the
// watch ends (the storage ends watches that fall too far behind, or its
// connection to PostgreSQL breaks), it reads the job again and watches on
// from there.
func (f *jobFeed) run(ctx context.Context, r *REST, job *sluice.PipelineJob) {
	rv := job.ResourceVersion
	for ctx.Err() == nil {
		w, err := r.Watch(ctx, &metainternalversion.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", job.Name),
			ResourceVersion: rv,
		})
		if err == nil {
			rv, err = f.consume(w, job)
			w.Stop()
			if errors.Is(err, errJobGone) {
				f.set(nil)
				return
			}
		}
		if err != nil && ctx.Err() == nil {
			klog.V(2).InfoS("Watching a followed job; reading it again", "job", klog.KObj(job), "err", err)
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-time.After(liveRetry):
		case <-ctx.Done():
			return
		}
		obj, err := r.Get(ctx, job.Name, &metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			f.set(nil)
			return
		case err != nil:
			continue
		}
		j := obj.(*sluice.PipelineJob)
		if j.UID != job.UID {
			f.set(nil)
			return
		}
		rv = j.ResourceVersion
		f.set(j)
	}
}

// consume takes the watch's events until it ends, and returns the last
// version seen; errJobGone once the job is deleted.
func (f *jobFeed) consume(w watch.Interface, job *sluice.PipelineJob) (string, error) {
	rv := job.ResourceVersion
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Added, watch.Modified:
			obj := ev.Object
			// The storage shares one object among the watchers of an
			// event, with its serializations (runtime.CacheableObject).
			if shared, ok := obj.(runtime.CacheableObject); ok {
				obj = shared.GetObject()
			}
			j, ok := obj.(*sluice.PipelineJob)
			if !ok {
				continue
			}
			if j.UID != job.UID {
				return rv, errJobGone
			}
			rv = j.ResourceVersion
			f.set(j)
		case watch.Deleted:
			return rv, errJobGone
		case watch.Error:
			return rv, fmt.Errorf("watch of job %s: %v", job.Name, apierrors.FromObject(ev.Object))
		}
	}
	return rv, nil
}
