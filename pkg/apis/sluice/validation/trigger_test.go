package validation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
)

func scheduleTrigger() *sluice.Trigger {
	return &sluice.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "team-a"},
		Spec: sluice.TriggerSpec{
			PipelineRef: sluice.PipelineReference{Name: "release"},
			Environment: "staging",
			Params:      []sluice.Param{{Name: "when", Value: "$(schedule.time)"}, {Name: "literal", Value: "$$(not.a.reference)"}},
			Schedule:    &sluice.ScheduleSource{Cron: "0 3 * * 1-5", TimeZone: "Europe/Berlin", StartingDeadlineSeconds: ptr.To[int64](600), CatchUp: ptr.To[int32](3)},
		},
	}
}

func TestValidateTrigger(t *testing.T) {
	image := func(tr *sluice.Trigger) {
		tr.Spec.Schedule = nil
		tr.Spec.Params = []sluice.Param{{Name: "image", Value: "$(image.repository)@$(image.digest)"}, {Name: "revision", Value: "$(image.tag)"}}
		tr.Spec.Image = &sluice.ImageSource{Repository: "registry.example.com/team/web", Policy: sluice.ImagePolicy{Semver: ">=1.2.0 <2"},
			Interval: &metav1.Duration{Duration: time.Minute}, PullSecretRef: &corev1.LocalObjectReference{Name: "registry"}}
	}
	github := func(tr *sluice.Trigger) {
		tr.Spec.Schedule = nil
		tr.Spec.Params = []sluice.Param{{Name: "revision", Value: "$(webhook.commit)"}, {Name: "by", Value: "$(webhook.sender)"}}
		tr.Spec.Webhook = &sluice.WebhookSource{Provider: sluice.WebhookGitHub, SecretRef: sluice.SecretKeyRef{Name: "hook", Key: "secret"},
			Events: []sluice.WebhookEvent{sluice.WebhookPush, sluice.WebhookTag}, Filter: &sluice.WebhookFilter{Branches: []string{"main", "release/*"}, Tags: []string{"v*"}}}
	}
	generic := func(tr *sluice.Trigger) {
		tr.Spec.Schedule = nil
		tr.Spec.Params = []sluice.Param{{Name: "version", Value: "$(webhook.body.release.version)"}}
		tr.Spec.Webhook = &sluice.WebhookSource{Provider: sluice.WebhookGeneric, SecretRef: sluice.SecretKeyRef{Name: "hook", Key: "secret"}}
	}
	slack := func(tr *sluice.Trigger) {
		tr.Spec.Schedule = nil
		tr.Spec.Params = []sluice.Param{{Name: "requested", Value: "$(slack.user): $(slack.text)"}}
		tr.Spec.Slack = &sluice.SlackSource{SigningSecretRef: sluice.SecretKeyRef{Name: "slack", Key: "signing-secret"}, AllowedUsers: []string{"U024BE7LH"}}
	}
	cases := []struct {
		name   string
		mutate func(tr *sluice.Trigger)
		want   []string
	}{
		{"schedule", func(tr *sluice.Trigger) {}, nil},
		{"image", image, nil},
		{"image with a pattern", func(tr *sluice.Trigger) {
			image(tr)
			tr.Spec.Image.Policy = sluice.ImagePolicy{Pattern: "^main-[0-9a-f]{7}$"}
		}, nil},
		{"github webhook", github, nil},
		{"generic webhook", generic, nil},
		{"slack", slack, nil},

		{"no source", func(tr *sluice.Trigger) { tr.Spec.Schedule = nil }, []string{"spec: " + required}},
		{"two sources", func(tr *sluice.Trigger) {
			tr.Spec.Slack = &sluice.SlackSource{SigningSecretRef: sluice.SecretKeyRef{Name: "s", Key: "k"}}
		},
			[]string{"spec.slack: " + forbidden}},
		{"no pipeline", func(tr *sluice.Trigger) { tr.Spec.PipelineRef.Name = "" }, []string{"spec.pipelineRef.name: " + required}},
		{"bad environment", func(tr *sluice.Trigger) { tr.Spec.Environment = "Prod" }, []string{"spec.environment: " + invalid}},
		{"bad name", func(tr *sluice.Trigger) { tr.Name = "nightly.build" }, []string{"metadata.name: " + invalid}},
		{"a reference of another source", func(tr *sluice.Trigger) { tr.Spec.Params[0].Value = "$(image.tag)" }, []string{"spec.params[0].value: " + invalid}},
		{"a body reference of a GitHub webhook", func(tr *sluice.Trigger) { github(tr); tr.Spec.Params[0].Value = "$(webhook.body.head_commit.id)" }, nil},
		{"a body reference outside a webhook", func(tr *sluice.Trigger) { tr.Spec.Params[0].Value = "$(webhook.body.after)" },
			[]string{"spec.params[0].value: " + invalid}},
		{"a bad cron", func(tr *sluice.Trigger) { tr.Spec.Schedule.Cron = "0 25 * * *" }, []string{"spec.schedule.cron: " + invalid}},
		{"a bad semver constraint", func(tr *sluice.Trigger) { image(tr); tr.Spec.Image.Policy.Semver = ">=one" }, []string{"spec.image.policy.semver: " + invalid}},
		{"a pipeline's reference", func(tr *sluice.Trigger) { tr.Spec.Params[0].Value = "$(params.version)" }, []string{"spec.params[0].value: " + invalid}},
		{"duplicate param", func(tr *sluice.Trigger) { tr.Spec.Params[1].Name = "when" }, []string{"spec.params[1].name: " + duplicate}},

		{"no cron", func(tr *sluice.Trigger) { tr.Spec.Schedule.Cron = " " }, []string{"spec.schedule.cron: " + required}},
		{"time zone in the cron", func(tr *sluice.Trigger) { tr.Spec.Schedule.Cron = "CRON_TZ=Europe/Berlin 0 3 * * *" }, []string{"spec.schedule.cron: " + invalid}},
		{"unknown time zone", func(tr *sluice.Trigger) { tr.Spec.Schedule.TimeZone = "Europe/Atlantis" }, []string{"spec.schedule.timeZone: " + invalid}},
		{"local time zone", func(tr *sluice.Trigger) { tr.Spec.Schedule.TimeZone = "Local" }, []string{"spec.schedule.timeZone: " + invalid}},
		{"zero deadline", func(tr *sluice.Trigger) { tr.Spec.Schedule.StartingDeadlineSeconds = ptr.To[int64](0) }, []string{"spec.schedule.startingDeadlineSeconds: " + invalid}},
		{"catch up too far", func(tr *sluice.Trigger) { tr.Spec.Schedule.CatchUp = ptr.To[int32](MaxCatchUp + 1) }, []string{"spec.schedule.catchUp: " + invalid}},
		{"catch up nothing", func(tr *sluice.Trigger) { tr.Spec.Schedule.CatchUp = ptr.To[int32](0) }, nil},

		{"image with a tag", func(tr *sluice.Trigger) { image(tr); tr.Spec.Image.Repository = "registry.example.com:5000/web:1.2" }, []string{"spec.image.repository: " + invalid}},
		{"image on a registry with a port", func(tr *sluice.Trigger) { image(tr); tr.Spec.Image.Repository = "127.0.0.1:5000/web" }, nil},
		{"image with a digest", func(tr *sluice.Trigger) { image(tr); tr.Spec.Image.Repository = "web@sha256:abc" }, []string{"spec.image.repository: " + invalid}},
		{"image without repository", func(tr *sluice.Trigger) { image(tr); tr.Spec.Image.Repository = "" }, []string{"spec.image.repository: " + required}},
		{"image without policy", func(tr *sluice.Trigger) { image(tr); tr.Spec.Image.Policy = sluice.ImagePolicy{} }, []string{"spec.image.policy: " + required}},
		{"image with both policies", func(tr *sluice.Trigger) { image(tr); tr.Spec.Image.Policy.Pattern = "^v" }, []string{"spec.image.policy.pattern: " + forbidden}},
		{"image with a bad pattern", func(tr *sluice.Trigger) { image(tr); tr.Spec.Image.Policy = sluice.ImagePolicy{Pattern: "(["} }, []string{"spec.image.policy.pattern: " + invalid}},
		{"image with upper case", func(tr *sluice.Trigger) { image(tr); tr.Spec.Image.Repository = "registry.example.com/Team/web" }, []string{"spec.image.repository: " + invalid}},
		{"image with push notifications", func(tr *sluice.Trigger) {
			image(tr)
			tr.Spec.Image.Push = &sluice.ImagePush{Provider: sluice.ImagePushRegistry, SecretRef: sluice.SecretKeyRef{Name: "registry-token", Key: "token"}}
		}, nil},
		{"image push of an unknown provider, without a key", func(tr *sluice.Trigger) {
			image(tr)
			tr.Spec.Image.Push = &sluice.ImagePush{Provider: "Harbor", SecretRef: sluice.SecretKeyRef{Name: "registry-token"}}
		}, []string{"spec.image.push.provider: " + notSupported, "spec.image.push.secretRef.key: " + required}},
		{"image polled too often", func(tr *sluice.Trigger) { image(tr); tr.Spec.Image.Interval.Duration = time.Second }, []string{"spec.image.interval: " + invalid}},

		{"webhook of an unknown provider", func(tr *sluice.Trigger) { github(tr); tr.Spec.Webhook.Provider = "Bitbucket" }, []string{"spec.webhook.provider: " + notSupported}},
		{"webhook without secret", func(tr *sluice.Trigger) { github(tr); tr.Spec.Webhook.SecretRef = sluice.SecretKeyRef{} },
			[]string{"spec.webhook.secretRef.name: " + required, "spec.webhook.secretRef.key: " + required}},
		{"webhook of an unknown event", func(tr *sluice.Trigger) { github(tr); tr.Spec.Webhook.Events = []sluice.WebhookEvent{"pull_request"} },
			[]string{"spec.webhook.events[0]: " + notSupported}},
		{"webhook event twice", func(tr *sluice.Trigger) { github(tr); tr.Spec.Webhook.Events = []sluice.WebhookEvent{"tag", "tag"} },
			[]string{"spec.webhook.events[1]: " + duplicate}},
		{"webhook with a bad glob", func(tr *sluice.Trigger) { github(tr); tr.Spec.Webhook.Filter.Tags = []string{"v["} },
			[]string{"spec.webhook.filter.tags[0]: " + invalid}},
		{"generic webhook with events", func(tr *sluice.Trigger) { generic(tr); tr.Spec.Webhook.Events = []sluice.WebhookEvent{"push"} },
			[]string{"spec.webhook.events: " + forbidden}},

		{"slack with a user name", func(tr *sluice.Trigger) { slack(tr); tr.Spec.Slack.AllowedUsers = []string{"alice"} }, []string{"spec.slack.allowedUsers[0]: " + invalid}},
		{"slack user twice", func(tr *sluice.Trigger) { slack(tr); tr.Spec.Slack.AllowedUsers = []string{"U024BE7LH", "U024BE7LH"} },
			[]string{"spec.slack.allowedUsers[1]: " + duplicate}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := scheduleTrigger()
			c.mutate(tr)
			assert.Equal(t, c.want, nilIfEmpty(errs(ValidateTrigger(tr))))
		})
	}
}

func TestValidateTriggerStatusUpdate(t *testing.T) {
	old := scheduleTrigger()
	old.ResourceVersion = "3"
	tr := old.DeepCopy()
	tr.Status = sluice.TriggerStatus{ObservedGeneration: 1, SkippedSlots: 2,
		LastEvent:  &sluice.TriggerEvent{Time: metav1.Now(), Detail: "schedule 2026-12-03T03:00:00+01:00", Job: "nightly-29412345"},
		Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Scheduled", LastTransitionTime: metav1.Now()}}}
	assert.Empty(t, ValidateTriggerStatusUpdate(tr, old))
	tr.Status.SkippedSlots = -1
	assert.Equal(t, []string{"status.skippedSlots: " + invalid}, errs(ValidateTriggerStatusUpdate(tr, old)))
}
