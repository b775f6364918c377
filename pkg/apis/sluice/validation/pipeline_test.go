package validation

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
)

// errs renders an error list as "path: type" strings, the shape every case
// asserts, so a case fails if a rule reports the wrong path or kind of error.
func errs(list field.ErrorList) []string {
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, fmt.Sprintf("%s: %s", e.Field, e.Type))
	}
	return out
}

const (
	required     = "Required value"
	invalid      = "Invalid value"
	duplicate    = "Duplicate value"
	notSupported = "Unsupported value"
	tooMany      = "Too many"
	tooLong      = "Too long"
	forbidden    = "Forbidden"
)

func action(name string) sluice.Action {
	return sluice.Action{Name: name, Image: "golang:1.26"}
}

// validPipeline uses every optional field, so that each rule below starts
// from an object it accepts.
func validPipeline() *sluice.Pipeline {
	return &sluice.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "release", Namespace: "team-a"},
		Spec: sluice.PipelineSpec{
			Description: "test, build and deploy",
			Params: []sluice.ParamSpec{
				{Name: "version", Description: "what to build"},
				{Name: "env_name", Default: ptr.To("staging")},
			},
			Steps: []sluice.Step{
				{
					Name: "test",
					Actions: []sluice.Action{{
						Name:       "unit",
						Image:      "golang:$(params.version)",
						Command:    []string{"go", "test", "./..."},
						Args:       []string{"-run", "$(job.name)-$(step.name)-$(job.namespace)", "$(HOME)", "$$(params.literal)"},
						WorkingDir: "/workspace",
						Env: []corev1.EnvVar{
							{Name: "ENV", Value: "$(params.env_name)"},
							{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "ci"}, Key: "token"}}},
							{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
						},
						EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
							Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
						},
					}, action("lint")},
					Timeout: &metav1.Duration{Duration: 10 * time.Minute},
					Retries: 2,
					PodTemplate: &sluice.PodTemplate{
						ServiceAccountName: "ci-runner",
						NodeSelector:       map[string]string{"kubernetes.io/arch": "amd64"},
						Tolerations: []corev1.Toleration{
							{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "ci", Effect: corev1.TaintEffectNoSchedule},
							{Operator: corev1.TolerationOpExists},
							{Key: "flaky", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](30)},
						},
						ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}},
					},
				},
				{Name: "build", Actions: []sluice.Action{action("compile")}},
			},
			Workspace: &sluice.WorkspaceSpec{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "ci"}},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
			Timeout:           &metav1.Duration{Duration: time.Hour},
			ConcurrencyPolicy: sluice.ForbidConcurrent,
			Notify: []sluice.Notification{{
				Events:  []sluice.NotifyEvent{sluice.NotifyFailed, sluice.NotifySucceeded},
				Webhook: &sluice.Webhook{URL: "https://hooks.example.com/ci", SecretRef: &sluice.SecretKeyRef{Name: "hook", Key: "hmac"}},
			}},
			PodRetention: sluice.PodRetentionOnStepCompletion,
			History:      &sluice.HistoryPolicy{SuccessfulJobsLimit: ptr.To[int32](10), FailedJobsLimit: ptr.To[int32](0), TTLSecondsAfterFinished: ptr.To[int32](86400)},
		},
	}
}

func steps(n int) []sluice.Step {
	out := make([]sluice.Step, n)
	for i := range out {
		out[i] = sluice.Step{Name: fmt.Sprintf("s%d", i), Actions: []sluice.Action{action("a")}}
	}
	return out
}

func actions(n int) []sluice.Action {
	out := make([]sluice.Action, n)
	for i := range out {
		out[i] = action(fmt.Sprintf("a%d", i))
	}
	return out
}

func TestValidatePipeline(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(p *sluice.Pipeline)
		want   []string
	}{
		{"the full valid pipeline", func(p *sluice.Pipeline) {}, nil},
		{"minimal pipeline", func(p *sluice.Pipeline) {
			p.Spec = sluice.PipelineSpec{Steps: steps(1), ConcurrencyPolicy: sluice.AllowConcurrent, PodRetention: sluice.PodRetentionOnJobCompletion}
		}, nil},

		{"podRetention unknown", func(p *sluice.Pipeline) { p.Spec.PodRetention = "Always" }, []string{"spec.podRetention: " + notSupported}},
		{"podRetention missing", func(p *sluice.Pipeline) { p.Spec.PodRetention = "" }, []string{"spec.podRetention: " + notSupported}},
		{"history limits negative", func(p *sluice.Pipeline) {
			p.Spec.History = &sluice.HistoryPolicy{SuccessfulJobsLimit: ptr.To[int32](-1), FailedJobsLimit: ptr.To[int32](-2), TTLSecondsAfterFinished: ptr.To[int32](-3)}
		}, []string{"spec.history.successfulJobsLimit: " + invalid, "spec.history.failedJobsLimit: " + invalid, "spec.history.ttlSecondsAfterFinished: " + invalid}},
		{"history empty", func(p *sluice.Pipeline) { p.Spec.History = &sluice.HistoryPolicy{} }, nil},

		// metadata
		{"name missing", func(p *sluice.Pipeline) { p.Name = "" }, []string{"metadata.name: " + required}},
		{"name not a DNS label", func(p *sluice.Pipeline) { p.Name = "a.b" }, []string{"metadata.name: " + invalid}},
		{"name of 63 characters", func(p *sluice.Pipeline) { p.Name = strings.Repeat("a", 63) }, nil},
		{"name of 64 characters", func(p *sluice.Pipeline) { p.Name = strings.Repeat("a", 64) }, []string{"metadata.name: " + invalid}},
		{"namespace missing", func(p *sluice.Pipeline) { p.Namespace = "" }, []string{"metadata.namespace: " + required}},

		// params
		{"param name C identifier with underscore", func(p *sluice.Pipeline) {
			p.Spec.Params[0].Name = "_v2"
			p.Spec.Steps[0].Actions[0].Image = "golang:$(params._v2)"
		}, nil},
		{"param name missing", func(p *sluice.Pipeline) {
			p.Spec.Params[1].Name = ""
			p.Spec.Steps[0].Actions[0].Env[0].Value = ""
		}, []string{"spec.params[1].name: " + required}},
		{"param name not a C identifier", func(p *sluice.Pipeline) {
			p.Spec.Params[1].Name = "env-name"
			p.Spec.Steps[0].Actions[0].Env[0].Value = ""
		}, []string{"spec.params[1].name: " + invalid}},
		{"param name duplicated", func(p *sluice.Pipeline) { p.Spec.Params[1].Name = "version" }, []string{
			"spec.params[1].name: " + duplicate,
			// env_name is no longer declared, so its reference is now unknown.
			"spec.steps[0].actions[0].env[0].value: " + invalid,
		}},

		// steps
		{"no steps", func(p *sluice.Pipeline) { p.Spec.Steps = nil }, []string{"spec.steps: " + required}},
		{"64 steps", func(p *sluice.Pipeline) { p.Spec.Steps = steps(64) }, nil},
		{"65 steps", func(p *sluice.Pipeline) { p.Spec.Steps = steps(65) }, []string{"spec.steps: " + tooMany}},
		{"step name missing", func(p *sluice.Pipeline) { p.Spec.Steps[1].Name = "" }, []string{"spec.steps[1].name: " + required}},
		{"step name not a DNS label", func(p *sluice.Pipeline) { p.Spec.Steps[1].Name = "Build" }, []string{"spec.steps[1].name: " + invalid}},
		{"step name duplicated", func(p *sluice.Pipeline) { p.Spec.Steps[1].Name = "test" }, []string{"spec.steps[1].name: " + duplicate}},
		{"step timeout zero", func(p *sluice.Pipeline) { p.Spec.Steps[0].Timeout = &metav1.Duration{} }, []string{"spec.steps[0].timeout: " + invalid}},
		{"step timeout negative", func(p *sluice.Pipeline) { p.Spec.Steps[0].Timeout = &metav1.Duration{Duration: -time.Second} }, []string{"spec.steps[0].timeout: " + invalid}},
		{"retries 0 and 10", func(p *sluice.Pipeline) { p.Spec.Steps[0].Retries = 10; p.Spec.Steps[1].Retries = 0 }, nil},
		{"retries 11", func(p *sluice.Pipeline) { p.Spec.Steps[0].Retries = 11 }, []string{"spec.steps[0].retries: " + invalid}},
		{"retries negative", func(p *sluice.Pipeline) { p.Spec.Steps[0].Retries = -1 }, []string{"spec.steps[0].retries: " + invalid}},

		// actions
		{"no actions", func(p *sluice.Pipeline) { p.Spec.Steps[1].Actions = nil }, []string{"spec.steps[1].actions: " + required}},
		{"16 actions", func(p *sluice.Pipeline) { p.Spec.Steps[1].Actions = actions(16) }, nil},
		{"17 actions", func(p *sluice.Pipeline) { p.Spec.Steps[1].Actions = actions(17) }, []string{"spec.steps[1].actions: " + tooMany}},
		{"action name missing", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[1].Name = "" }, []string{"spec.steps[0].actions[1].name: " + required}},
		{"action name not a DNS label", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[1].Name = "go_vet" }, []string{"spec.steps[0].actions[1].name: " + invalid}},
		{"action name duplicated", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[1].Name = "unit" }, []string{"spec.steps[0].actions[1].name: " + duplicate}},
		{"same action name in two steps", func(p *sluice.Pipeline) { p.Spec.Steps[1].Actions[0].Name = "unit" }, nil},
		{"image missing", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[1].Image = "" }, []string{"spec.steps[0].actions[1].image: " + required}},
		{"image with whitespace", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[1].Image = " golang" }, []string{"spec.steps[0].actions[1].image: " + invalid}},

		// references
		{"unknown param in image", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Image = "golang:$(params.nope)" }, []string{"spec.steps[0].actions[0].image: " + invalid}},
		{"unknown context in command", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Command[1] = "$(job.uid)" }, []string{"spec.steps[0].actions[0].command[1]: " + invalid}},
		{"unknown step field in args", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Args[0] = "$(step.index)" }, []string{"spec.steps[0].actions[0].args[0]: " + invalid}},
		{"unknown param in env value", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Env[0].Value = "$(params.ENV_NAME)" }, []string{"spec.steps[0].actions[0].env[0].value: " + invalid}},

		// env
		{"env name missing", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Env[0].Name = "" }, []string{"spec.steps[0].actions[0].env[0].name: " + required}},
		{"env name with a dot", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Env[0].Name = "my.var" }, nil},
		{"env name invalid", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Env[0].Name = "1=x" }, []string{"spec.steps[0].actions[0].env[0].name: " + invalid}},
		{"env name duplicated", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Env[1].Name = "ENV" }, []string{"spec.steps[0].actions[0].env[1].name: " + duplicate}},
		{"env value and valueFrom", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Env[1].Value = "x" }, []string{"spec.steps[0].actions[0].env[1].valueFrom: " + invalid}},
		{"env valueFrom with no source", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Env[1].ValueFrom = &corev1.EnvVarSource{} }, []string{"spec.steps[0].actions[0].env[1].valueFrom: " + invalid}},
		{"env valueFrom with two sources", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].Actions[0].Env[1].ValueFrom.FieldRef = &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}
		}, []string{"spec.steps[0].actions[0].env[1].valueFrom: " + invalid}},
		{"env secretKeyRef without key", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Env[1].ValueFrom.SecretKeyRef.Key = "" }, []string{"spec.steps[0].actions[0].env[1].valueFrom.secretKeyRef.key: " + required}},
		{"env secretKeyRef bad name", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Env[1].ValueFrom.SecretKeyRef.Name = "Bad_Name" }, []string{"spec.steps[0].actions[0].env[1].valueFrom.secretKeyRef.name: " + invalid}},
		{"env configMapKeyRef bad key", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].Actions[0].Env[1].ValueFrom = &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "a/b"}}
		}, []string{"spec.steps[0].actions[0].env[1].valueFrom.configMapKeyRef.key: " + invalid}},
		{"env fieldRef without path", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].Env[2].ValueFrom.FieldRef.FieldPath = "" }, []string{"spec.steps[0].actions[0].env[2].valueFrom.fieldRef.fieldPath: " + required}},
		{"env resourceFieldRef", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].Actions[0].Env[2].ValueFrom = &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}
		}, nil},
		{"env resourceFieldRef without resource", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].Actions[0].Env[2].ValueFrom = &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{}}
		}, []string{"spec.steps[0].actions[0].env[2].valueFrom.resourceFieldRef.resource: " + required}},

		// envFrom
		{"envFrom secretRef", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].Actions[0].EnvFrom[0] = corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}
		}, nil},
		{"envFrom with both sources", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].Actions[0].EnvFrom[0].SecretRef = &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}
		}, []string{"spec.steps[0].actions[0].envFrom[0]: " + invalid}},
		{"envFrom with no source", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].EnvFrom[0].ConfigMapRef = nil }, []string{"spec.steps[0].actions[0].envFrom[0]: " + invalid}},
		{"envFrom configMapRef without name", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].EnvFrom[0].ConfigMapRef.Name = "" }, []string{"spec.steps[0].actions[0].envFrom[0].configMapRef.name: " + required}},
		{"envFrom secretRef bad name", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].Actions[0].EnvFrom[0] = corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "S"}}}
		}, []string{"spec.steps[0].actions[0].envFrom[0].secretRef.name: " + invalid}},
		{"envFrom bad prefix", func(p *sluice.Pipeline) { p.Spec.Steps[0].Actions[0].EnvFrom[0].Prefix = "1=" }, []string{"spec.steps[0].actions[0].envFrom[0].prefix: " + invalid}},

		// resources
		{"request equal to limit", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].Actions[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1000m")
		}, nil},
		{"request above limit", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].Actions[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("2")
		}, []string{"spec.steps[0].actions[0].resources.requests[cpu]: " + invalid}},
		{"negative limit", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].Actions[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("-1Mi")
		}, []string{"spec.steps[0].actions[0].resources.limits[memory]: " + invalid}},
		{"bad resource name", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].Actions[0].Resources.Requests["bad name"] = resource.MustParse("1")
		}, []string{"spec.steps[0].actions[0].resources.requests[bad name]: " + invalid}},

		// podTemplate
		{"bad service account", func(p *sluice.Pipeline) { p.Spec.Steps[0].PodTemplate.ServiceAccountName = "CI" }, []string{"spec.steps[0].podTemplate.serviceAccountName: " + invalid}},
		{"bad node selector value", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].PodTemplate.NodeSelector["kubernetes.io/arch"] = "amd64 "
		}, []string{"spec.steps[0].podTemplate.nodeSelector: " + invalid}},
		{"bad toleration key", func(p *sluice.Pipeline) { p.Spec.Steps[0].PodTemplate.Tolerations[0].Key = "a b" }, []string{"spec.steps[0].podTemplate.tolerations[0].key: " + invalid}},
		{"bad toleration operator", func(p *sluice.Pipeline) { p.Spec.Steps[0].PodTemplate.Tolerations[0].Operator = "In" }, []string{"spec.steps[0].podTemplate.tolerations[0].operator: " + notSupported}},
		{"toleration value with Exists", func(p *sluice.Pipeline) { p.Spec.Steps[0].PodTemplate.Tolerations[1].Value = "x" }, []string{"spec.steps[0].podTemplate.tolerations[1].value: " + invalid}},
		{"toleration with no key must be Exists", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].PodTemplate.Tolerations[1].Operator = corev1.TolerationOpEqual
		}, []string{"spec.steps[0].podTemplate.tolerations[1].operator: " + invalid}},
		{"bad toleration effect", func(p *sluice.Pipeline) { p.Spec.Steps[0].PodTemplate.Tolerations[0].Effect = "Never" }, []string{"spec.steps[0].podTemplate.tolerations[0].effect: " + notSupported}},
		{"tolerationSeconds without NoExecute", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].PodTemplate.Tolerations[0].TolerationSeconds = ptr.To[int64](1)
		}, []string{"spec.steps[0].podTemplate.tolerations[0].tolerationSeconds: " + invalid}},
		{"image pull secret without name", func(p *sluice.Pipeline) { p.Spec.Steps[0].PodTemplate.ImagePullSecrets[0].Name = "" }, []string{"spec.steps[0].podTemplate.imagePullSecrets[0].name: " + required}},
		{"image pull secret duplicated", func(p *sluice.Pipeline) {
			p.Spec.Steps[0].PodTemplate.ImagePullSecrets = append(p.Spec.Steps[0].PodTemplate.ImagePullSecrets, corev1.LocalObjectReference{Name: "registry"})
		}, []string{"spec.steps[0].podTemplate.imagePullSecrets[1].name: " + duplicate}},

		// workspace
		{"no workspace", func(p *sluice.Pipeline) { p.Spec.Workspace = nil }, nil},
		{"workspace without template", func(p *sluice.Pipeline) { p.Spec.Workspace.VolumeClaimTemplate = nil }, []string{"spec.workspace.volumeClaimTemplate: " + required}},
		{"workspace without access modes", func(p *sluice.Pipeline) { p.Spec.Workspace.VolumeClaimTemplate.Spec.AccessModes = nil }, []string{"spec.workspace.volumeClaimTemplate.spec.accessModes: " + required}},
		{"workspace without storage request", func(p *sluice.Pipeline) { p.Spec.Workspace.VolumeClaimTemplate.Spec.Resources.Requests = nil }, []string{"spec.workspace.volumeClaimTemplate.spec.resources.requests[storage]: " + required}},
		{"workspace with zero storage", func(p *sluice.Pipeline) {
			p.Spec.Workspace.VolumeClaimTemplate.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("0")
		}, []string{"spec.workspace.volumeClaimTemplate.spec.resources.requests[storage]: " + invalid}},
		{"workspace with storage class", func(p *sluice.Pipeline) {
			p.Spec.Workspace.VolumeClaimTemplate.Spec.StorageClassName = ptr.To("fast-ssd")
		}, nil},
		{"workspace with bad storage class", func(p *sluice.Pipeline) {
			p.Spec.Workspace.VolumeClaimTemplate.Spec.StorageClassName = ptr.To("Fast SSD")
		}, []string{"spec.workspace.volumeClaimTemplate.spec.storageClassName: " + invalid}},
		{"workspace with bad label", func(p *sluice.Pipeline) { p.Spec.Workspace.VolumeClaimTemplate.Labels["app"] = "-x-" }, []string{"spec.workspace.volumeClaimTemplate.metadata.labels: " + invalid}},
		{"workspace with bad annotation", func(p *sluice.Pipeline) {
			p.Spec.Workspace.VolumeClaimTemplate.Annotations = map[string]string{"a b": "x"}
		}, []string{"spec.workspace.volumeClaimTemplate.metadata.annotations: " + invalid}},

		// timeout and concurrency
		{"pipeline timeout zero", func(p *sluice.Pipeline) { p.Spec.Timeout = &metav1.Duration{} }, []string{"spec.timeout: " + invalid}},
		{"concurrency Replace", func(p *sluice.Pipeline) { p.Spec.ConcurrencyPolicy = sluice.ReplaceConcurrent }, nil},
		{"concurrency unknown", func(p *sluice.Pipeline) { p.Spec.ConcurrencyPolicy = "Serial" }, []string{"spec.concurrencyPolicy: " + notSupported}},
		{"concurrency queue", func(p *sluice.Pipeline) { p.Spec.ConcurrencyPolicy = sluice.QueueConcurrent }, nil},
		{"concurrency empty", func(p *sluice.Pipeline) { p.Spec.ConcurrencyPolicy = "" }, []string{"spec.concurrencyPolicy: " + notSupported}},

		// notify
		{"notify on every event", func(p *sluice.Pipeline) {
			p.Spec.Notify[0].Events = []sluice.NotifyEvent{sluice.NotifyStarted, sluice.NotifySucceeded, sluice.NotifyFailed, sluice.NotifyCancelled}
		}, nil},
		{"notify on nothing", func(p *sluice.Pipeline) { p.Spec.Notify[0].Events = nil }, []string{"spec.notify[0].events: " + required}},
		{"notify on unknown event", func(p *sluice.Pipeline) { p.Spec.Notify[0].Events[1] = "Retried" }, []string{"spec.notify[0].events[1]: " + notSupported}},
		{"notify on duplicated event", func(p *sluice.Pipeline) { p.Spec.Notify[0].Events[1] = sluice.NotifyFailed }, []string{"spec.notify[0].events[1]: " + duplicate}},
		{"notify without webhook", func(p *sluice.Pipeline) { p.Spec.Notify[0].Webhook = nil }, []string{"spec.notify[0]: " + required}},
		{"notify to slack", func(p *sluice.Pipeline) {
			p.Spec.Notify[0] = sluice.Notification{Events: []sluice.NotifyEvent{sluice.NotifyFailed}, Slack: &sluice.SlackNotification{URLSecretRef: sluice.SecretKeyRef{Name: "chat", Key: "url"}}}
		}, nil},
		{"notify to slack without a key", func(p *sluice.Pipeline) {
			p.Spec.Notify[0] = sluice.Notification{Events: []sluice.NotifyEvent{sluice.NotifyFailed}, Slack: &sluice.SlackNotification{URLSecretRef: sluice.SecretKeyRef{Name: "chat"}}}
		}, []string{"spec.notify[0].slack.urlSecretRef.key: " + required}},
		{"notify to slack and a webhook", func(p *sluice.Pipeline) {
			p.Spec.Notify[0].Slack = &sluice.SlackNotification{URLSecretRef: sluice.SecretKeyRef{Name: "chat", Key: "url"}}
		}, []string{"spec.notify[0].slack: " + forbidden}},
		{"webhook http URL", func(p *sluice.Pipeline) { p.Spec.Notify[0].Webhook.URL = "http://10.0.0.1:8080/hook" }, nil},
		{"webhook without URL", func(p *sluice.Pipeline) { p.Spec.Notify[0].Webhook.URL = "" }, []string{"spec.notify[0].webhook.url: " + required}},
		{"webhook relative URL", func(p *sluice.Pipeline) { p.Spec.Notify[0].Webhook.URL = "/hook" }, []string{"spec.notify[0].webhook.url: " + invalid}},
		{"webhook ftp URL", func(p *sluice.Pipeline) { p.Spec.Notify[0].Webhook.URL = "ftp://example.com/x" }, []string{"spec.notify[0].webhook.url: " + invalid}},
		{"webhook unparsable URL", func(p *sluice.Pipeline) { p.Spec.Notify[0].Webhook.URL = "https://exa mple.com/%zz" }, []string{"spec.notify[0].webhook.url: " + invalid}},
		{"webhook without secretRef", func(p *sluice.Pipeline) { p.Spec.Notify[0].Webhook.SecretRef = nil }, []string{"spec.notify[0].webhook.secretRef: " + required}},
		{"webhook secretRef without name", func(p *sluice.Pipeline) { p.Spec.Notify[0].Webhook.SecretRef.Name = "" }, []string{"spec.notify[0].webhook.secretRef.name: " + required}},
		{"webhook secretRef bad key", func(p *sluice.Pipeline) { p.Spec.Notify[0].Webhook.SecretRef.Key = "k/ey" }, []string{"spec.notify[0].webhook.secretRef.key: " + invalid}},
		{"webhook secretRef without key", func(p *sluice.Pipeline) { p.Spec.Notify[0].Webhook.SecretRef.Key = "" }, []string{"spec.notify[0].webhook.secretRef.key: " + required}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := validPipeline()
			c.mutate(p)
			got := ValidatePipeline(p)
			assert.Equal(t, c.want, nilIfEmpty(errs(got)), "%v", got)
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestValidatePipelineUpdate(t *testing.T) {
	old := validPipeline()
	old.ResourceVersion = "1"

	p := validPipeline()
	p.ResourceVersion = "1"
	p.Spec.Steps = append(p.Spec.Steps, sluice.Step{Name: "deploy", Actions: []sluice.Action{action("kubectl")}})
	assert.Empty(t, ValidatePipelineUpdate(p, old), "spec may change")

	p = validPipeline()
	p.ResourceVersion = "1"
	p.Spec.Steps = nil
	assert.Equal(t, []string{"spec.steps: " + required}, errs(ValidatePipelineUpdate(p, old)))

	p = validPipeline()
	p.ResourceVersion = "1"
	p.Name = "renamed"
	assert.Equal(t, []string{"metadata.name: " + invalid}, errs(ValidatePipelineUpdate(p, old)))
}

func TestValidatePipelineStatusUpdate(t *testing.T) {
	now := metav1.Now()
	cases := []struct {
		name   string
		status sluice.PipelineStatus
		want   []string
	}{
		{"full status", sluice.PipelineStatus{
			ObservedGeneration: 3,
			LastJob:            &sluice.JobSummary{Name: "release-x7k2p", Phase: sluice.JobRunning, StartTime: &now},
			Conditions:         []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Valid", LastTransitionTime: now}},
		}, nil},
		{"negative observedGeneration", sluice.PipelineStatus{ObservedGeneration: -1}, []string{"status.observedGeneration: " + invalid}},
		{"lastJob without name", sluice.PipelineStatus{LastJob: &sluice.JobSummary{}}, []string{"status.lastJob.name: " + required}},
		{"lastJob with bad phase", sluice.PipelineStatus{LastJob: &sluice.JobSummary{Name: "j", Phase: "Done"}}, []string{"status.lastJob.phase: " + notSupported}},
		{"condition without reason", sluice.PipelineStatus{Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, LastTransitionTime: now}}},
			[]string{"status.conditions[0].reason: " + required}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := validPipeline()
			old.ResourceVersion = "7"
			p := validPipeline()
			p.ResourceVersion = "7"
			p.Status = c.status
			assert.Equal(t, c.want, nilIfEmpty(errs(ValidatePipelineStatusUpdate(p, old))))
		})
	}
}
