package kubectlsluice

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	"github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/scheme"
	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

// Reading a job's output through pipelinejobs/log, and reading on when the
// stream breaks.
//
// A followed stream lives as long as the job, so it meets every hiccup of
// the path to the server: kube-apiserver restarting, a connection reset, a
// proxy's timeout. The follower then asks again and skips what it has
// printed, so that no line is printed twice and none is missed. To know
// where it stopped, it always asks for timestamps (and cuts them off again
// unless the user asked for them): the answer is a sequence of sections,
// each a header "==> step/action (attempt n)" and that output's lines in
// order, each line stamped by the kubelet. The follower remembers the
// sections it finished, and of the one it was printing the last time
// printed and the lines with that time it printed. A new answer is
// the same sections in the same order: a finished section is skipped
// whole, the interrupted one up to that line, and the rest is new.
//
// It asks again for the whole selection rather than for the lines since
// the last time printed (sinceSeconds): sinceSeconds is counted on the
// server's clock and the time on the kubelet's, and a client cannot know
// how far apart they are, so a window small enough to save reading would
// risk missing lines. A user's own --since is kept, as an absolute time,
// and --tail is asked only the first time: lines written while the stream
// was broken are all printed.

// logFollower prints the output of a job, as `kubectl sluice logs` does.
type logFollower struct {
	client    sluiceclient.Interface
	namespace string
	job       string
	// opts are the user's options; Timestamps says whether times are
	// printed, and LimitBytes bounds what is printed.
	opts v1alpha1.PipelineJobLogOptions
	out  io.Writer
	// errOut is told when the stream broke and is being opened again.
	errOut io.Writer

	// now is the clock that turns sinceSeconds into a time.
	now func() time.Time
	// minBackoff and maxBackoff bound the wait before a stream is opened
	// again after a failure; it doubles with each failure in a row.
	minBackoff, maxBackoff time.Duration
	// maxFailures is how many failures in a row a snapshot (not
	// following) survives; following tries until it is stopped.
	maxFailures int
}

func newLogFollower(client sluiceclient.Interface, namespace, job string, opts v1alpha1.PipelineJobLogOptions, out, errOut io.Writer) *logFollower {
	return &logFollower{
		client: client, namespace: namespace, job: job, opts: opts, out: out, errOut: errOut,
		now: time.Now, minBackoff: 500 * time.Millisecond, maxBackoff: 8 * time.Second, maxFailures: 5,
	}
}

// errEndedEarly is a followed answer that ended while the job runs on.
var errEndedEarly = errors.New("the stream ended before the job")

// errLogsDone ends a pass whose printing reached the byte limit.
var errLogsDone = errors.New("the byte limit is reached")

// Run prints the job's output until the answer ends: with Follow, until
// the job has ended and all of its output is printed.
func (l *logFollower) Run(ctx context.Context) error {
	var since time.Time
	if l.opts.SinceSeconds != nil {
		since = l.now().Add(-time.Duration(*l.opts.SinceSeconds) * time.Second)
	}
	var out io.Writer = l.out
	if l.opts.LimitBytes != nil {
		out = &limitedWriter{w: l.out, n: *l.opts.LimitBytes}
	}
	cur := newLogCursor(out, l.opts.Timestamps)
	follow := l.opts.Follow
	failures := 0
	delay := l.minBackoff
	for pass := 0; ; pass++ {
		opts := l.request(pass, since, follow)
		printedBefore := cur.printed
		err := l.pass(ctx, opts, cur)
		if errors.Is(err, errLogsDone) {
			return nil
		}
		if err == nil && !follow {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			// The server ends a followed answer once the job has ended
			// and it wrote all of its output; but a server going away
			// may end it too, without an error. So the job says which:
			// once it has ended, one last answer, not followed, holds
			// everything, and the cursor skips what was printed.
			ended, gone, gerr := l.jobEnded(ctx)
			switch {
			case apierrors.IsForbidden(gerr):
				// One who may read the log but not the job: the
				// server's end is taken for the job's.
				return nil
			case gerr != nil:
				err = gerr
			case gone:
				return nil
			case ended:
				follow = false
				continue
			default:
				err = errEndedEarly
			}
		}
		if pass > 0 && apierrors.IsNotFound(err) {
			return nil // the job was deleted while it was followed
		}
		if !retryable(err) {
			return err
		}
		if cur.printed > printedBefore {
			failures, delay = 0, l.minBackoff
		}
		failures++
		if !follow && failures > l.maxFailures {
			return err
		}
		if failures == 1 && l.errOut != nil {
			fmt.Fprintf(l.errOut, "--> the log stream broke (%s); reconnecting\n", sluicectl.ErrorMessage(err))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, l.maxBackoff)
	}
}

// request is the query of a pass: the user's selection, always with
// timestamps; the tail only the first time; the user's since as it was
// when the command started.
func (l *logFollower) request(pass int, since time.Time, follow bool) *v1alpha1.PipelineJobLogOptions {
	opts := &v1alpha1.PipelineJobLogOptions{
		Step: l.opts.Step, Action: l.opts.Action, Attempt: l.opts.Attempt,
		Follow: follow, Timestamps: true,
	}
	if pass == 0 {
		opts.TailLines = l.opts.TailLines
	}
	if !since.IsZero() {
		s := int64(l.now().Sub(since).Seconds() + 0.999)
		opts.SinceSeconds = &s
	}
	return opts
}

// pass reads one answer into the cursor, until it ends (nil) or breaks.
func (l *logFollower) pass(ctx context.Context, opts *v1alpha1.PipelineJobLogOptions, cur *logCursor) error {
	stream, err := l.client.SluiceV1alpha1().RESTClient().Get().
		Namespace(l.namespace).Resource("pipelinejobs").Name(l.job).SubResource("log").
		VersionedParams(opts, scheme.ParameterCodec).
		Stream(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	cur.startPass()
	r := bufio.NewReaderSize(stream, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			// A line without its newline is cut short: the server ends
			// every line it writes. The next answer has it whole.
			if errors.Is(err, io.EOF) && len(line) == 0 {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if err := cur.line(line); err != nil {
			return err
		}
	}
}

// jobEnded says whether the job has ended, or is gone.
func (l *logFollower) jobEnded(ctx context.Context) (ended, gone bool, err error) {
	job, err := l.client.SluiceV1alpha1().PipelineJobs(l.namespace).Get(ctx, l.job, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, true, nil
	}
	if err != nil {
		return false, false, err
	}
	return sluicectl.JobFinished(job), false, nil
}

// retryable says whether a failed read may succeed when tried again: not
// when the server refused it (a 4xx Status), unless it asked to be asked
// again later.
func retryable(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true // the connection: refused, reset, cut short
	}
	code := status.Status().Code
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code == 0
}

// logCursor prints the lines of the answers, each once: it remembers where
// in the job's output the printing stands.
type logCursor struct {
	out        io.Writer
	timestamps bool
	// printed counts the lines printed, to tell a pass that made progress.
	printed int

	// finished are the sections printed to their end.
	finished map[string]bool
	// current is the header of the section being printed; "" is the
	// output of an answer without headers (one step, action and attempt).
	current string
	// lastTime is the time of the last line of current printed, and
	// atLastTime the lines with that time printed, counted by what they
	// say: lines of the same time are told apart by their text.
	lastTime   time.Time
	atLastTime map[string]int
	// markers are the lines without a time printed in current: the
	// server's own lines, such as "[sluice] this output is lost: …".
	markers map[string]bool

	// The pass's position: skip drops a finished section; resuming is
	// set in the section that was interrupted, until the pass is past
	// what was printed of it; toMatch are the lines at lastTime printed
	// that the pass has not met again.
	skip     bool
	resuming bool
	toMatch  map[string]int
}

func newLogCursor(out io.Writer, timestamps bool) *logCursor {
	return &logCursor{out: out, timestamps: timestamps, finished: map[string]bool{}, markers: map[string]bool{}, atLastTime: map[string]int{}}
}

// startPass starts reading an answer from its beginning: before any
// header, in the section without one.
func (c *logCursor) startPass() {
	c.enter("")
}

// enter starts reading section (a header line) in the pass.
func (c *logCursor) enter(section string) {
	c.skip = c.finished[section]
	c.resuming = section == c.current
	if c.resuming {
		c.toMatch = maps.Clone(c.atLastTime)
	}
}

// line takes one line of an answer, with its newline.
func (c *logCursor) line(line []byte) error {
	at, text, timed := splitTime(line)
	if !timed && isHeader(line) {
		section := string(line)
		c.enter(section)
		if c.skip || c.resuming {
			return nil
		}
		if c.current != "" {
			c.finished[c.current] = true
		}
		c.current, c.lastTime = section, time.Time{}
		clear(c.atLastTime)
		clear(c.markers)
		c.resuming = false
		return c.print(line)
	}
	if c.skip {
		return nil
	}
	if !timed {
		if c.markers[string(line)] {
			return nil
		}
		c.markers[string(line)] = true
		return c.print(line)
	}
	if c.resuming {
		switch {
		case at.Before(c.lastTime):
			return nil
		case at.Equal(c.lastTime):
			// A line of the last time printed, or one that was not (an
			// earlier one a --tail left out, or one written since with
			// the very same time): printed once either way.
			if c.toMatch[string(text)] > 0 {
				c.toMatch[string(text)]--
				return nil
			}
		default:
			c.resuming = false // past what was printed: the rest is new
		}
	}
	if !at.Equal(c.lastTime) {
		c.lastTime = at
		clear(c.atLastTime)
	}
	c.atLastTime[string(text)]++
	if c.timestamps {
		return c.print(line)
	}
	return c.print(text)
}

func (c *logCursor) print(b []byte) error {
	c.printed++
	_, err := c.out.Write(b)
	return err
}

// isHeader says whether a line without a time is a section's header:
// "==> step/action (attempt n)" or "==> step (skipped)". With timestamps,
// every line of output begins with its time, so none is taken for one.
func isHeader(line []byte) bool {
	return bytes.HasPrefix(line, []byte("==> ")) &&
		(bytes.HasSuffix(line, []byte(")\n")) && bytes.Contains(line, []byte(" (attempt ")) || bytes.HasSuffix(line, []byte(" (skipped)\n")))
}

// splitTime splits the RFC 3339 time a line of output begins with from
// the rest of the line.
func splitTime(line []byte) (time.Time, []byte, bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < len("2006-01-02T15:04:05Z") {
		return time.Time{}, line, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(line[:sp]))
	if err != nil {
		return time.Time{}, line, false
	}
	return t, line[sp+1:], true
}

// limitedWriter writes at most n bytes over all writes, then errLogsDone.
type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= l.n {
		n, err := l.w.Write(p)
		l.n -= int64(n)
		return n, err
	}
	n, err := l.w.Write(p[:l.n])
	l.n -= int64(n)
	if err == nil {
		err = errLogsDone
	}
	return n, err
}

// sinceSeconds turns a --since duration into the API's whole seconds,
// rounded up as kubectl does.
func sinceSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
