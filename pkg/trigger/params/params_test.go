package params

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/substitution"
	"github.com/sluice-dev/sluice/pkg/trigger/webhook"
)

type given = substitution.Given

// g is a param; substitution.Given is another package's struct, so vet wants its fields named.
func g(name, value string) given { return given{Name: name, Value: value} }

func TestValidate(t *testing.T) {
	path := field.NewPath("spec", "params")
	cases := []struct {
		name   string
		source Source
		params []given
		errs   []string
	}{
		{"the issue's image params", Image, []given{
			g("image", "$(image.repository)@$(image.digest)"), g("revision", "$(image.tag)")}, nil},
		{"plain values and the kubelet's", Schedule, []given{g("a", "nightly"), g("b", "$(HOME) $$(schedule.nope)"), g("at", "$(schedule.time)")}, nil},
		{"webhook fields and body", Webhook, []given{g("a", "$(webhook.ref) $(webhook.commit) $(webhook.repository) $(webhook.sender)"),
			g("b", "$(webhook.body.head_commit.id) $(webhook.body.commits[0].author.name)")}, nil},
		{"slack", Slack, []given{g("who", "$(slack.user): $(slack.text)")}, nil},
		{"another source's reference", Schedule, []given{g("a", "x"), g("tag", "$(image.tag)")}, []string{
			`spec.params[1].value: Invalid value: "$(image.tag)": unknown reference $(image.tag): a trigger with a schedule source may use $(schedule.time)`}},
		{"a misspelt one", Image, []given{g("d", "$(image.digets)")}, []string{
			`spec.params[0].value: Invalid value: "$(image.digets)": unknown reference $(image.digets): a trigger with a image source may use $(image.repository), $(image.tag), $(image.digest)`}},
		{"Sluice's own references mean nothing here", Slack, []given{g("j", "$(params.x)-$(job.name)")}, []string{
			`spec.params[0].value: Invalid value: "$(params.x)-$(job.name)": unknown reference $(params.x): a trigger with a slack source may use $(slack.user), $(slack.text)`,
			`spec.params[0].value: Invalid value: "$(params.x)-$(job.name)": unknown reference $(job.name): a trigger with a slack source may use $(slack.user), $(slack.text)`}},
		{"a body path outside webhooks", Slack, []given{g("b", "$(webhook.body.x)")}, []string{
			`spec.params[0].value: Invalid value: "$(webhook.body.x)": unknown reference $(webhook.body.x): a trigger with a slack source may use $(slack.user), $(slack.text)`}},
		{"a body path that does not parse", Webhook, []given{g("b", "$(webhook.body.commits[)")}, []string{
			`spec.params[0].value: Invalid value: "$(webhook.body.commits[)": $(webhook.body.commits[): invalid JSONPath "commits["`}},
		{"webhook.body alone", Webhook, []given{g("b", "$(webhook.body)")}, []string{
			`spec.params[0].value: Invalid value: "$(webhook.body)": unknown reference $(webhook.body): a trigger with a webhook source may use $(webhook.ref), $(webhook.branch), $(webhook.tag), $(webhook.commit), $(webhook.repository), $(webhook.sender), $(webhook.body.<jsonpath>)`}},
	}
	for _, c := range cases {
		var msgs []string
		for _, e := range Validate(c.source, c.params, path) {
			msgs = append(msgs, e.Error())
		}
		if len(c.errs) == 0 {
			assert.Empty(t, msgs, c.name)
			continue
		}
		require.Len(t, msgs, len(c.errs), c.name)
		for i := range c.errs {
			assert.Contains(t, msgs[i], c.errs[i], c.name)
		}
	}
	assert.Equal(t, []string{"schedule.time"}, Allowed(Schedule))
}

func TestExpand(t *testing.T) {
	out, err := Expand([]given{g("image", "$(image.repository)@$(image.digest)"), g("revision", "$(image.tag)"), g("home", "$(HOME)")},
		ImageValues("registry.example.com/team/web", "1.3.0", "sha256:abc"))
	require.NoError(t, err)
	assert.Equal(t, []given{g("image", "registry.example.com/team/web@sha256:abc"), g("revision", "1.3.0"), g("home", "$(HOME)")}, out)

	berlin, _ := time.LoadLocation("Europe/Berlin")
	out, err = Expand([]given{g("at", "$(schedule.time)")}, ScheduleValues(time.Date(2025, 1, 6, 4, 0, 0, 0, berlin)))
	require.NoError(t, err)
	assert.Equal(t, "2025-01-06T03:00:00Z", out[0].Value)

	out, err = Expand([]given{g("who", "$(slack.user)"), g("what", "$(slack.text)")}, SlackValues("U024BE7LH", "run release"))
	require.NoError(t, err)
	assert.Equal(t, []given{g("who", "U024BE7LH"), g("what", "run release")}, out)

	// A value that looks like a reference is not expanded again.
	out, err = Expand([]given{g("t", "$(slack.text)")}, SlackValues("U1", "$(slack.user)"))
	require.NoError(t, err)
	assert.Equal(t, "$(slack.user)", out[0].Value)

	// A reference without a value is an error, never "".
	_, err = Expand([]given{g("tag", "$(image.tag)")}, SlackValues("U1", "x"))
	assert.EqualError(t, err, "param tag: no value for $(image.tag)")
}

func TestExpandWebhook(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main","after":"abc1234","repository":{"full_name":"octo-org/web"},"sender":{"login":"alice"},"head_commit":{"id":"abc1234","message":"Fix it"}}`)
	h := http.Header{}
	h.Set(webhook.HeaderGitHubEvent, "push")
	e, err := webhook.ParseGitHub(h, body)
	require.NoError(t, err)
	out, err := Expand([]given{
		g("what", "$(webhook.repository)@$(webhook.commit) on $(webhook.ref) by $(webhook.sender)"),
		g("msg", "$(webhook.body.head_commit.message)"),
	}, WebhookValues(e))
	require.NoError(t, err)
	assert.Equal(t, []given{g("what", "octo-org/web@abc1234 on refs/heads/main by alice"), g("msg", "Fix it")}, out)

	_, err = Expand([]given{g("x", "$(webhook.body.head_commit.nope)")}, WebhookValues(e))
	assert.ErrorContains(t, err, "param x: webhook.body.head_commit.nope")
}

func TestRun(t *testing.T) {
	tr := &v1alpha1.Trigger{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}, Spec: v1alpha1.TriggerSpec{
		Environment: "staging",
		Params:      []v1alpha1.Param{{Name: "when", Value: "at $(schedule.time)"}, {Name: "fixed", Value: "1"}},
	}}
	slot := time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)
	run, err := Run(tr, "nightly-1764727200", v1alpha1.TriggerSchedule, "schedule slot", ScheduleValues(slot))
	require.NoError(t, err)
	assert.Equal(t, &v1alpha1.RunRequest{
		Name:        "nightly-1764727200",
		Environment: "staging",
		Params:      []v1alpha1.Param{{Name: "when", Value: "at 2026-12-03T02:00:00Z"}, {Name: "fixed", Value: "1"}},
		Trigger:     &v1alpha1.JobTrigger{Type: v1alpha1.TriggerSchedule, Name: "nightly", Detail: "schedule slot"},
	}, run)

	tr.Spec.Params[0].Value = "$(image.tag)"
	_, err = Run(tr, "x", v1alpha1.TriggerSchedule, "", ScheduleValues(slot))
	assert.ErrorContains(t, err, "param when: no value for $(image.tag)")
}
