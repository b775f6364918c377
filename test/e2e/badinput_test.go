package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// TestBadInput: an invalid object is a 422 naming every bad field, and
// nothing is stored; a 20 MiB object is refused with 413; a 5 MiB one, which
// no CRD could hold, is stored; an object of exactly --max-object-size
// (15 MiB) as JSON is stored, and sent to a client-go watch, and one a
// byte larger is a 413 that says both sizes.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t, "bad")
	c := sluiceAdmin(t).SluiceV1alpha1()

	bad := pipeline("bad", "Build", "build")
	bad.Spec.Steps[1].Actions[0].Image = ""
	bad.Spec.Steps[1].Retries = 11
	bad.Spec.Steps[1].Actions[0].Args = []string{"$(params.missing)"}
	_, err := c.Pipelines(ns).Create(ctx, bad, metav1.CreateOptions{})
	require.True(t, apierrors.IsInvalid(err), "got %v", err)
	status := err.(apierrors.APIStatus).Status()
	require.EqualValues(t, 422, status.Code)
	var fields []string
	for _, cause := range status.Details.Causes {
		fields = append(fields, cause.Field)
	}
	require.ElementsMatch(t, []string{"spec.steps[0].name", "spec.steps[1].actions[0].image", "spec.steps[1].actions[0].args[0]", "spec.steps[1].retries"}, fields)
	_, err = c.Pipelines(ns).Get(ctx, "bad", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "nothing stored: %v", err)

	// A job with both pipelineRef and pipelineSpec, and a bad trigger.
	j := job("j", "p")
	j.Spec.PipelineSpec = &pipeline("x", "a").Spec
	j.Spec.Trigger.Type = "Push"
	_, err = c.PipelineJobs(ns).Create(ctx, j, metav1.CreateOptions{})
	require.True(t, apierrors.IsInvalid(err), "got %v", err)
	require.Contains(t, err.Error(), "spec.pipelineSpec: Forbidden")
	require.Contains(t, err.Error(), `spec.trigger.type: Unsupported value: "Push"`)

	big := func(name string, size int) *v1alpha1.Pipeline {
		p := pipeline(name, "a")
		p.Spec.Description = strings.Repeat("x", size)
		return p
	}
	_, err = c.Pipelines(ns).Create(ctx, big("huge", 20<<20), metav1.CreateOptions{})
	require.True(t, apierrors.IsRequestEntityTooLargeError(err), "20 MiB: %v", err)
	require.Contains(t, err.Error(), "Request entity too large")

	created, err := c.Pipelines(ns).Create(ctx, big("five-mib", 5<<20), metav1.CreateOptions{})
	require.NoError(t, err, "a 5 MiB object")
	got, err := c.Pipelines(ns).Get(ctx, "five-mib", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, got.Spec.Description, 5<<20)
	require.Equal(t, created.ResourceVersion, got.ResourceVersion)

	// At the storage's limit and one byte over, in bodies under the
	// request's. The limit is on the object's JSON, what a watch sends,
	// though it is stored in protobuf, and the 413 says how large that is;
	// names of one length make objects whose sizes differ only by their
	// descriptions.
	storedSize := regexp.MustCompile(`the object is (\d+) bytes as JSON; the limit is (\d+) bytes`)
	_, err = c.Pipelines(ns).Create(ctx, big("limit-a", maxObjectSize), metav1.CreateOptions{})
	require.True(t, apierrors.IsRequestEntityTooLargeError(err), "a description of 15 MiB: %v", err)
	m := storedSize.FindStringSubmatch(err.Error())
	require.NotNil(t, m, "the 413 says the sizes: %v", err)
	require.Equal(t, strconv.Itoa(maxObjectSize), m[2])
	size, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	atLimit := maxObjectSize - (size - maxObjectSize)
	// Every client-go watch of pipelines (the controller's informer) is
	// sent the largest object there can be: its event, the object with its
	// resourceVersion in an envelope, must fit client-go's watch decoder,
	// which refuses an event over 16 MiB and ends the watch.
	w, err := c.Pipelines(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: created.ResourceVersion})
	require.NoError(t, err)
	defer w.Stop()
	_, err = c.Pipelines(ns).Create(ctx, big("limit-b", atLimit), metav1.CreateOptions{})
	require.NoError(t, err, "an object of exactly %d bytes as JSON", maxObjectSize)
	for seen := false; !seen; {
		select {
		case ev, ok := <-w.ResultChan():
			require.True(t, ok, "the watch ended before it sent the largest object")
			require.NotEqual(t, watch.Error, ev.Type, "a client-go watch of the largest object: %+v", ev.Object)
			seen = ev.Object.(*v1alpha1.Pipeline).Name == "limit-b"
		case <-ctx.Done():
			t.Fatal("the watch never sent the largest object")
		}
	}
	_, err = c.Pipelines(ns).Create(ctx, big("limit-c", atLimit+1), metav1.CreateOptions{})
	require.True(t, apierrors.IsRequestEntityTooLargeError(err), "one byte more: %v", err)
	require.Contains(t, err.Error(), fmt.Sprintf("the object is %d bytes as JSON; the limit is %d bytes", maxObjectSize+1, maxObjectSize))
	_, err = c.Pipelines(ns).Get(ctx, "limit-c", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "nothing stored: %v", err)
}

// settledTrigger creates the webhook trigger "t" of pipeline "p", whose
// Secret does not exist, and returns it once the controller has written its
// status (Ready False, SecretNotFound), which it then leaves alone.
func settledTrigger(t *testing.T, ns string, params ...v1alpha1.Param) *v1alpha1.Trigger {
	t.Helper()
	triggers := sluiceAdmin(t).SluiceV1alpha1().Triggers(ns)
	_, err := triggers.Create(testContext(t), &v1alpha1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: "t"},
		Spec: v1alpha1.TriggerSpec{PipelineRef: v1alpha1.PipelineReference{Name: "p"}, Params: params,
			Webhook: &v1alpha1.WebhookSource{Provider: v1alpha1.WebhookGeneric, SecretRef: v1alpha1.SecretKeyRef{Name: "hook", Key: "token"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	var tr *v1alpha1.Trigger
	eventually(t, time.Minute, "the trigger's status to settle", func(ctx context.Context) error {
		tr, err = triggers.Get(ctx, "t", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range tr.Status.Conditions {
			if cond.Type == "Ready" && cond.Reason == "SecretNotFound" {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", tr.Status.Conditions)
	})
	return tr
}

// TestBadInputConflicts: writers that update one object at once from the
// same resourceVersion, through kube-apiserver: exactly one wins, every
// other gets a 409 that says to read the object again, and the object is
// the winner's. Creates of one name: one 201, the others 409 AlreadyExists.
func TestBadInputConflicts(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t, "conflicts")
	c := sluiceAdmin(t).SluiceV1alpha1()
	const writers = 8

	p, err := c.Pipelines(ns).Create(ctx, pipeline("p", "a"), metav1.CreateOptions{})
	require.NoError(t, err)
	j, err := c.PipelineJobs(ns).Create(ctx, job("j", "p"), metav1.CreateOptions{})
	require.NoError(t, err)
	// The race starts from the trigger's version after the controller's
	// status write.
	tr := settledTrigger(t, ns)

	// race runs write(i) for every writer at once and returns the index
	// of the one that succeeded, with its resourceVersion.
	race := func(what string, write func(ctx context.Context, i int) (string, error), conflict func(error) bool, message string) (int, string) {
		t.Helper()
		start := make(chan struct{})
		rvs, errs := make([]string, writers), make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				rvs[i], errs[i] = write(ctx, i)
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				require.Equal(t, -1, winner, "%s: writers %d and %d both won", what, winner, i)
				winner = i
			case conflict(err):
				require.Contains(t, err.Error(), message, what)
				require.EqualValues(t, http.StatusConflict, err.(apierrors.APIStatus).Status().Code, what)
			default:
				t.Fatalf("%s: writer %d: want a 409, got %v", what, i, err)
			}
		}
		require.NotEqual(t, -1, winner, "%s: nobody won", what)
		return winner, rvs[winner]
	}
	const modified = "the object has been modified; please apply your changes to the latest version and try again"

	winner, rv := race("updates of a pipeline", func(ctx context.Context, i int) (string, error) {
		p := p.DeepCopy()
		p.Spec.Description = fmt.Sprintf("writer %d", i)
		p, err := c.Pipelines(ns).Update(ctx, p, metav1.UpdateOptions{})
		return p.ResourceVersion, err
	}, apierrors.IsConflict, modified)
	got, err := c.Pipelines(ns).Get(ctx, "p", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, rv, got.ResourceVersion)
	require.Equal(t, fmt.Sprintf("writer %d", winner), got.Spec.Description)

	winner, rv = race("merge patches of a pipeline with a resourceVersion", func(ctx context.Context, i int) (string, error) {
		patch := fmt.Sprintf(`{"metadata":{"resourceVersion":%q},"spec":{"description":"patch %d"}}`, got.ResourceVersion, i)
		p, err := c.Pipelines(ns).Patch(ctx, "p", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		return p.ResourceVersion, err
	}, apierrors.IsConflict, modified)
	got, err = c.Pipelines(ns).Get(ctx, "p", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, rv, got.ResourceVersion)
	require.Equal(t, fmt.Sprintf("patch %d", winner), got.Spec.Description)

	winner, rv = race("updates of a job", func(ctx context.Context, i int) (string, error) {
		j := j.DeepCopy()
		j.Spec.TTLSecondsAfterFinished = ptr.To(int32(100 + i))
		j, err := c.PipelineJobs(ns).Update(ctx, j, metav1.UpdateOptions{})
		return j.ResourceVersion, err
	}, apierrors.IsConflict, modified)
	gotJob, err := c.PipelineJobs(ns).Get(ctx, "j", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, rv, gotJob.ResourceVersion)
	require.Equal(t, int32(100+winner), *gotJob.Spec.TTLSecondsAfterFinished)

	winner, rv = race("updates of a job's status", func(ctx context.Context, i int) (string, error) {
		j := gotJob.DeepCopy()
		j.Status.Message = fmt.Sprintf("writer %d", i)
		j, err := c.PipelineJobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{})
		return j.ResourceVersion, err
	}, apierrors.IsConflict, modified)
	gotJob, err = c.PipelineJobs(ns).Get(ctx, "j", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, rv, gotJob.ResourceVersion)
	require.Equal(t, fmt.Sprintf("writer %d", winner), gotJob.Status.Message)

	// The controller may write the trigger's status again after the
	// winner's spec: the spec is the winner's whatever the version.
	winner, _ = race("updates of a trigger", func(ctx context.Context, i int) (string, error) {
		tr := tr.DeepCopy()
		tr.Spec.Environment = fmt.Sprintf("env-%d", i)
		tr, err := c.Triggers(ns).Update(ctx, tr, metav1.UpdateOptions{})
		return tr.ResourceVersion, err
	}, apierrors.IsConflict, modified)
	gotTrigger, err := c.Triggers(ns).Get(ctx, "t", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("env-%d", winner), gotTrigger.Spec.Environment)
	require.Equal(t, tr.Generation+1, gotTrigger.Generation)

	winner, rv = race("creates of one name", func(ctx context.Context, i int) (string, error) {
		p := pipeline("same", "a")
		p.Spec.Description = fmt.Sprintf("writer %d", i)
		p, err := c.Pipelines(ns).Create(ctx, p, metav1.CreateOptions{})
		return p.ResourceVersion, err
	}, apierrors.IsAlreadyExists, `pipelines.sluice.dev "same" already exists`)
	got, err = c.Pipelines(ns).Get(ctx, "same", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, rv, got.ResourceVersion)
	require.Equal(t, fmt.Sprintf("writer %d", winner), got.Spec.Description)
}

// The sweep sends requests a client could send, many of them broken, to
// every resource and subresource through kube-apiserver, and checks each
// answer: the code it expects (a 4xx for everything broken), a
// metav1.Status whose message says what was wrong, and nothing written.

// probe is one request of the sweep and the answer it expects.
type probe struct {
	category string
	what     string // what it tries, for a failure
	method   string
	path     string // escaped, from the server's root
	query    string // escaped
	ctype    string // Content-Type; none when empty
	body     []byte

	code int // the status code expected
	// message must be in the Status's message, for an error; for a 2xx,
	// in the body.
	message string
	warning string // must be in a Warning header, when set
	// emptyList: a 200 list with no items.
	emptyList bool
	// inNamespace: a 200 list whose items are all in this namespace.
	inNamespace string
}

// answer is what the server said to a probe.
type answer struct {
	code     int
	ctype    string
	body     []byte
	warnings []string
	err      error
}

// sweepClient sends probes through kube-apiserver as the admin, with the
// stack's TLS configuration, over net/http: the REST client would refuse
// some of the names and bodies the sweep sends.
type sweepClient struct {
	http *http.Client
	host string
}

func newSweepClient(t *testing.T) *sweepClient {
	hc, err := rest.HTTPClientFor(stack.Config)
	require.NoError(t, err)
	return &sweepClient{http: hc, host: strings.TrimSuffix(stack.Config.Host, "/")}
}

func (c *sweepClient) send(ctx context.Context, p probe) answer {
	// No answer may take long: a watch the server accepted by mistake
	// ends with this request.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := c.host + p.path
	if p.query != "" {
		u += "?" + p.query
	}
	req, err := http.NewRequestWithContext(ctx, p.method, u, bytes.NewReader(p.body))
	if err != nil {
		return answer{err: err}
	}
	if p.ctype != "" {
		req.Header.Set("Content-Type", p.ctype)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return answer{code: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: body, warnings: resp.Header.Values("Warning"), err: err}
}

// check returns what is wrong with an answer to p, or "".
func (p probe) check(a answer) string {
	if a.err != nil {
		return fmt.Sprintf("request failed: %v", a.err)
	}
	var problems []string
	if a.code != p.code {
		problems = append(problems, fmt.Sprintf("got %d, want %d", a.code, p.code))
	}
	if a.code >= 500 && !strings.HasPrefix(p.message, tooLargeResourceVersion) {
		// The only 5xx the sweep accepts: a revision not reached yet is
		// the 504 that asks the client to retry, as from etcd3.
		problems = append(problems, "a 5xx")
	}
	if p.warning != "" && !strings.Contains(strings.Join(a.warnings, "\n"), p.warning) {
		problems = append(problems, fmt.Sprintf("no warning %q in %q", p.warning, a.warnings))
	}
	if a.code >= 300 {
		mediaType, _, _ := mime.ParseMediaType(a.ctype)
		var status metav1.Status
		switch {
		case mediaType != "application/json":
			problems = append(problems, fmt.Sprintf("an error of type %q, not a Status", a.ctype))
		case json.Unmarshal(a.body, &status) != nil || status.Kind != "Status":
			problems = append(problems, "an error body that is not a Status")
		case status.Code != int32(a.code):
			problems = append(problems, fmt.Sprintf("a Status with code %d", status.Code))
		case !strings.Contains(status.Message, p.message):
			problems = append(problems, fmt.Sprintf("a message without %q", p.message))
		}
	} else {
		// A watch ends a stream of 200 with an ERROR event on failure.
		if bytes.Contains(a.body, []byte(`"type":"ERROR"`)) {
			problems = append(problems, "an ERROR event")
		}
		if !bytes.Contains(a.body, []byte(p.message)) {
			problems = append(problems, fmt.Sprintf("a body without %q", p.message))
		}
		if p.emptyList || p.inNamespace != "" {
			var list struct {
				Kind  string `json:"kind"`
				Items []struct {
					Metadata metav1.ObjectMeta `json:"metadata"`
				} `json:"items"`
			}
			err := json.Unmarshal(a.body, &list)
			switch {
			case err != nil || !strings.HasSuffix(list.Kind, "List"):
				problems = append(problems, "not a list")
			case p.emptyList && len(list.Items) != 0:
				problems = append(problems, "not an empty list")
			}
			for _, item := range list.Items {
				if p.inNamespace != "" && item.Metadata.Namespace != p.inNamespace {
					problems = append(problems, fmt.Sprintf("an item of namespace %q", item.Metadata.Namespace))
				}
			}
		}
	}
	if len(problems) == 0 {
		return ""
	}
	body := string(a.body)
	if len(body) > 1000 {
		body = body[:500] + " … " + body[len(body)-500:]
	}
	return fmt.Sprintf("%s: %s %s?%s: %s\n    answer: %d %s", p.what, p.method, shorten(p.path), shorten(p.query), strings.Join(problems, "; "), a.code, body)
}

func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}

// objectList is the names and resourceVersions of every object of the
// sweep's resources in a namespace.
func objectList(t *testing.T, ns string) map[string]string {
	ctx := testContext(t)
	c := sluiceAdmin(t).SluiceV1alpha1()
	out := map[string]string{}
	pipelines, err := c.Pipelines(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, o := range pipelines.Items {
		out["pipelines/"+o.Name] = o.ResourceVersion
	}
	jobs, err := c.PipelineJobs(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, o := range jobs.Items {
		out["pipelinejobs/"+o.Name] = o.ResourceVersion
	}
	triggers, err := c.Triggers(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, o := range triggers.Items {
		out["triggers/"+o.Name] = o.ResourceVersion
	}
	return out
}

// sweepResource is one resource of the sweep, with the object the sweep
// aims at and a valid body of its kind.
type sweepResource struct {
	plural, kind, name string
	valid              func(name string) map[string]any
}

const group = "/apis/sluice.dev/v1alpha1"

func jsonOf(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// with returns a copy of a JSON object with the value at a dotted path
// set (nil deletes it).
func with(obj map[string]any, dotted string, v any) map[string]any {
	cp := map[string]any{}
	_ = json.Unmarshal(jsonOf(obj), &cp)
	keys := strings.Split(dotted, ".")
	m := cp
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	if v == nil {
		delete(m, keys[len(keys)-1])
	} else {
		m[keys[len(keys)-1]] = v
	}
	return cp
}

// nested is depth levels of JSON arrays around 1.
func nested(depth int) string {
	return strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth)
}

// token is a continue token as the apiserver encodes one, of any content.
func token(v any) string { return base64.RawURLEncoding.EncodeToString(jsonOf(v)) }

// TestBadInputSweep sends broken requests of every kind to pipelines,
// pipelinejobs and triggers and each of their subresources, through
// kube-apiserver: each must be answered with the 4xx it expects and a
// Status that says what was wrong, and the namespace must hold exactly
// what it held before: no request of the sweep may write.
func TestBadInputSweep(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	s := sweep{ns: namespace(t, "sweep"), other: namespace(t, "sweep-other")}
	c := sluiceAdmin(t).SluiceV1alpha1()

	// The objects the sweep aims at: a pipeline with a param, jobs the
	// controllers leave alone, and a trigger whose status the controller
	// settles (its Secret is missing) before the sweep starts. The other
	// namespace has a pipeline, for a continue token of its own.
	p := pipeline("p", "a")
	p.Spec.Params = []v1alpha1.ParamSpec{{Name: "version"}}
	_, err := c.Pipelines(s.ns).Create(ctx, p, metav1.CreateOptions{})
	require.NoError(t, err)
	for i := range 3 {
		j := job(fmt.Sprintf("j%d", i), "p")
		j.Spec.Params = []v1alpha1.Param{param("version", "1")}
		_, err = c.PipelineJobs(s.ns).Create(ctx, j, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	for _, name := range []string{"p", "q"} {
		_, err = c.Pipelines(s.other).Create(ctx, pipeline(name, "a"), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	settledTrigger(t, s.ns, param("version", "1"))

	// Continue tokens the server handed out.
	jobs, err := c.PipelineJobs(s.ns).List(ctx, metav1.ListOptions{Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, jobs.Continue)
	s.jobsToken, s.rv = jobs.Continue, jobs.ResourceVersion
	allJobs, err := c.PipelineJobs("").List(ctx, metav1.ListOptions{Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, allJobs.Continue)
	s.allJobsToken = allJobs.Continue
	others, err := c.Pipelines(s.other).List(ctx, metav1.ListOptions{Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, others.Continue)
	s.otherToken = others.Continue

	before, beforeOther := objectList(t, s.ns), objectList(t, s.other)
	probes := s.probes()
	for _, p := range probes {
		// Every refusal must say what was wrong: the table names it.
		require.False(t, p.code >= 300 && p.message == "", "the sweep's table expects no message of %q", p.what)
	}
	client := newSweepClient(t)
	answers := make([]answer, len(probes))
	work := make(chan int)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				answers[i] = client.send(ctx, probes[i])
			}
		}()
	}
	start := time.Now()
	for i := range probes {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Logf("the sweep sent %d requests in %s", len(probes), time.Since(start).Round(time.Millisecond))

	counts := map[string]int{}
	var failures []string
	for i, p := range probes {
		counts[p.category]++
		if msg := p.check(answers[i]); msg != "" {
			failures = append(failures, "["+p.category+"] "+msg)
		}
	}
	var categories []string
	for c := range counts {
		categories = append(categories, c)
	}
	sort.Strings(categories)
	for _, c := range categories {
		t.Logf("%-26s %4d requests", c, counts[c])
	}
	if len(failures) > 0 {
		t.Errorf("%d of %d answers were not what they should be:\n%s", len(failures), len(probes), strings.Join(failures, "\n"))
	}
	require.Equal(t, before, objectList(t, s.ns), "the sweep changed the namespace")
	require.Equal(t, beforeOther, objectList(t, s.other), "the sweep changed the other namespace")
}

// sweep is what the sweep's requests are made of.
type sweep struct {
	ns, other    string // the namespace swept, and another
	rv           string // a resourceVersion of a list of ns
	jobsToken    string // a continue token of pipelinejobs in ns
	allJobsToken string // of pipelinejobs in every namespace
	otherToken   string // of pipelines in the other namespace
}

// The resources of the sweep.
var sweepResources = []sweepResource{
	{"pipelines", "Pipeline", "p", func(name string) map[string]any {
		return map[string]any{"apiVersion": "sluice.dev/v1alpha1", "kind": "Pipeline", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"params": []any{map[string]any{"name": "version"}},
				"steps": []any{map[string]any{"name": "a", "actions": []any{map[string]any{"name": "run", "image": "alpine:3.20"}}}}}}
	}},
	{"pipelinejobs", "PipelineJob", "j0", func(name string) map[string]any {
		return map[string]any{"apiVersion": "sluice.dev/v1alpha1", "kind": "PipelineJob",
			"metadata": map[string]any{"name": name, "labels": map[string]any{v1alpha1.LabelControllerInstance: "none"}},
			"spec":     map[string]any{"pipelineRef": map[string]any{"name": "p"}, "params": []any{map[string]any{"name": "version", "value": "1"}}}}
	}},
	{"triggers", "Trigger", "t", func(name string) map[string]any {
		return map[string]any{"apiVersion": "sluice.dev/v1alpha1", "kind": "Trigger", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"pipelineRef": map[string]any{"name": "p"}, "params": []any{map[string]any{"name": "version", "value": "1"}},
				"webhook": map[string]any{"provider": "Generic", "secretRef": map[string]any{"name": "hook", "key": "token"}}}}
	}},
}

// endpoint is a request that takes an object in its body.
type endpoint struct {
	what, method, path string
	valid              map[string]any // a body it would accept
	// wrongType are fields of the body set to values of the wrong type.
	wrongType map[string]any
}

func (s sweep) base() string { return group + "/namespaces/" + s.ns }

// endpoints are the requests of the sweep's resources and subresources
// that take an object.
func (s sweep) endpoints() []endpoint {
	var out []endpoint
	objectWrongTypes := map[string]any{"metadata": "x", "metadata.name": 5, "metadata.labels": []any{"a"}, "spec": []any{}}
	for _, r := range sweepResources {
		item := s.base() + "/" + r.plural + "/" + r.name
		out = append(out,
			endpoint{"create " + r.plural, "POST", s.base() + "/" + r.plural, r.valid("new"), objectWrongTypes},
			endpoint{"update " + r.plural, "PUT", item, r.valid(r.name), objectWrongTypes},
			endpoint{"update " + r.plural + "/status", "PUT", item + "/status", r.valid(r.name), objectWrongTypes},
		)
	}
	request := func(kind string, fields map[string]any) map[string]any {
		m := map[string]any{"apiVersion": "sluice.dev/v1alpha1", "kind": kind}
		for k, v := range fields {
			m[k] = v
		}
		return m
	}
	return append(out,
		endpoint{"pipelines/run", "POST", s.base() + "/pipelines/p/run",
			request("RunRequest", map[string]any{"params": []any{map[string]any{"name": "version", "value": "1"}}}),
			map[string]any{"params": "x", "name": 5, "trigger": []any{}, "environment": map[string]any{}}},
		endpoint{"pipelines/rollback", "POST", s.base() + "/pipelines/p/rollback", request("RollbackRequest", nil),
			map[string]any{"environment": 5, "toJob": []any{"a"}}},
		// cancel would succeed with any valid body: j0 is Pending.
		endpoint{"pipelinejobs/cancel", "POST", s.base() + "/pipelinejobs/j0/cancel", request("CancelRequest", nil),
			map[string]any{"reason": 5}},
		endpoint{"pipelinejobs/rerun", "POST", s.base() + "/pipelinejobs/j0/rerun", request("RerunRequest", nil),
			map[string]any{"fromCurrentPipeline": "yes"}},
		endpoint{"pipelinejobs/approval", "POST", s.base() + "/pipelinejobs/j0/approval", request("ApprovalRequest", map[string]any{"decision": "Approve"}),
			map[string]any{"decision": 5, "message": []any{"a"}}},
	)
}

// probes is the sweep's table.
func (s sweep) probes() []probe {
	var out []probe
	for _, category := range []func() []probe{
		s.malformedBodies, s.wrongKinds, s.sizeLimits, s.deepNesting, s.names, s.selectors,
		s.resourceVersions, s.continueTokens, s.unknownFields, s.patches, s.options,
	} {
		out = append(out, category()...)
	}
	return out
}

// unrecognized is the start of the message about a body whose kind
// cannot be read.
func unrecognized(kind string) string {
	return "the object provided is unrecognized (must be of type " + kind + ")"
}

func (s sweep) malformedBodies() []probe {
	const category = "malformed body"
	var out []probe
	for _, e := range s.endpoints() {
		kind := e.valid["kind"].(string)
		bodies := []struct {
			what, ctype string
			data        string
			code        int
			message     string
		}{
			{"an empty JSON body", "application/json", "", 400, unrecognized(kind) + ": couldn't get version/kind; json parse error: unexpected end of JSON input"},
			{"JSON cut short", "application/json", `{"apiVersion":"sluice.dev/v1alpha1","kind":`, 400, "json parse error: unexpected end of JSON input"},
			{"an unclosed JSON object", "application/json", `{`, 400, "json parse error: unexpected end of JSON input"},
			{"a JSON array", "application/json", `[]`, 400, "json: cannot unmarshal array"},
			{"a JSON string", "application/json", `"pipeline"`, 400, "json: cannot unmarshal string"},
			{"a JSON number", "application/json", `42`, 400, "json: cannot unmarshal number"},
			{"two JSON objects", "application/json", `{"kind":"X"}{"kind":"Y"}`, 400, "invalid character '{' after top-level value"},
			{"binary", "application/json", "\x00\x01\xff\xfe{\x00}", 400, `invalid character '\x00' looking for beginning of value`},
			{"a byte-order mark", "application/json", "\xef\xbb\xbf{}", 400, "invalid character 'ï' looking for beginning of value"},
			{"YAML that does not parse", "application/yaml", "kind: [unclosed\n", 400, "yaml: line 1: did not find expected ',' or ']'"},
			{"YAML indented with a tab", "application/yaml", "apiVersion: sluice.dev/v1alpha1\nkind: " + kind + "\nmetadata:\n\tname: x\n", 400, "yaml: line 4: found character that cannot start any token"},
			{"a YAML list", "application/yaml", "- a\n- b\n", 400, "json: cannot unmarshal array"},
			{"YAML with a bare colon", "application/yaml", ":\n", 400, "yaml: did not find expected key"},
			{"YAML aliases that expand a billion times", "application/yaml", billionLaughs, 400, "yaml: document contains excessive aliasing"},
			{"plain text", "text/plain", "hello", 415, "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"},
			{"protobuf cut short", "application/vnd.kubernetes.protobuf", "k8s\x00\x0a", 400, unrecognized(kind) + ": unexpected EOF"},
			{"protobuf without its magic number", "application/vnd.kubernetes.protobuf", "\x0a\x02\x0a\x00", 400, "provided data does not appear to be a protobuf message"},
			{"protobuf with a length past its end", "application/vnd.kubernetes.protobuf", "k8s\x00\x0a\x02\x0a\x00\x12\xff\xff\xff\xff\x0f", 400, unrecognized(kind)},
			{"CBOR", "application/cbor", "\xd9\xd9\xf7\xa0", 415, "accepted media types include: application/json, application/yaml"},
			{"a content type that does not parse", "application/json; charset", "{}", 415, "accepted media types include"},
		}
		for _, b := range bodies {
			out = append(out, probe{category: category, what: e.what + ": " + b.what, method: e.method, path: e.path, ctype: b.ctype, body: []byte(b.data), code: b.code, message: b.message})
		}
		for _, field := range sortedKeys(e.wrongType) {
			out = append(out, probe{category: category, what: e.what + ": " + field + " of the wrong type", method: e.method, path: e.path,
				ctype: "application/json", body: jsonOf(with(e.valid, field, e.wrongType[field])), code: 400,
				message: fmt.Sprintf("cannot be handled as a %s: json: cannot unmarshal", kind)})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s sweep) wrongKinds() []probe {
	const category = "wrong kind or apiVersion"
	var out []probe
	for _, e := range s.endpoints() {
		kind := e.valid["kind"].(string)
		otherKind := "Pipeline"
		if kind == "Pipeline" {
			otherKind = "PipelineJob"
		}
		wrong := []struct {
			what, apiVersion, kind, message string
		}{
			{"another kind of the group", "sluice.dev/v1alpha1", otherKind, "converting (v1alpha1." + otherKind + ") to (sluice." + kind + "): unknown conversion"},
			{"a core kind", "v1", "Pod", `no kind "Pod" is registered for version "v1"`},
			{"a version that does not exist", "sluice.dev/v1", kind, `no kind "` + kind + `" is registered for version "sluice.dev/v1"`},
			{"another group", "apps/v1", kind, `no kind "` + kind + `" is registered for version "apps/v1"`},
			{"a lowercase kind", "sluice.dev/v1alpha1", strings.ToLower(kind), `no kind "` + strings.ToLower(kind) + `" is registered`},
			{"a list kind", "sluice.dev/v1alpha1", kind + "List", ""},
			{"Status", "v1", "Status", "converting (v1.Status) to (sluice." + kind + "): unknown conversion"},
			{"an unknown kind", "sluice.dev/v1alpha1", "Pipe", `no kind "Pipe" is registered for version "sluice.dev/v1alpha1"`},
		}
		for _, w := range wrong {
			obj := with(with(e.valid, "apiVersion", w.apiVersion), "kind", w.kind)
			message := "cannot be handled as a " + kind + ": " + w.message
			if w.message == "" {
				message = fmt.Sprintf("%s in version %q cannot be handled as a %s", w.kind, "v1alpha1", kind)
			}
			out = append(out, probe{category: category, what: e.what + ": " + w.what, method: e.method, path: e.path, ctype: "application/json",
				body: jsonOf(obj), code: 400, message: message})
		}
	}
	for _, r := range sweepResources {
		out = append(out,
			probe{category: category, what: "create " + r.plural + " in another namespace than the URL's", method: "POST", path: s.base() + "/" + r.plural, ctype: "application/json",
				body: jsonOf(with(r.valid("new"), "metadata.namespace", s.other)), code: 400, message: "the namespace of the provided object does not match the namespace sent on the request"},
			probe{category: category, what: "update " + r.plural + " with another name than the URL's", method: "PUT", path: s.base() + "/" + r.plural + "/" + r.name, ctype: "application/json",
				body: jsonOf(r.valid("other")), code: 400, message: "the name of the object (other) does not match the name on the URL (" + r.name + ")"},
			probe{category: category, what: "update " + r.plural + "/status in another namespace than the URL's", method: "PUT", path: s.base() + "/" + r.plural + "/" + r.name + "/status", ctype: "application/json",
				body: jsonOf(with(r.valid(r.name), "metadata.namespace", s.other)), code: 400, message: "the namespace of the provided object does not match the namespace sent on the request"},
		)
	}
	return out
}

// The size limits: sluice-apiserver reads a request body of at most
// --max-object-size (15 MiB) + 1 MiB, stores an object of at most 15 MiB,
// and keeps the generic server's other limits (annotations 256 KiB, 10,000
// operations and 3 MiB of copies in a JSON patch). kube-apiserver's own
// 3 MiB limit on request bodies does not apply to what it proxies.
const (
	maxObjectSize = 15 << 20
	maxBodySize   = maxObjectSize + 1<<20
)

func (s sweep) sizeLimits() []probe {
	const category = "size limits"
	var out []probe
	tooLarge := fmt.Sprintf("Request entity too large: limit is %d", maxBodySize)
	pad := strings.Repeat("x", maxBodySize)
	for _, e := range s.endpoints() {
		out = append(out, probe{category: category, what: e.what + ": a body over the limit", method: e.method, path: e.path, ctype: "application/json",
			body: jsonOf(with(e.valid, "padding", pad)), code: 413, message: tooLarge})
	}
	for _, r := range sweepResources {
		out = append(out, probe{category: category, what: "patch " + r.plural + " with a body over the limit", method: "PATCH", path: s.base() + "/" + r.plural + "/" + r.name,
			ctype: "application/merge-patch+json", body: jsonOf(map[string]any{"metadata": map[string]any{"annotations": map[string]any{"a": pad}}}), code: 413, message: tooLarge})
	}

	// Objects over the storage's limit in bodies under the request's.
	stored := fmt.Sprintf("; the limit is %d bytes", maxObjectSize)
	big := strings.Repeat("x", maxObjectSize)
	pipelines := s.base() + "/pipelines"
	out = append(out,
		probe{category: category, what: "create a pipeline over the stored limit", method: "POST", path: pipelines, ctype: "application/json",
			body: jsonOf(with(sweepResources[0].valid("big"), "spec.description", big)), code: 413, message: stored},
		probe{category: category, what: "update a pipeline over the stored limit", method: "PUT", path: pipelines + "/p", ctype: "application/json",
			body: jsonOf(with(with(sweepResources[0].valid("p"), "spec.description", big), "metadata.resourceVersion", nil)), code: 413, message: stored},
		probe{category: category, what: "patch a pipeline over the stored limit", method: "PATCH", path: pipelines + "/p", ctype: "application/merge-patch+json",
			body: jsonOf(map[string]any{"spec": map[string]any{"description": big}}), code: 413, message: stored},
		probe{category: category, what: "run a pipeline with a param over the stored limit", method: "POST", path: pipelines + "/p/run", ctype: "application/json",
			body: jsonOf(map[string]any{"apiVersion": "sluice.dev/v1alpha1", "kind": "RunRequest", "params": []any{map[string]any{"name": "version", "value": big}}}), code: 413, message: stored},
		probe{category: category, what: "create a job with a param over the stored limit", method: "POST", path: s.base() + "/pipelinejobs", ctype: "application/json",
			body: jsonOf(with(sweepResources[1].valid("big"), "spec.params", []any{map[string]any{"name": "version", "value": big}})), code: 413, message: stored},
		probe{category: category, what: "create a trigger with a param over the stored limit", method: "POST", path: s.base() + "/triggers", ctype: "application/json",
			body: jsonOf(with(sweepResources[2].valid("big"), "spec.params", []any{map[string]any{"name": "version", "value": big}})), code: 413, message: stored},
		probe{category: category, what: "update a job's status over the stored limit", method: "PUT", path: s.base() + "/pipelinejobs/j0/status", ctype: "application/json",
			body: jsonOf(with(sweepResources[1].valid("j0"), "status.message", big)), code: 413, message: stored},
	)

	// The generic server's limits on parts of an object, at and over.
	for _, r := range sweepResources {
		create := s.base() + "/" + r.plural
		valid := r.valid("new")
		annotations := func(size int) []byte {
			return jsonOf(with(valid, "metadata.annotations", map[string]any{"a": strings.Repeat("x", size-1)}))
		}
		out = append(out,
			probe{category: category, what: "create " + r.plural + " with 256 KiB of annotations (dry run)", method: "POST", path: create, query: "dryRun=All",
				ctype: "application/json", body: annotations(256 << 10), code: 201, message: `"kind":"` + r.kind + `"`},
			probe{category: category, what: "create " + r.plural + " with 256 KiB + 1 of annotations", method: "POST", path: create,
				ctype: "application/json", body: annotations(256<<10 + 1), code: 422, message: "metadata.annotations: Too long: may not be more than 262144 bytes"},
			probe{category: category, what: "create " + r.plural + " with a name of 63 characters (dry run)", method: "POST", path: create, query: "dryRun=All",
				ctype: "application/json", body: jsonOf(r.valid(strings.Repeat("a", 63))), code: 201, message: `"name":"` + strings.Repeat("a", 63) + `"`},
			probe{category: category, what: "create " + r.plural + " with a name of 64 characters", method: "POST", path: create,
				ctype: "application/json", body: jsonOf(r.valid(strings.Repeat("a", 64))), code: 422, message: "metadata.name: Invalid value"},
			probe{category: category, what: "create " + r.plural + " with a label value of 64 characters", method: "POST", path: create,
				ctype: "application/json", body: jsonOf(with(valid, "metadata.labels", map[string]any{"a": strings.Repeat("v", 64)})), code: 422, message: "metadata.labels: Invalid value"},
		)
		item := s.base() + "/" + r.plural + "/" + r.name
		ops := func(n int) []byte {
			var patch []any
			for range n {
				patch = append(patch, map[string]any{"op": "test", "path": "/metadata/name", "value": r.name})
			}
			return jsonOf(patch)
		}
		var copies []any
		for i := range 24 {
			copies = append(copies, map[string]any{"op": "copy", "from": "/spec", "path": fmt.Sprintf("/spec/copy%d", i)})
		}
		out = append(out,
			probe{category: category, what: "patch " + r.plural + " with 10,000 JSON patch operations (dry run)", method: "PATCH", path: item, query: "dryRun=All",
				ctype: "application/json-patch+json", body: ops(10000), code: 200, message: `"kind":"` + r.kind + `"`},
			probe{category: category, what: "patch " + r.plural + " with 10,001 JSON patch operations", method: "PATCH", path: item,
				ctype: "application/json-patch+json", body: ops(10001), code: 413, message: "The allowed maximum operations in a JSON patch is 10000, got 10001"},
			probe{category: category, what: "patch " + r.plural + " with JSON patch copies that double the object 24 times", method: "PATCH", path: item,
				ctype: "application/json-patch+json", body: jsonOf(copies), code: 422, message: jsonPatchFailed},
		)
	}
	return out
}

func (s sweep) deepNesting() []probe {
	const category = "deep nesting"
	var out []probe
	deep := nested(10001)
	deeper := nested(1000000)
	objects := strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001)
	for _, r := range sweepResources {
		create := s.base() + "/" + r.plural
		item := create + "/" + r.name
		valid := string(jsonOf(r.valid("new")))
		inUnknown := func(v string) []byte { return []byte(strings.TrimSuffix(valid, "}") + `,"deep":` + v + "}") }
		inSpec := func(v string) []byte { return []byte(strings.Replace(valid, `"spec":{`, `"spec":{"deep":`+v+",", 1)) }
		out = append(out,
			probe{category: category, what: "create " + r.plural + " with 10,001 nested arrays in an unknown field", method: "POST", path: create,
				ctype: "application/json", body: inUnknown(deep), code: 400, message: "exceeded max depth"},
			probe{category: category, what: "create " + r.plural + " with 1,000,000 nested arrays in an unknown field", method: "POST", path: create,
				ctype: "application/json", body: inUnknown(deeper), code: 400, message: "exceeded max depth"},
			probe{category: category, what: "create " + r.plural + " with 10,001 nested objects in spec", method: "POST", path: create,
				ctype: "application/json", body: inSpec(objects), code: 400, message: "exceeded max depth"},
			probe{category: category, what: "create " + r.plural + " with 10,001 nested arrays in YAML", method: "POST", path: create,
				ctype: "application/yaml", body: []byte("apiVersion: sluice.dev/v1alpha1\nkind: " + r.kind + "\nmetadata: {name: new}\ndeep: " + deep + "\n"), code: 400, message: "exceeded max depth"},
			probe{category: category, what: "update " + r.plural + " with 10,001 nested arrays in an unknown field", method: "PUT", path: item,
				ctype: "application/json", body: []byte(strings.Replace(string(inUnknown(deep)), `"name":"new"`, `"name":"`+r.name+`"`, 1)), code: 400, message: "exceeded max depth"},
			probe{category: category, what: "merge patch " + r.plural + " with 10,001 nested arrays", method: "PATCH", path: item,
				ctype: "application/merge-patch+json", body: []byte(`{"spec":{"deep":` + deep + `}}`), code: 400, message: "exceeded max depth"},
			probe{category: category, what: "strategic merge patch " + r.plural + " with 10,001 nested arrays", method: "PATCH", path: item,
				ctype: "application/strategic-merge-patch+json", body: []byte(`{"spec":{"deep":` + deep + `}}`), code: 400, message: "exceeded max depth"},
			probe{category: category, what: "JSON patch " + r.plural + " with a value of 10,001 nested arrays", method: "PATCH", path: item,
				ctype: "application/json-patch+json", body: []byte(`[{"op":"add","path":"/spec/deep","value":` + deep + `}]`), code: 400, message: "exceeded max depth"},
			probe{category: category, what: "apply " + r.plural + " with 10,001 nested arrays", method: "PATCH", path: item, query: "fieldManager=sweep",
				ctype: "application/apply-patch+yaml", body: []byte("apiVersion: sluice.dev/v1alpha1\nkind: " + r.kind + "\nmetadata: {name: " + r.name + "}\nspec: {deep: " + deep + "}\n"), code: 400, message: "exceeded max depth"},
		)
	}
	out = append(out, probe{category: category, what: "run with 10,001 nested arrays in a param", method: "POST", path: s.base() + "/pipelines/p/run",
		ctype: "application/json", body: []byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"RunRequest","params":[{"name":"version","value":` + deep + `}]}`), code: 400, message: "exceeded max depth"})
	return out
}

// pathNames are names that reach the server in a URL's path, escaped, and
// whether the name is valid UTF-8 (a JSON body cannot hold it otherwise).
var pathNames = []struct {
	what, escaped string
	utf8          bool
	dot           bool // "." or "..": a path segment that is no name
}{
	{"NUL", "%00", true, false},
	{"a NUL inside", "a%00b", true, false},
	{"invalid UTF-8", "%FF", false, false},
	{"a truncated UTF-8 sequence", "%C3%28", false, false},
	{"a UTF-16 surrogate", "%ED%A0%80", false, false},
	{"an overlong slash", "%C0%AF", false, false},
	{"a code point above U+10FFFF", "%F4%90%80%80", false, false},
	{"uppercase", "UPPER", true, false},
	{"dots", "a.b", true, false},
	{"a space", "a%20b", true, false},
	{"a snowman", "%E2%98%83", true, false},
	{"a backslash", "a%5Cb", true, false},
	{"a percent sign", "%25", true, false},
	{"a quote and SQL", "a'%3B--", true, false},
	{"a newline", "a%0Ab", true, false},
	{"64 characters", strings.Repeat("a", 64), true, false},
	{"254 characters", strings.Repeat("a", 254), true, false},
	{"8,000 characters", strings.Repeat("a", 8000), true, false},
	{"an encoded dot", "%2E", true, true},
	{"encoded dots", "%2E%2E", true, true},
}

func (s sweep) names() []probe {
	const category = "names"
	var out []probe
	for _, n := range pathNames {
		name, err := url.PathUnescape(n.escaped)
		if err != nil {
			panic(err)
		}
		// What a request of an object by this name gets: 404, or the
		// generic registry's 400 for a name that is no path segment (".",
		// "..", or one with a "%").
		answer := func(plural string) (int, string) {
			if msgs := path.IsValidPathSegmentName(name); len(msgs) > 0 {
				return 400, fmt.Sprintf("Name parameter invalid: %q: %s", name, msgs[0])
			}
			return 404, fmt.Sprintf("%s.sluice.dev %q not found", plural, name)
		}
		for _, r := range sweepResources {
			item := s.base() + "/" + r.plural + "/" + n.escaped
			code, msg := answer(r.plural)
			out = append(out,
				probe{category: category, what: "get " + r.plural + " named by " + n.what, method: "GET", path: item, code: code, message: msg},
				probe{category: category, what: "get " + r.plural + "/status named by " + n.what, method: "GET", path: item + "/status", code: code, message: msg},
				probe{category: category, what: "delete " + r.plural + " named by " + n.what, method: "DELETE", path: item, code: code, message: msg},
				probe{category: category, what: "patch " + r.plural + " named by " + n.what, method: "PATCH", path: item,
					ctype: "application/merge-patch+json", body: []byte(`{"metadata":{"labels":{"a":"b"}}}`), code: code, message: msg},
			)
			put := probe{category: category, what: "update " + r.plural + " named by " + n.what, method: "PUT", path: item,
				ctype: "application/json", body: jsonOf(r.valid(name)), code: code, message: msg}
			if !n.utf8 {
				// JSON replaces the invalid bytes, so the names differ.
				put.code, put.message = 400, "does not match the name on the URL"
			}
			out = append(out, put)
		}
		pipeline := s.base() + "/pipelines/" + n.escaped
		job := s.base() + "/pipelinejobs/" + n.escaped
		pipelineCode, pipelineMsg := answer("pipelines")
		jobCode, jobMsg := answer("pipelinejobs")
		out = append(out,
			probe{category: category, what: "run a pipeline named by " + n.what, method: "POST", path: pipeline + "/run", ctype: "application/json",
				body: []byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"RunRequest","params":[{"name":"version","value":"1"}]}`), code: pipelineCode, message: pipelineMsg},
			probe{category: category, what: "roll back a pipeline named by " + n.what, method: "POST", path: pipeline + "/rollback", ctype: "application/json",
				body: []byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"RollbackRequest","environment":"prod"}`), code: pipelineCode, message: pipelineMsg},
			probe{category: category, what: "cancel a job named by " + n.what, method: "POST", path: job + "/cancel", ctype: "application/json",
				body: []byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"CancelRequest"}`), code: jobCode, message: jobMsg},
			probe{category: category, what: "rerun a job named by " + n.what, method: "POST", path: job + "/rerun", ctype: "application/json",
				body: []byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"RerunRequest"}`), code: jobCode, message: jobMsg},
			probe{category: category, what: "approve a job named by " + n.what, method: "POST", path: job + "/approval", ctype: "application/json",
				body: []byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"ApprovalRequest","decision":"Approve"}`), code: jobCode, message: jobMsg},
			probe{category: category, what: "read the log of a job named by " + n.what, method: "GET", path: job + "/log", code: jobCode, message: jobMsg},
			probe{category: category, what: "archive a log of a job named by " + n.what, method: "POST", path: job + "/log", query: "step=a&action=run&attempt=1",
				ctype: "text/plain", body: []byte("output\n"), code: jobCode, message: jobMsg},
		)
	}

	// The same names as namespaces. Nothing can be in them: reading an
	// object is a 404, a list, a watch and a delete of a collection are
	// empty, and a write is refused as in a namespace that does not exist
	// (NamespaceName, before NamespaceLifecycle). "." and "..", which are
	// no names, are a 400 wherever the storage is asked.
	for _, n := range pathNames {
		namespace, _ := url.PathUnescape(n.escaped)
		base := group + "/namespaces/" + n.escaped
		nsNotFound := fmt.Sprintf("namespaces %q not found", namespace)
		invalidKey := "invalid name or namespace: invalid key"
		for _, r := range sweepResources {
			collection := base + "/" + r.plural
			code, msg := 404, fmt.Sprintf("%s.sluice.dev %q not found", r.plural, r.name)
			listCode := 200
			if n.dot {
				code, msg, listCode = 400, invalidKey, 400
			}
			out = append(out,
				probe{category: category, what: "get " + r.plural + " in a namespace named by " + n.what, method: "GET", path: collection + "/" + r.name, code: code, message: msg},
				probe{category: category, what: "list " + r.plural + " in a namespace named by " + n.what, method: "GET", path: collection,
					code: listCode, emptyList: listCode == 200, message: map[bool]string{true: invalidKey}[n.dot]},
				probe{category: category, what: "list " + r.plural + " in pages in a namespace named by " + n.what, method: "GET", path: collection, query: "limit=1",
					code: listCode, emptyList: listCode == 200, message: map[bool]string{true: invalidKey}[n.dot]},
				probe{category: category, what: "watch " + r.plural + " in a namespace named by " + n.what, method: "GET", path: collection, query: "watch=true&timeoutSeconds=1",
					code: listCode, message: map[bool]string{true: invalidKey}[n.dot]},
				probe{category: category, what: "delete the " + r.plural + " of a namespace named by " + n.what, method: "DELETE", path: collection,
					code: listCode, emptyList: listCode == 200, message: map[bool]string{true: invalidKey}[n.dot]},
				probe{category: category, what: "update " + r.plural + " in a namespace named by " + n.what, method: "PUT", path: collection + "/" + r.name,
					ctype: "application/json", body: jsonOf(with(r.valid(r.name), "metadata.namespace", nil)), code: code, message: msg},
				probe{category: category, what: "delete " + r.plural + " in a namespace named by " + n.what, method: "DELETE", path: collection + "/" + r.name,
					code: code, message: msg},
			)
			create := probe{category: category, what: "create " + r.plural + " in a namespace named by " + n.what, method: "POST", path: collection,
				ctype: "application/json", body: jsonOf(with(r.valid("new"), "metadata.namespace", namespace)), code: 404, message: nsNotFound}
			if !n.utf8 {
				// JSON replaces the invalid bytes, so the namespaces differ.
				create.code, create.message = 400, "the namespace of the provided object does not match the namespace sent on the request"
			}
			out = append(out, create)
		}
		jobCode, jobMsg := 404, `pipelinejobs.sluice.dev "j0" not found`
		if n.dot {
			jobCode, jobMsg = 400, invalidKey
		}
		out = append(out,
			probe{category: category, what: "run a pipeline in a namespace named by " + n.what, method: "POST", path: base + "/pipelines/p/run", ctype: "application/json",
				body: []byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"RunRequest","params":[{"name":"version","value":"1"}]}`), code: 404, message: nsNotFound},
			probe{category: category, what: "cancel a job in a namespace named by " + n.what, method: "POST", path: base + "/pipelinejobs/j0/cancel", ctype: "application/json",
				body: []byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"CancelRequest"}`), code: 404, message: nsNotFound},
			probe{category: category, what: "archive a log of a job in a namespace named by " + n.what, method: "POST", path: base + "/pipelinejobs/j0/log", query: "step=a&action=run&attempt=1",
				ctype: "text/plain", body: []byte("output\n"), code: jobCode, message: jobMsg},
			probe{category: category, what: "read the log of a job in a namespace named by " + n.what, method: "GET", path: base + "/pipelinejobs/j0/log",
				code: jobCode, message: jobMsg},
		)
	}

	// Bad names in bodies.
	bodyNames := []struct{ what, json string }{
		{"uppercase", `"UPPER"`}, {"dots", `"a.b"`}, {"a slash", `"a/b"`}, {"a NUL", `"a\u0000b"`},
		{"invalid UTF-8", "\"\xff\xfe\""}, {"a snowman", `"☃"`}, {"a leading dash", `"-a"`}, {"a trailing dash", `"a-"`},
		{"254 characters", `"` + strings.Repeat("a", 254) + `"`}, {"dot-dot", `".."`}, {"a space", `"a b"`},
	}
	for _, b := range bodyNames {
		for _, r := range sweepResources {
			valid := string(jsonOf(r.valid("NAME")))
			out = append(out,
				probe{category: category, what: "create " + r.plural + " named by " + b.what, method: "POST", path: s.base() + "/" + r.plural,
					ctype: "application/json", body: []byte(strings.Replace(valid, `"NAME"`, b.json, 1)), code: 422, message: "metadata.name: Invalid value"},
			)
			if b.what != "a trailing dash" { // a generateName that ends in a dash is the usual one
				out = append(out, probe{category: category, what: "create " + r.plural + " with a generateName of " + b.what, method: "POST", path: s.base() + "/" + r.plural,
					ctype: "application/json", body: []byte(strings.Replace(valid, `"name":"NAME"`, `"generateName":`+b.json, 1)), code: 422, message: "metadata.generateName: Invalid value"})
			}
		}
		out = append(out,
			probe{category: category, what: "create a job of a pipeline named by " + b.what, method: "POST", path: s.base() + "/pipelinejobs",
				ctype: "application/json", body: []byte(strings.Replace(string(jsonOf(sweepResources[1].valid("new"))), `"name":"p"`, `"name":`+b.json, 1)), code: 422, message: "spec.pipelineRef.name: Invalid value"},
			probe{category: category, what: "create a trigger of a pipeline named by " + b.what, method: "POST", path: s.base() + "/triggers",
				ctype: "application/json", body: []byte(strings.Replace(string(jsonOf(sweepResources[2].valid("new"))), `"name":"p"`, `"name":`+b.json, 1)), code: 422, message: "spec.pipelineRef.name: Invalid value"},
			probe{category: category, what: "run a job named by " + b.what, method: "POST", path: s.base() + "/pipelines/p/run", ctype: "application/json",
				body: []byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"RunRequest","name":` + b.json + `,"params":[{"name":"version","value":"1"}]}`), code: 422, message: "name: Invalid value"},
		)
	}
	for _, rv := range []string{"5", "abc"} {
		out = append(out, probe{category: category, what: "create a pipeline with a resourceVersion of " + rv, method: "POST", path: s.base() + "/pipelines", ctype: "application/json",
			body: jsonOf(with(sweepResources[0].valid("new"), "metadata.resourceVersion", rv)), code: 422,
			message: fmt.Sprintf("metadata.resourceVersion: Invalid value: %q: must not be set on create", rv)})
	}
	out = append(out, probe{category: category, what: "create a pipeline without a name", method: "POST", path: s.base() + "/pipelines", ctype: "application/json",
		body: jsonOf(with(sweepResources[0].valid("x"), "metadata.name", nil)), code: 422, message: "metadata.name: Required value: name or generateName is required"})
	return out
}

func (s sweep) selectors() []probe {
	const category = "selectors"
	var out []probe
	q := url.QueryEscape
	labelSelectors := []struct{ what, selector, message string }{
		{"an unclosed parenthesis", "a=(", "unable to parse requirement: found '(', expected: identifier"},
		{"an unclosed set", "a in (b", "unable to parse requirement: found '', expected: ',' or ')'"},
		{"two operators", "a==b==c", "found '==', expected: ',' or 'end of string'"},
		{"an empty requirement", "a=b,,c=d", "found ',', expected: identifier after ','"},
		{"no key", "=b", "found '=', expected: !, identifier, or 'end of string'"},
		{"two bangs", "!!a", "unable to parse requirement: found '!', expected: identifier"},
		{"a set without parentheses", "a notin b", "unable to parse requirement: found 'b' expected: '('"},
		{"invalid UTF-8 in a value", "a=\xff", `values[0][a]: Invalid value: "\xff"`},
		{"a value of 64 characters", "a=" + strings.Repeat("v", 64), "must be no more than 63 bytes"},
		{"a key of 317 characters", strings.Repeat("k", 317) + "=v", "name part must be no more than 63 bytes"},
		{"a key with two slashes", "a/b/c=v", `Invalid value: "a/b/c": a valid label key must consist of alphanumeric characters`},
	}
	fieldSelectors := []struct{ what, resource, selector, message string }{
		{"a field that cannot be selected", "pipelinejobs", "spec.nope=x", `field label not supported: spec.nope`},
		{"a field that cannot be selected", "pipelines", "status.phase=x", `field label not supported: status.phase`},
		{"a field that cannot be selected", "triggers", "spec.schedule.cron=x", `field label not supported: spec.schedule.cron`},
		{"no operator", "pipelinejobs", "metadata.name", "invalid selector"},
		{"a set", "pipelinejobs", "metadata.name in (a)", "invalid selector"},
		{"no field", "pipelines", "=x", "field label not supported: "},
		{"a NUL in the field", "pipelinejobs", "status.pha\x00se=x", "field label not supported"},
	}
	for _, r := range sweepResources {
		collection := s.base() + "/" + r.plural
		for _, l := range labelSelectors {
			for _, op := range []struct{ what, method, query string }{
				{"list", "GET", ""}, {"watch", "GET", "&watch=true&timeoutSeconds=2"}, {"delete the collection of", "DELETE", ""},
			} {
				out = append(out, probe{category: category, what: op.what + " " + r.plural + " with a label selector with " + l.what, method: op.method, path: collection,
					query: "labelSelector=" + q(l.selector) + op.query, code: 400, message: l.message})
			}
		}
		for _, f := range fieldSelectors {
			if f.resource != r.plural {
				continue
			}
			for _, op := range []struct{ what, method, query string }{
				{"list", "GET", ""}, {"watch", "GET", "&watch=true&timeoutSeconds=2"}, {"delete the collection of", "DELETE", ""},
			} {
				out = append(out, probe{category: category, what: op.what + " " + r.plural + " with a field selector with " + f.what, method: op.method, path: collection,
					query: "fieldSelector=" + q(f.selector) + op.query, code: 400, message: f.message})
			}
		}
	}
	// The label selector's lexer reads a NUL as white space (upstream).
	for _, r := range sweepResources {
		out = append(out,
			probe{category: category, what: "list " + r.plural + " with a label selector that ends in a NUL", method: "GET",
				path: s.base() + "/" + r.plural, query: "labelSelector=" + q("a=b\x00"), code: 200, emptyList: true},
			probe{category: category, what: "list " + r.plural + " with a label selector with a NUL between words", method: "GET",
				path: s.base() + "/" + r.plural, query: "labelSelector=" + q("a=b\x00c"), code: 400, message: "found 'c', expected: ',' or 'end of string'"})
	}
	// Field selector values PostgreSQL's text cannot hold select nothing:
	// no object can have them.
	for _, f := range []struct{ resource, field string }{
		{"pipelines", "metadata.name"}, {"pipelinejobs", "metadata.name"}, {"pipelinejobs", "metadata.namespace"},
		{"pipelinejobs", "status.phase"}, {"pipelinejobs", "spec.pipelineRef.name"}, {"triggers", "metadata.name"},
	} {
		for _, v := range []struct{ what, value string }{{"a NUL", "a\x00"}, {"invalid UTF-8", "\xff"}, {"a quote", "'"}, {"a percent sign", "%"}} {
			for _, op := range []struct{ what, method, query string }{{"list", "GET", ""}, {"list in pages", "GET", "&limit=1"}, {"delete the collection of", "DELETE", ""}} {
				out = append(out, probe{category: category, what: op.what + " " + f.resource + " whose " + f.field + " is " + v.what, method: op.method,
					path: s.base() + "/" + f.resource, query: "fieldSelector=" + q(f.field+"="+v.value) + op.query, code: 200, emptyList: true})
			}
		}
	}
	return out
}

func (s sweep) resourceVersions() []probe {
	const category = "resourceVersions"
	var out []probe
	unparsable := []struct{ what, rv string }{
		{"letters", "abc"}, {"a negative number", "-1"}, {"a fraction", "1.5"}, {"hexadecimal", "0x10"},
		{"a number over 64 bits", "99999999999999999999"}, {"a NUL", "\x00"}, {"a leading space", " 1"},
	}
	// Above every revision: a read at it is "too large resource version",
	// a 504 that asks the client to retry (another replica may have
	// published it), as from etcd3, and a watch from it waits for it.
	future := []struct{ what, rv string }{
		{"2^62", "4611686018427387904"}, {"2^63", "9223372036854775808"}, {"the largest uint64", "18446744073709551615"},
	}
	tooLarge := tooLargeResourceVersion
	for _, r := range sweepResources {
		collection := s.base() + "/" + r.plural
		item := collection + "/" + r.name
		for _, u := range unparsable {
			rv := url.QueryEscape(u.rv)
			out = append(out,
				probe{category: category, what: "get " + r.plural + " at a resourceVersion of " + u.what, method: "GET", path: item, query: "resourceVersion=" + rv,
					code: 400, message: "invalid resource version"},
				probe{category: category, what: "list " + r.plural + " at a resourceVersion of " + u.what, method: "GET", path: collection, query: "resourceVersion=" + rv,
					code: 400, message: "invalid resource version"},
				probe{category: category, what: "list " + r.plural + " exactly at a resourceVersion of " + u.what, method: "GET", path: collection,
					query: "resourceVersionMatch=Exact&resourceVersion=" + rv, code: 400, message: "invalid resource version"},
				probe{category: category, what: "watch " + r.plural + " from a resourceVersion of " + u.what, method: "GET", path: collection,
					query: "watch=true&timeoutSeconds=2&resourceVersion=" + rv, code: 400, message: "invalid resource version"},
				probe{category: category, what: "update " + r.plural + " with a resourceVersion of " + u.what, method: "PUT", path: item, ctype: "application/json",
					body: jsonOf(with(r.valid(r.name), "metadata.resourceVersion", u.rv)), code: 400, message: "invalid resource version: metadata.resourceVersion: Invalid value"},
				probe{category: category, what: "update " + r.plural + "/status with a resourceVersion of " + u.what, method: "PUT", path: item + "/status", ctype: "application/json",
					body: jsonOf(with(r.valid(r.name), "metadata.resourceVersion", u.rv)), code: 400, message: "invalid resource version: metadata.resourceVersion: Invalid value"},
				probe{category: category, what: "patch " + r.plural + " with a resourceVersion of " + u.what, method: "PATCH", path: item, ctype: "application/merge-patch+json",
					body: jsonOf(map[string]any{"metadata": map[string]any{"resourceVersion": u.rv}}), code: 400, message: "invalid resource version: metadata.resourceVersion: Invalid value"},
				probe{category: category, what: "delete " + r.plural + " with a precondition on a resourceVersion of " + u.what, method: "DELETE", path: item, ctype: "application/json",
					body: jsonOf(map[string]any{"preconditions": map[string]any{"resourceVersion": u.rv}}), code: 409, message: "the ResourceVersion in the precondition (" + u.rv + ") does not match the ResourceVersion in record"},
			)
		}
		for _, f := range future {
			out = append(out,
				probe{category: category, what: "get " + r.plural + " at a resourceVersion of " + f.what, method: "GET", path: item, query: "resourceVersion=" + f.rv,
					code: 504, message: tooLarge},
				probe{category: category, what: "list " + r.plural + " at a resourceVersion of " + f.what, method: "GET", path: collection, query: "resourceVersion=" + f.rv,
					code: 504, message: tooLarge},
				probe{category: category, what: "list " + r.plural + " exactly at a resourceVersion of " + f.what, method: "GET", path: collection,
					query: "resourceVersionMatch=Exact&resourceVersion=" + f.rv, code: 504, message: tooLarge},
				probe{category: category, what: "update " + r.plural + " with a resourceVersion of " + f.what, method: "PUT", path: item, ctype: "application/json",
					body: jsonOf(with(r.valid(r.name), "metadata.resourceVersion", f.rv)), code: 409, message: "the object has been modified"},
				probe{category: category, what: "patch " + r.plural + " with a resourceVersion of " + f.what, method: "PATCH", path: item, ctype: "application/merge-patch+json",
					body: jsonOf(map[string]any{"metadata": map[string]any{"resourceVersion": f.rv}}), code: 409, message: "the object has been modified"},
			)
		}
		out = append(out,
			probe{category: category, what: "update " + r.plural + " with a stale resourceVersion", method: "PUT", path: item, ctype: "application/json",
				body: jsonOf(with(r.valid(r.name), "metadata.resourceVersion", "1")), code: 409, message: "the object has been modified; please apply your changes to the latest version and try again"},
			probe{category: category, what: "update " + r.plural + "/status with a stale resourceVersion", method: "PUT", path: item + "/status", ctype: "application/json",
				body: jsonOf(with(r.valid(r.name), "metadata.resourceVersion", "1")), code: 409, message: "the object has been modified"},
			probe{category: category, what: "patch " + r.plural + " with a stale resourceVersion", method: "PATCH", path: item, ctype: "application/merge-patch+json",
				body: []byte(`{"metadata":{"resourceVersion":"1"}}`), code: 409, message: "the object has been modified"},
			probe{category: category, what: "delete " + r.plural + " with a stale resourceVersion", method: "DELETE", path: item, ctype: "application/json",
				body: []byte(`{"preconditions":{"resourceVersion":"1"}}`), code: 409, message: "the ResourceVersion in the precondition (1) does not match the ResourceVersion in record"},
			probe{category: category, what: "delete " + r.plural + " with another UID", method: "DELETE", path: item, ctype: "application/json",
				body: []byte(`{"preconditions":{"uid":"6d8f1c1e-0000-0000-0000-000000000000"}}`), code: 409, message: "the UID in the precondition (6d8f1c1e-0000-0000-0000-000000000000) does not match the UID in record"},
			probe{category: category, what: "delete " + r.plural + " with DeleteOptions that do not parse", method: "DELETE", path: item, ctype: "application/json",
				body: []byte(`{"preconditions":`), code: 400, message: "json parse error: unexpected end of JSON input"},
			probe{category: category, what: "delete " + r.plural + " with an unknown propagation policy", method: "DELETE", path: item, query: "propagationPolicy=Sideways",
				code: 422, message: "propagationPolicy: Unsupported value"},
			probe{category: category, what: "delete " + r.plural + " with an unknown dry run", method: "DELETE", path: item, query: "dryRun=Maybe",
				code: 422, message: `dryRun: Unsupported value: ["Maybe"]`},
			probe{category: category, what: "list " + r.plural + " with an unknown resourceVersionMatch", method: "GET", path: collection, query: "resourceVersionMatch=Newest&resourceVersion=1",
				code: 422, message: `resourceVersionMatch: Unsupported value: "Newest"`},
			probe{category: category, what: "list " + r.plural + " exactly at no resourceVersion", method: "GET", path: collection, query: "resourceVersionMatch=Exact",
				code: 422, message: "resourceVersionMatch is forbidden unless resourceVersion is provided"},
			probe{category: category, what: "list " + r.plural + " exactly at resourceVersion 0", method: "GET", path: collection, query: "resourceVersionMatch=Exact&resourceVersion=0",
				code: 422, message: `resourceVersionMatch "exact" is forbidden for resourceVersion "0"`},
			probe{category: category, what: "list " + r.plural + " with sendInitialEvents", method: "GET", path: collection, query: "sendInitialEvents=true",
				code: 422, message: "sendInitialEvents is forbidden for list"},
			probe{category: category, what: "watch " + r.plural + " with sendInitialEvents and an exact resourceVersion", method: "GET", path: collection,
				query: "watch=true&timeoutSeconds=2&sendInitialEvents=true&resourceVersionMatch=Exact&resourceVersion=" + s.rv, code: 422, message: "resourceVersionMatch"},
			probe{category: category, what: "list " + r.plural + " with a limit that is no number", method: "GET", path: collection, query: "limit=ten",
				code: 400, message: `parsing "ten": invalid syntax`},
		)
	}
	return out
}

func (s sweep) continueTokens() []probe {
	const category = "continue tokens"
	var out []probe
	jobs := s.base() + "/pipelinejobs"
	invalid := []struct{ what, token, message string }{
		{"garbage", "abc!", "continue key is not valid"},
		{"a NUL", "\x00", "continue key is not valid"},
		{"an empty JSON object", token(map[string]any{}), "continue key is not valid"},
		{"an unknown version", token(map[string]any{"v": "meta.k8s.io/v2", "rv": 5, "start": "j1"}), "continue key is not valid"},
		{"revision 0", token(map[string]any{"v": "meta.k8s.io/v1", "rv": 0, "start": "j1"}), "continue key is not valid"},
		{"no start", token(map[string]any{"v": "meta.k8s.io/v1", "rv": 5, "start": ""}), "continue key is not valid"},
		{"a start in another namespace", token(map[string]any{"v": "meta.k8s.io/v1", "rv": 5, "start": "../" + s.other + "/p"}), "continue key is not valid"},
		{"a start in another resource", token(map[string]any{"v": "meta.k8s.io/v1", "rv": 5, "start": "/../../pipelines/" + s.ns + "/p"}), "continue key is not valid"},
		{"a NUL inside its start", token(map[string]any{"v": "meta.k8s.io/v1", "rv": 5, "start": "j\x000"}), "invalid continue token"},
		{"a real one cut short", s.jobsToken[:len(s.jobsToken)/2], "continue key is not valid"},
		{"a JSON list", token([]any{1}), "continue key is not valid"},
	}
	for _, i := range invalid {
		out = append(out, probe{category: category, what: "list pipelinejobs with a token of " + i.what, method: "GET", path: jobs,
			query: "limit=1&continue=" + url.QueryEscape(i.token), code: 400, message: i.message})
	}
	out = append(out,
		probe{category: category, what: "list pipelinejobs with a real token and a resourceVersion", method: "GET", path: jobs,
			query: "limit=1&resourceVersion=" + s.rv + "&continue=" + url.QueryEscape(s.jobsToken), code: 400, message: "specifying resource version is not allowed when using continue"},
		probe{category: category, what: "list pipelinejobs with a real token and an exact resourceVersion", method: "GET", path: jobs,
			query: "limit=1&resourceVersionMatch=Exact&resourceVersion=" + s.rv + "&continue=" + url.QueryEscape(s.jobsToken), code: 422, message: "resourceVersionMatch"},
		probe{category: category, what: "list pipelinejobs with a token of a future revision", method: "GET", path: jobs,
			query: "limit=1&continue=" + url.QueryEscape(token(map[string]any{"v": "meta.k8s.io/v1", "rv": int64(1) << 62, "start": "j1"})), code: 504, message: tooLargeResourceVersion},
		// Tokens that are valid, but of another list: a token's key is a
		// place in the listed namespace and resource to start after, so it
		// can only skip objects of this list, never reach another's.
		probe{category: category, what: "list pipelinejobs with the token of pipelines in another namespace", method: "GET", path: jobs,
			query: "limit=1&continue=" + url.QueryEscape(s.otherToken), code: 200, inNamespace: s.ns},
		probe{category: category, what: "list pipelines with the token of pipelines in another namespace", method: "GET", path: s.base() + "/pipelines",
			query: "limit=1&continue=" + url.QueryEscape(s.otherToken), code: 200, inNamespace: s.ns},
		probe{category: category, what: "list pipelinejobs with the token of every namespace's pipelinejobs", method: "GET", path: jobs,
			query: "limit=1&continue=" + url.QueryEscape(s.allJobsToken), code: 200, inNamespace: s.ns},
		probe{category: category, what: "list triggers with the token of pipelinejobs", method: "GET", path: s.base() + "/triggers",
			query: "limit=1&continue=" + url.QueryEscape(s.jobsToken), code: 200, message: `"name":"t"`, inNamespace: s.ns},
	)
	return out
}

func (s sweep) unknownFields() []probe {
	const category = "unknown fields"
	var out []probe
	for _, e := range s.endpoints() {
		kind := e.valid["kind"].(string)
		valid := string(jsonOf(e.valid))
		duplicate := `{"kind":"` + kind + `",` + strings.TrimPrefix(valid, "{")
		yamlBody := "apiVersion: sluice.dev/v1alpha1\nkind: " + kind + "\nbogus: 1\n"
		if m, ok := e.valid["metadata"].(map[string]any); ok {
			yamlBody += "metadata: {name: " + m["name"].(string) + "}\n"
		}
		out = append(out,
			probe{category: category, what: e.what + ": an unknown field, strictly", method: e.method, path: e.path, query: "fieldValidation=Strict",
				ctype: "application/json", body: jsonOf(with(e.valid, "bogus", 1)), code: 400, message: `strict decoding error: unknown field "bogus"`},
			probe{category: category, what: e.what + ": a duplicate field, strictly", method: e.method, path: e.path, query: "fieldValidation=Strict",
				ctype: "application/json", body: []byte(duplicate), code: 400, message: `duplicate field "kind"`},
			probe{category: category, what: e.what + ": an unknown field in YAML, strictly", method: e.method, path: e.path, query: "fieldValidation=Strict",
				ctype: "application/yaml", body: []byte(yamlBody), code: 400, message: `unknown field "bogus"`},
			probe{category: category, what: e.what + ": an unknown field validation", method: e.method, path: e.path, query: "fieldValidation=Lenient",
				ctype: "application/json", body: []byte(valid), code: 422, message: `fieldValidation: Unsupported value: "Lenient"`},
		)
		if _, ok := e.valid["spec"]; ok {
			out = append(out,
				probe{category: category, what: e.what + ": an unknown field in spec, strictly", method: e.method, path: e.path, query: "fieldValidation=Strict",
					ctype: "application/json", body: jsonOf(with(e.valid, "spec.bogus", 1)), code: 400, message: `strict decoding error: unknown field "spec.bogus"`},
			)
		}
	}
	// With Warn, an unknown field is dropped with a warning: in dry runs
	// of the objects' writes, and in refused actions.
	for _, r := range sweepResources {
		create := s.base() + "/" + r.plural
		item := create + "/" + r.name
		out = append(out,
			probe{category: category, what: "create " + r.plural + ": an unknown field with warnings (dry run)", method: "POST", path: create, query: "fieldValidation=Warn&dryRun=All",
				ctype: "application/json", body: jsonOf(with(r.valid("new"), "spec.bogus", 1)), code: 201, message: `"kind":"` + r.kind + `"`, warning: `unknown field \"spec.bogus\"`},
			probe{category: category, what: "update " + r.plural + ": an unknown field with warnings (dry run)", method: "PUT", path: item, query: "fieldValidation=Warn&dryRun=All",
				ctype: "application/json", body: jsonOf(with(r.valid(r.name), "spec.bogus", 1)), code: 200, message: `"kind":"` + r.kind + `"`, warning: `unknown field \"spec.bogus\"`},
			probe{category: category, what: "create " + r.plural + ": an unknown field with warnings, and a bad name", method: "POST", path: create, query: "fieldValidation=Warn",
				ctype: "application/json", body: jsonOf(with(r.valid("UPPER"), "spec.bogus", 1)), code: 422, message: "metadata.name: Invalid value", warning: `unknown field \"spec.bogus\"`},
			probe{category: category, what: "merge patch " + r.plural + ": an unknown field, strictly", method: "PATCH", path: item, query: "fieldValidation=Strict",
				ctype: "application/merge-patch+json", body: []byte(`{"spec":{"bogus":1}}`), code: 422, message: `strict decoding error: unknown field "spec.bogus"`},
			probe{category: category, what: "merge patch " + r.plural + ": an unknown field with warnings (dry run)", method: "PATCH", path: item, query: "fieldValidation=Warn&dryRun=All",
				ctype: "application/merge-patch+json", body: []byte(`{"spec":{"bogus":1}}`), code: 200, message: `"kind":"` + r.kind + `"`, warning: `unknown field \"spec.bogus\"`},
			probe{category: category, what: "strategic merge patch " + r.plural + ": an unknown field, strictly", method: "PATCH", path: item, query: "fieldValidation=Strict",
				ctype: "application/strategic-merge-patch+json", body: []byte(`{"spec":{"bogus":1}}`), code: 422, message: `strict decoding error: unknown field "spec.bogus"`},
			probe{category: category, what: "JSON patch " + r.plural + ": an unknown field, strictly", method: "PATCH", path: item, query: "fieldValidation=Strict",
				ctype: "application/json-patch+json", body: []byte(`[{"op":"add","path":"/spec/bogus","value":1}]`), code: 422, message: `strict decoding error: unknown field "spec.bogus"`},
			probe{category: category, what: "apply " + r.plural + ": an unknown field, strictly", method: "PATCH", path: item, query: "fieldValidation=Strict&fieldManager=sweep",
				ctype: "application/apply-patch+yaml", body: []byte("apiVersion: sluice.dev/v1alpha1\nkind: " + r.kind + "\nmetadata: {name: " + r.name + "}\nspec: {bogus: 1}\n"), code: 422, message: `.spec.bogus: field not declared in schema`},
		)
	}
	request := func(kind, fields string) []byte {
		return []byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"` + kind + `","bogus":1` + fields + `}`)
	}
	for _, a := range []struct {
		what, path string
		body       []byte
		code       int
		message    string
	}{
		{"run without its param", "pipelines/p/run", request("RunRequest", ""), 422, `param "version" has no default and must be set`},
		{"roll back without an environment", "pipelines/p/rollback", request("RollbackRequest", ""), 422, "environment: Required value"},
		{"cancel with a reason too long", "pipelinejobs/j0/cancel", request("CancelRequest", `,"reason":"`+strings.Repeat("r", 1025)+`"`), 422, "reason: Too long"},
		{"rerun a job that has not finished", "pipelinejobs/j0/rerun", request("RerunRequest", ""), 409, "rerun it once it has finished"},
		{"decide neither way", "pipelinejobs/j0/approval", request("ApprovalRequest", `,"decision":"Maybe"`), 422, `decision: Unsupported value: "Maybe"`},
	} {
		out = append(out, probe{category: category, what: a.what + ", with an unknown field and warnings", method: "POST", path: s.base() + "/" + a.path, query: "fieldValidation=Warn",
			ctype: "application/json", body: a.body, code: a.code, message: a.message, warning: `unknown field \"bogus\"`})
	}
	return out
}

func (s sweep) patches() []probe {
	const category = "patches"
	var out []probe
	type patch struct {
		what, ctype, body string
		code              int
		message           string
	}
	const (
		jsonPatch  = "application/json-patch+json"
		mergePatch = "application/merge-patch+json"
		smp        = "application/strategic-merge-patch+json"
		apply      = "application/apply-patch+yaml"
	)
	for _, r := range sweepResources {
		// A list of the spec whose items merge by name.
		list := map[string]string{"pipelines": "steps", "pipelinejobs": "params", "triggers": "params"}[r.plural]
		for _, target := range []string{"", "/status"} {
			item := s.base() + "/" + r.plural + "/" + r.name + target
			cannotApply := fmt.Sprintf("the patch of %s.sluice.dev %q cannot be applied: ", r.plural, r.name)
			patches := []patch{
				{"a JSON patch that is no JSON", jsonPatch, `[{`, 400, "unexpected end of JSON input"},
				{"a JSON patch that is an object", jsonPatch, `{}`, 400, "cannot unmarshal object"},
				{"a JSON patch of an unknown operation", jsonPatch, `[{"op":"nope","path":"/spec"}]`, 422, jsonPatchFailed},
				{"a JSON patch without a path", jsonPatch, `[{"op":"replace","value":1}]`, 422, jsonPatchFailed},
				{"a JSON patch with a relative path", jsonPatch, `[{"op":"replace","path":"spec","value":1}]`, 422, jsonPatchFailed},
				{"a JSON patch that removes what is not there", jsonPatch, `[{"op":"remove","path":"/spec/nope"}]`, 422, jsonPatchFailed},
				{"a JSON patch that adds under what is not there", jsonPatch, `[{"op":"add","path":"/spec/nope/x","value":1}]`, 422, jsonPatchFailed},
				{"a JSON patch whose test fails", jsonPatch, `[{"op":"test","path":"/metadata/name","value":"other"}]`, 422, jsonPatchFailed},
				{"a JSON patch that renames", jsonPatch, `[{"op":"replace","path":"/metadata/name","value":"other"}]`, 400, "does not match the name on the URL"},
				{"a JSON patch that moves to another namespace", jsonPatch, `[{"op":"replace","path":"/metadata/namespace","value":"` + s.other + `"}]`, 400, "namespace"},
				{"a JSON patch that makes spec a string", jsonPatch, `[{"op":"replace","path":"/spec","value":"text"}]`, 422, "json: cannot unmarshal string into Go struct field " + r.kind + ".spec"},
				{"a JSON patch that moves a value into itself", jsonPatch, `[{"op":"move","from":"/spec","path":"/spec/x"}]`, 422, jsonPatchFailed},
				{"a JSON patch that copies what is not there, strictly", jsonPatch, `[{"op":"copy","from":"/nope","path":"/spec/x"}]`, 422, `strict decoding error: unknown field "spec.x"`},
				{"a JSON patch with a bad escape", jsonPatch, `[{"op":"add","path":"/metadata/annotations/a~2","value":"b"}]`, 422, jsonPatchFailed},
				{"a JSON patch of a stale resourceVersion", jsonPatch, `[{"op":"replace","path":"/metadata/resourceVersion","value":"1"}]`, 409, "the object has been modified"},
				{"a JSON patch of another UID", jsonPatch, `[{"op":"replace","path":"/metadata/uid","value":"6d8f1c1e-0000-0000-0000-000000000000"}]`, 422, "metadata.uid: Invalid value: \"6d8f1c1e-0000-0000-0000-000000000000\": field is immutable"},
				{"a merge patch that is no JSON", mergePatch, `{`, 400, "error decoding patch: unexpected end of JSON input"},
				{"a merge patch that is a list", mergePatch, `[]`, 400, "error decoding patch: json: cannot unmarshal array"},
				{"a merge patch that is a string", mergePatch, `"text"`, 400, "error decoding patch: json: cannot unmarshal string"},
				{"a merge patch that is null", mergePatch, `null`, 400, "Invalid JSON Patch"},
				{"a merge patch that makes spec a string", mergePatch, `{"spec":"text"}`, 422, "json: cannot unmarshal string into Go struct field " + r.kind + ".spec"},
				{"a merge patch that renames", mergePatch, `{"metadata":{"name":"other"}}`, 400, "the name of the object (other) does not match the name on the URL (" + r.name + ")"},
				{"a merge patch of a label that is a number", mergePatch, `{"metadata":{"labels":{"a":5}}}`, 422, "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"},
				{"a merge patch of another kind", mergePatch, `{"kind":"Pod"}`, 422, `no kind "Pod" is registered`},
				{"a merge patch of another apiVersion", mergePatch, `{"apiVersion":"v1"}`, 422, `no kind "` + r.kind + `" is registered for version "v1"`},
				{"a strategic merge patch that is no JSON", smp, `{`, 400, "unexpected end of JSON input"},
				{"a strategic merge patch that is a list", smp, `[]`, 400, "json: cannot unmarshal array into Go value of type map[string]interface {}"},
				{"a strategic merge patch of an unknown directive", smp, `{"$patch":"bogus"}`, 422, cannotApply + "unknown patch type: bogus in map: map[$patch:bogus]"},
				{"a strategic merge patch of an unknown directive in spec", smp, `{"spec":{"$patch":"bogus"}}`, 422, cannotApply + "unknown patch type: bogus in map: map[$patch:bogus]"},
				{"a strategic merge patch that deletes the object", smp, `{"$patch":"delete"}`, 400, "the name of the object (" + r.name + " based on URL) was undeterminable: name must be provided"},
				{"a strategic merge patch that replaces metadata", smp, `{"metadata":{"$patch":"replace"}}`, 400, "the name of the object (" + r.name + " based on URL) was undeterminable: name must be provided"},
				{"a strategic merge patch of a list item without its key", smp, `{"spec":{"` + list + `":[{"$patch":"delete"}]}}`, 422, cannotApply + "map: map[$patch:delete] does not contain declared merge key: name"},
				{"a strategic merge patch of a list item with an unknown directive", smp, `{"spec":{"` + list + `":[{"name":"a","$patch":"bogus"}]}}`, 422, cannotApply + "unknown patch type: bogus"},
				{"a strategic merge patch of an element order that is a string", smp, `{"spec":{"$setElementOrder/` + list + `":"x"}}`, 422, cannotApply + "expected a []interface {}, but received a string"},
				{"a strategic merge patch of an element order without keys", smp, `{"spec":{"$setElementOrder/` + list + `":[{"nope":1}]}}`, 422, cannotApply + "map: map[nope:1] does not contain declared merge key: name"},
				{"a strategic merge patch of retained keys that are a string", smp, `{"spec":{"$retainKeys":"x"}}`, 400, "invalid patch format of retainKeys"},
				{"a strategic merge patch that deletes from a list of objects as if of strings", smp, `{"spec":{"$deleteFromPrimitiveList/` + list + `":["a"]}}`, 422, cannotApply + "list element types are not identical"},
				{"a strategic merge patch that makes a list a string", smp, `{"spec":{"` + list + `":"x"}}`, 422, "cannot restore slice from string"},
				{"a strategic merge patch of a list of lists", smp, `{"spec":{"` + list + `":[["a"]]}}`, 422, cannotApply + "list element types are not identical"},
				{"an apply that is no YAML", apply, "kind: [\n", 400, "error decoding YAML: error converting YAML to JSON: yaml: line 1: did not find expected node content"},
				{"an apply that is a list", apply, "- a\n", 400, "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array"},
				{"an apply of another kind", apply, "apiVersion: v1\nkind: Pod\nmetadata: {name: " + r.name + "}\n", 400, "invalid object type: /v1, Kind=Pod"},
				{"an apply without apiVersion", apply, "kind: " + r.kind + "\nmetadata: {name: " + r.name + "}\n", 400, "invalid object type: /, Kind=" + r.kind},
				{"an apply of another name", apply, "apiVersion: sluice.dev/v1alpha1\nkind: " + r.kind + "\nmetadata: {name: other}\n", 400, "the name of the object (other) does not match the name on the URL (" + r.name + ")"},
				{"an apply of a field of the wrong type", apply, "apiVersion: sluice.dev/v1alpha1\nkind: " + r.kind + "\nmetadata: {name: " + r.name + "}\nspec: {" + list + ": 5}\n", 422, cannotApply + "failed to create typed patch object"},
				{"an apply of a list with a key twice", apply, "apiVersion: sluice.dev/v1alpha1\nkind: " + r.kind + "\nmetadata: {name: " + r.name + "}\nspec: {" + list + ": [{name: a}, {name: a}]}\n", 422, `duplicate entries for key [name="a"]`},
				{"an empty apply", apply, "", 400, "invalid object type: /, Kind="},
				{"a patch of JSON", "application/json", `{}`, 415, "Unsupported Media Type"},
				{"a patch of text", "text/plain", `{}`, 415, "Unsupported Media Type"},
				{"a patch of CBOR apply", "application/apply-patch+cbor", "\xa0", 415, "Unsupported Media Type"},
			}
			for _, p := range patches {
				query := ""
				switch {
				case p.ctype == apply:
					query = "fieldManager=sweep"
				case strings.HasSuffix(p.what, ", strictly"):
					query = "fieldValidation=Strict"
				}
				out = append(out, probe{category: category, what: "patch " + r.plural + target + ": " + p.what, method: "PATCH", path: item, query: query,
					ctype: p.ctype, body: []byte(p.body), code: p.code, message: p.message})
			}
		}
		item := s.base() + "/" + r.plural + "/" + r.name
		applied := "apiVersion: sluice.dev/v1alpha1\nkind: " + r.kind + "\nmetadata: {name: " + r.name + "}\n"
		out = append(out,
			probe{category: category, what: "apply " + r.plural + " without a field manager", method: "PATCH", path: item,
				ctype: apply, body: []byte(applied), code: 422, message: "fieldManager: Required value: is required for apply patch"},
			probe{category: category, what: "merge patch " + r.plural + " with force", method: "PATCH", path: item, query: "force=true",
				ctype: mergePatch, body: []byte(`{}`), code: 422, message: "force: Forbidden: may not be specified for non-apply patch"},
			probe{category: category, what: "merge patch " + r.plural + " with a field manager of 129 characters", method: "PATCH", path: item, query: "fieldManager=" + strings.Repeat("m", 129),
				ctype: mergePatch, body: []byte(`{}`), code: 422, message: "fieldManager: Too long"},
			probe{category: category, what: "patch the collection of " + r.plural, method: "PATCH", path: s.base() + "/" + r.plural,
				ctype: mergePatch, body: []byte(`{}`), code: 405, message: "the server does not allow this method on the requested resource"},
			probe{category: category, what: "post to " + r.plural + " " + r.name, method: "POST", path: item,
				ctype: "application/json", body: jsonOf(r.valid(r.name)), code: 405, message: "the server does not allow this method on the requested resource"},
			probe{category: category, what: "delete " + r.plural + "/status", method: "DELETE", path: item + "/status", code: 405, message: "the server does not allow this method on the requested resource"},
		)
	}
	for _, sub := range []string{"pipelines/p/run", "pipelines/p/rollback", "pipelinejobs/j0/cancel", "pipelinejobs/j0/rerun", "pipelinejobs/j0/approval", "pipelinejobs/j0/log"} {
		path := s.base() + "/" + sub
		out = append(out,
			probe{category: category, what: "patch " + sub, method: "PATCH", path: path, ctype: mergePatch, body: []byte(`{}`), code: 405, message: "the server does not allow this method on the requested resource"},
			probe{category: category, what: "put " + sub, method: "PUT", path: path, ctype: "application/json", body: []byte(`{}`), code: 405, message: "the server does not allow this method on the requested resource"},
			probe{category: category, what: "delete " + sub, method: "DELETE", path: path, code: 405, message: "the server does not allow this method on the requested resource"},
		)
		if !strings.HasSuffix(sub, "/log") {
			out = append(out, probe{category: category, what: "get " + sub, method: "GET", path: path, code: 405, message: "the server does not allow this method on the requested resource"})
		}
	}
	return out
}

// options are the bad query parameters and request bodies of the
// subresources that take them.
func (s sweep) options() []probe {
	const category = "subresource options"
	var out []probe
	log := s.base() + "/pipelinejobs/j0/log"
	for _, o := range []struct {
		query   string
		code    int
		message string
	}{
		{"tailLines=-1", 422, "tailLines: Invalid value: -1"},
		{"tailLines=ten", 400, `parsing "ten": invalid syntax`},
		{"sinceSeconds=0", 422, "sinceSeconds: Invalid value: 0"},
		{"limitBytes=0", 422, "limitBytes: Invalid value: 0"},
		{"attempt=-1", 422, "attempt: Invalid value: -1"},
		{"attempt=99999999999999999999", 400, `parsing "99999999999999999999": value out of range`},
		{"action=run", 422, "step: Required value"},
		{"attempt=1", 422, "step: Required value"},
		{"step=UPPER", 422, "step: Invalid value"},
		{"step=%00", 422, "step: Invalid value"},
		{"step=%FF", 422, "step: Invalid value"},
		{"step=nope", 422, `step: Not found: "nope"`},
		{"step=a&action=nope", 422, `action: Not found: "nope"`},
	} {
		out = append(out, probe{category: category, what: "read the log with " + o.query, method: "GET", path: log, query: o.query, code: o.code, message: o.message})
	}
	for _, o := range []struct {
		query   string
		code    int
		message string
	}{
		{"", 422, "step: Required value"},
		{"step=a&action=run", 422, "attempt: Required value"},
		{"step=a&action=run&attempt=1", 409, "the job has not started"},
		{"step=nope&action=run&attempt=1", 422, `step: Not found: "nope"`},
		{"step=a&action=run&attempt=-3", 422, "attempt: Invalid value: -3"},
		{"step=a&action=run&attempt=one", 400, `parsing "one": invalid syntax`},
	} {
		out = append(out, probe{category: category, what: "archive a log with " + o.query, method: "POST", path: log, query: o.query,
			ctype: "text/plain", body: []byte("output\n"), code: o.code, message: o.message})
	}
	request := func(kind, fields string) []byte {
		return []byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"` + kind + `"` + fields + `}`)
	}
	for _, a := range []struct {
		what, path string
		body       []byte
		code       int
		message    string
	}{
		{"run with a param the pipeline does not have", "pipelines/p/run", request("RunRequest", `,"params":[{"name":"version","value":"1"},{"name":"nope","value":"1"}]`), 422, `params[1].name: Unsupported value: "nope": supported values: "version"`},
		{"run with a param twice", "pipelines/p/run", request("RunRequest", `,"params":[{"name":"version","value":"1"},{"name":"version","value":"2"}]`), 422, "params[1].name: Duplicate value"},
		{"run with a param name that is no identifier", "pipelines/p/run", request("RunRequest", `,"params":[{"name":"a-b","value":"1"}]`), 422, "params[0].name: Invalid value"},
		{"run with an unknown trigger type", "pipelines/p/run", request("RunRequest", `,"params":[{"name":"version","value":"1"}],"trigger":{"type":"Push","name":"t"}`), 422, `trigger.type: Unsupported value: "Push"`},
		{"run for a trigger that does not exist", "pipelines/p/run", request("RunRequest", `,"params":[{"name":"version","value":"1"}],"trigger":{"type":"Webhook","name":"nope"}`), 422, `trigger.name: Not found: "nope"`},
		{"run in an environment that is no name", "pipelines/p/run", request("RunRequest", `,"params":[{"name":"version","value":"1"}],"environment":"Prod!"`), 422, "environment: Invalid value"},
		{"roll back to a job that is no name", "pipelines/p/rollback", request("RollbackRequest", `,"environment":"prod","toJob":"UPPER"`), 422, "toJob: Invalid value"},
		{"roll back an environment that was never released", "pipelines/p/rollback", request("RollbackRequest", `,"environment":"prod"`), 409, `nothing to roll back to: environment "prod" has no release of this pipeline`},
		{"cancel with a reason of 1,025 bytes", "pipelinejobs/j0/cancel", request("CancelRequest", `,"reason":"`+strings.Repeat("r", 1025)+`"`), 422, "reason: Too long: may not be more than 1024 bytes"},
		{"approve without a decision", "pipelinejobs/j0/approval", request("ApprovalRequest", ""), 422, "decision: Required value"},
		{"approve with a message of 1,025 bytes", "pipelinejobs/j0/approval", request("ApprovalRequest", `,"decision":"Approve","message":"`+strings.Repeat("m", 1025)+`"`), 422, "message: Too long"},
		{"approve a job at no gate", "pipelinejobs/j0/approval", request("ApprovalRequest", `,"decision":"Approve"`), 409, "waits at no approval gate"},
		{"rerun a job that has not finished", "pipelinejobs/j0/rerun", request("RerunRequest", ""), 409, "rerun it once it has finished"},
		{"create a job with an unknown dry run", "pipelinejobs", jsonOf(sweepResources[1].valid("new")), 422, `dryRun: Unsupported value: ["Maybe"]`},
	} {
		query := ""
		if a.path == "pipelinejobs" {
			query = "dryRun=Maybe"
		}
		out = append(out, probe{category: category, what: a.what, method: "POST", path: s.base() + "/" + a.path, query: query,
			ctype: "application/json", body: a.body, code: a.code, message: a.message})
	}
	return out
}

// tooLargeResourceVersion starts the message of the 504 for a
// resourceVersion no revision has reached yet.
const tooLargeResourceVersion = "Too large resource version: "

// jsonPatchFailed is the whole message of the patch handler's 422 for a
// JSON patch that cannot be applied: it drops the patch library's error
// (upstream; k8s.io/apiserver's applyJSPatch uses NewGenericServerResponse).
const jsonPatchFailed = "the server rejected our request due to an error in our request"

// billionLaughs is a YAML document whose aliases expand to 10^9 strings.
const billionLaughs = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`
