package validation

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/substitution"
	"github.com/sluice-dev/sluice/pkg/trigger/imagepolicy"
	"github.com/sluice-dev/sluice/pkg/trigger/params"
	"github.com/sluice-dev/sluice/pkg/trigger/schedule"
	"github.com/sluice-dev/sluice/pkg/trigger/webhook"
)

// Limits of a pipeline.
const (
	MaxSteps          = 64
	MaxActionsPerStep = 16
	MaxRetries        = 10
	MaxTriggerDetail  = 1024
	// MaxApprovers bounds an approval gate's approvers and required count.
	MaxApprovers = 32
	// MaxMessage bounds what a person writes with a cancellation or a
	// decision, which is kept in the job's status.
	MaxMessage = 1024
)

// ValidateName is the name rule for both kinds. Names are DNS-1123 labels
// because they become label values (sluice.dev/pipeline, sluice.dev/job),
// which are at most 63 characters, and parts of Pod names.
var ValidateName = apivalidation.NameIsDNSLabel

var (
	supportedPodRetentions       = sets.New(sluice.PodRetentionOnStepCompletion, sluice.PodRetentionOnJobCompletion, sluice.PodRetentionNever)
	supportedLogStates           = sets.New(sluice.LogArchived, sluice.LogArchiveFailed, sluice.LogLost)
	supportedConcurrencyPolicies = sets.New(sluice.AllowConcurrent, sluice.ForbidConcurrent, sluice.ReplaceConcurrent, sluice.QueueConcurrent)
	supportedNotifyEvents        = sets.New(sluice.NotifyStarted, sluice.NotifySucceeded, sluice.NotifyFailed, sluice.NotifyCancelled, sluice.NotifyWaitingForApproval)
	supportedTriggerTypes        = sets.New(sluice.TriggerManual, sluice.TriggerSchedule, sluice.TriggerImage, sluice.TriggerWebhook, sluice.TriggerRerun, sluice.TriggerRollback, sluice.TriggerSlack)
	supportedJobPhases           = sets.New(sluice.JobPending, sluice.JobRunning, sluice.JobSucceeded, sluice.JobFailed, sluice.JobCancelled)
	supportedStepPhases          = sets.New(sluice.StepPending, sluice.StepRunning, sluice.StepWaitingForApproval, sluice.StepSucceeded, sluice.StepFailed, sluice.StepSkipped, sluice.StepCancelled)
	supportedApproverKinds       = sets.New(sluice.ApproverUser, sluice.ApproverGroup)
	supportedDecisions           = sets.New(sluice.Approve, sluice.Reject)
	supportedTolerationOperators = sets.New(corev1.TolerationOpExists, corev1.TolerationOpEqual)
	supportedTaintEffects        = sets.New(corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute)
)

// ValidatePipeline validates a Pipeline on create.
func ValidatePipeline(p *sluice.Pipeline) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&p.ObjectMeta, true, ValidateName, field.NewPath("metadata"))
	return append(allErrs, ValidatePipelineSpec(&p.Spec, field.NewPath("spec"))...)
}

// ValidatePipelineUpdate validates a Pipeline on update of its spec or metadata.
func ValidatePipelineUpdate(p, old *sluice.Pipeline) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidatePipelineSpec(&p.Spec, field.NewPath("spec"))...)
}

// ValidatePipelineStatusUpdate validates a write to pipelines/status.
func ValidatePipelineStatusUpdate(p, old *sluice.Pipeline) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validatePipelineStatus(&p.Status, field.NewPath("status"))...)
}

// ValidatePipelineSpec validates a pipeline definition, whether it is a
// Pipeline's spec or inlined in a PipelineJob.
func ValidatePipelineSpec(spec *sluice.PipelineSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList

	paramNames := make([]string, 0, len(spec.Params))
	seenParams := sets.New[string]()
	for i, p := range spec.Params {
		namePath := fldPath.Child("params").Index(i).Child("name")
		allErrs = append(allErrs, validateParamName(p.Name, namePath)...)
		if seenParams.Has(p.Name) {
			allErrs = append(allErrs, field.Duplicate(namePath, p.Name))
		}
		seenParams.Insert(p.Name)
		paramNames = append(paramNames, p.Name)
	}
	vars := substitution.Variables(paramNames)

	stepsPath := fldPath.Child("steps")
	switch {
	case len(spec.Steps) == 0:
		allErrs = append(allErrs, field.Required(stepsPath, "a pipeline needs at least one step"))
	case len(spec.Steps) > MaxSteps:
		allErrs = append(allErrs, field.TooMany(stepsPath, len(spec.Steps), MaxSteps))
	}
	seenSteps := sets.New[string]()
	for i := range spec.Steps {
		step := &spec.Steps[i]
		stepPath := stepsPath.Index(i)
		allErrs = append(allErrs, validateDNSLabel(step.Name, stepPath.Child("name"))...)
		if seenSteps.Has(step.Name) {
			allErrs = append(allErrs, field.Duplicate(stepPath.Child("name"), step.Name))
		}
		seenSteps.Insert(step.Name)
		allErrs = append(allErrs, validateStep(step, vars, stepPath)...)
	}

	if spec.Workspace != nil {
		allErrs = append(allErrs, validateWorkspace(spec.Workspace, fldPath.Child("workspace"))...)
	}
	allErrs = append(allErrs, validateTimeout(spec.Timeout, fldPath.Child("timeout"))...)
	allErrs = append(allErrs, validateEnvironment(spec.Environment, fldPath.Child("environment"))...)
	if !supportedConcurrencyPolicies.Has(spec.ConcurrencyPolicy) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("concurrencyPolicy"), spec.ConcurrencyPolicy, sortedStrings(supportedConcurrencyPolicies)))
	}
	for i := range spec.Notify {
		allErrs = append(allErrs, validateNotification(&spec.Notify[i], fldPath.Child("notify").Index(i))...)
	}
	if !supportedPodRetentions.Has(spec.PodRetention) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("podRetention"), spec.PodRetention, sortedStrings(supportedPodRetentions)))
	}
	if h := spec.History; h != nil {
		hPath := fldPath.Child("history")
		allErrs = append(allErrs, validateNonnegative(h.SuccessfulJobsLimit, hPath.Child("successfulJobsLimit"))...)
		allErrs = append(allErrs, validateNonnegative(h.FailedJobsLimit, hPath.Child("failedJobsLimit"))...)
		allErrs = append(allErrs, validateNonnegative(h.TTLSecondsAfterFinished, hPath.Child("ttlSecondsAfterFinished"))...)
	}
	return allErrs
}

// validateNonnegative checks an optional count or number of seconds.
func validateNonnegative(v *int32, fldPath *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return apivalidation.ValidateNonnegativeField(int64(*v), fldPath)
}

func validateStep(step *sluice.Step, vars map[string]bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	actionsPath := fldPath.Child("actions")
	if step.Approval != nil {
		return validateGateStep(step, fldPath)
	}
	switch {
	case len(step.Actions) == 0:
		allErrs = append(allErrs, field.Required(actionsPath, "a step needs at least one action, or an approval"))
	case len(step.Actions) > MaxActionsPerStep:
		allErrs = append(allErrs, field.TooMany(actionsPath, len(step.Actions), MaxActionsPerStep))
	}
	seen := sets.New[string]()
	for i := range step.Actions {
		a := &step.Actions[i]
		actionPath := actionsPath.Index(i)
		allErrs = append(allErrs, validateDNSLabel(a.Name, actionPath.Child("name"))...)
		if seen.Has(a.Name) {
			allErrs = append(allErrs, field.Duplicate(actionPath.Child("name"), a.Name))
		}
		seen.Insert(a.Name)
		allErrs = append(allErrs, validateAction(a, vars, actionPath)...)
	}
	allErrs = append(allErrs, validateTimeout(step.Timeout, fldPath.Child("timeout"))...)
	if step.Retries < 0 || step.Retries > MaxRetries {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("retries"), step.Retries, fmt.Sprintf("must be between 0 and %d", MaxRetries)))
	}
	if step.PodTemplate != nil {
		allErrs = append(allErrs, validatePodTemplate(step.PodTemplate, fldPath.Child("podTemplate"))...)
	}
	return allErrs
}

// validateGateStep validates a step that is an approval gate: it runs no
// Pod, so nothing that shapes or bounds a Pod may be set.
func validateGateStep(step *sluice.Step, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(step.Actions) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("actions"), "may not be set together with approval"))
	}
	if step.Timeout != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("timeout"), "an approval gate is bounded by approval.timeout"))
	}
	if step.Retries != 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("retries"), "an approval gate is not retried"))
	}
	if step.PodTemplate != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("podTemplate"), "an approval gate runs no Pod"))
	}
	gate, gatePath := step.Approval, fldPath.Child("approval")
	approversPath := gatePath.Child("approvers")
	switch {
	case len(gate.Approvers) == 0:
		allErrs = append(allErrs, field.Required(approversPath, "name at least one user or group"))
	case len(gate.Approvers) > MaxApprovers:
		allErrs = append(allErrs, field.TooMany(approversPath, len(gate.Approvers), MaxApprovers))
	}
	seen := sets.New[sluice.Approver]()
	users := 0
	for i, a := range gate.Approvers {
		p := approversPath.Index(i)
		if !supportedApproverKinds.Has(a.Kind) {
			allErrs = append(allErrs, field.NotSupported(p.Child("kind"), a.Kind, sortedStrings(supportedApproverKinds)))
		}
		if a.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
		}
		if seen.Has(a) {
			allErrs = append(allErrs, field.Duplicate(p, fmt.Sprintf("%s %s", a.Kind, a.Name)))
		}
		seen.Insert(a)
		if a.Kind == sluice.ApproverUser {
			users++
		}
	}
	requiredPath := gatePath.Child("required")
	switch {
	case gate.Required < 1 || gate.Required > MaxApprovers:
		allErrs = append(allErrs, field.Invalid(requiredPath, gate.Required, fmt.Sprintf("must be between 1 and %d", MaxApprovers)))
	case users > 0 && users == len(gate.Approvers) && int(gate.Required) > users:
		// Only with groups can more people approve than are named.
		allErrs = append(allErrs, field.Invalid(requiredPath, gate.Required,
			fmt.Sprintf("the gate names %d users and no group, so it can never get %d approvals", users, gate.Required)))
	}
	return append(allErrs, validateTimeout(gate.Timeout, gatePath.Child("timeout"))...)
}

func validateAction(a *sluice.Action, vars map[string]bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	imagePath := fldPath.Child("image")
	switch {
	case a.Image == "":
		allErrs = append(allErrs, field.Required(imagePath, ""))
	case strings.TrimSpace(a.Image) != a.Image:
		allErrs = append(allErrs, field.Invalid(imagePath, a.Image, "must not have leading or trailing whitespace"))
	default:
		allErrs = append(allErrs, validateReferences(a.Image, vars, imagePath)...)
	}
	for i, c := range a.Command {
		allErrs = append(allErrs, validateReferences(c, vars, fldPath.Child("command").Index(i))...)
	}
	for i, arg := range a.Args {
		allErrs = append(allErrs, validateReferences(arg, vars, fldPath.Child("args").Index(i))...)
	}
	allErrs = append(allErrs, validateEnv(a.Env, vars, fldPath.Child("env"))...)
	allErrs = append(allErrs, validateEnvFrom(a.EnvFrom, fldPath.Child("envFrom"))...)
	allErrs = append(allErrs, validateResources(&a.Resources, fldPath.Child("resources"))...)
	return allErrs
}

// validateReferences rejects $(params.X), $(job.X) and $(step.X) references
// to anything that does not exist, so that a typo fails at create time rather
// than becoming an empty string in a running Pod.
func validateReferences(value string, vars map[string]bool, fldPath *field.Path) field.ErrorList {
	unknown := substitution.Unknown(value, vars)
	if len(unknown) == 0 {
		return nil
	}
	known := make([]string, 0, len(vars))
	for v := range vars {
		known = append(known, "$("+v+")")
	}
	sort.Strings(known)
	for i := range unknown {
		unknown[i] = "$(" + unknown[i] + ")"
	}
	return field.ErrorList{field.Invalid(fldPath, value, fmt.Sprintf("unknown reference %s; known references are %s", strings.Join(unknown, ", "), strings.Join(known, ", ")))}
}

func validateEnv(env []corev1.EnvVar, vars map[string]bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := sets.New[string]()
	for i, e := range env {
		envPath := fldPath.Index(i)
		namePath := envPath.Child("name")
		if e.Name == "" {
			allErrs = append(allErrs, field.Required(namePath, ""))
		} else {
			for _, msg := range utilvalidation.IsEnvVarName(e.Name) {
				allErrs = append(allErrs, field.Invalid(namePath, e.Name, msg))
			}
			if seen.Has(e.Name) {
				allErrs = append(allErrs, field.Duplicate(namePath, e.Name))
			}
			seen.Insert(e.Name)
		}
		allErrs = append(allErrs, validateReferences(e.Value, vars, envPath.Child("value"))...)
		if e.ValueFrom != nil {
			if e.Value != "" {
				allErrs = append(allErrs, field.Invalid(envPath.Child("valueFrom"), "", "may not be specified when `value` is not empty"))
			}
			allErrs = append(allErrs, validateEnvVarSource(e.ValueFrom, envPath.Child("valueFrom"))...)
		}
	}
	return allErrs
}

func validateEnvVarSource(src *corev1.EnvVarSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	sources := 0
	if src.FieldRef != nil {
		sources++
		if src.FieldRef.FieldPath == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("fieldRef", "fieldPath"), ""))
		}
	}
	if src.ResourceFieldRef != nil {
		sources++
		if src.ResourceFieldRef.Resource == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("resourceFieldRef", "resource"), ""))
		}
	}
	if src.ConfigMapKeyRef != nil {
		sources++
		allErrs = append(allErrs, validateKeyRef(src.ConfigMapKeyRef.Name, src.ConfigMapKeyRef.Key, fldPath.Child("configMapKeyRef"))...)
	}
	if src.SecretKeyRef != nil {
		sources++
		allErrs = append(allErrs, validateKeyRef(src.SecretKeyRef.Name, src.SecretKeyRef.Key, fldPath.Child("secretKeyRef"))...)
	}
	if src.FileKeyRef != nil {
		sources++
	}
	if sources != 1 {
		allErrs = append(allErrs, field.Invalid(fldPath, "", "must specify exactly one of fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef or fileKeyRef"))
	}
	return allErrs
}

func validateEnvFrom(envFrom []corev1.EnvFromSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, e := range envFrom {
		p := fldPath.Index(i)
		if e.Prefix != "" {
			for _, msg := range utilvalidation.IsEnvVarName(e.Prefix) {
				allErrs = append(allErrs, field.Invalid(p.Child("prefix"), e.Prefix, msg))
			}
		}
		switch {
		case (e.ConfigMapRef == nil) == (e.SecretRef == nil):
			allErrs = append(allErrs, field.Invalid(p, "", "must specify exactly one of configMapRef or secretRef"))
		case e.ConfigMapRef != nil:
			allErrs = append(allErrs, validateObjectName(e.ConfigMapRef.Name, p.Child("configMapRef", "name"))...)
		default:
			allErrs = append(allErrs, validateObjectName(e.SecretRef.Name, p.Child("secretRef", "name"))...)
		}
	}
	return allErrs
}

func validateResources(r *corev1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, list := range []struct {
		name      string
		resources corev1.ResourceList
	}{{"limits", r.Limits}, {"requests", r.Requests}} {
		for name, q := range list.resources {
			p := fldPath.Child(list.name).Key(string(name))
			for _, msg := range utilvalidation.IsQualifiedName(string(name)) {
				allErrs = append(allErrs, field.Invalid(p, string(name), msg))
			}
			if q.Sign() < 0 {
				allErrs = append(allErrs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	for name, req := range r.Requests {
		if limit, ok := r.Limits[name]; ok && req.Cmp(limit) > 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("requests").Key(string(name)), req.String(),
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		}
	}
	return allErrs
}

func validatePodTemplate(t *sluice.PodTemplate, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if t.ServiceAccountName != "" {
		for _, msg := range apivalidation.NameIsDNSSubdomain(t.ServiceAccountName, false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("serviceAccountName"), t.ServiceAccountName, msg))
		}
	}
	allErrs = append(allErrs, metav1validation.ValidateLabels(t.NodeSelector, fldPath.Child("nodeSelector"))...)
	for i, tol := range t.Tolerations {
		allErrs = append(allErrs, validateToleration(tol, fldPath.Child("tolerations").Index(i))...)
	}
	seen := sets.New[string]()
	for i, s := range t.ImagePullSecrets {
		p := fldPath.Child("imagePullSecrets").Index(i).Child("name")
		allErrs = append(allErrs, validateObjectName(s.Name, p)...)
		if seen.Has(s.Name) {
			allErrs = append(allErrs, field.Duplicate(p, s.Name))
		}
		seen.Insert(s.Name)
	}
	return allErrs
}

func validateToleration(t corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if t.Key != "" {
		allErrs = append(allErrs, metav1validation.ValidateLabelName(t.Key, fldPath.Child("key"))...)
	}
	if t.Operator != "" && !supportedTolerationOperators.Has(t.Operator) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("operator"), t.Operator, sortedStrings(supportedTolerationOperators)))
	}
	if t.Operator == corev1.TolerationOpExists && t.Value != "" {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("value"), t.Value, "must be empty when operator is Exists"))
	}
	if t.Key == "" && t.Operator != corev1.TolerationOpExists {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("operator"), t.Operator, "must be Exists when key is empty"))
	}
	if t.Effect != "" && !supportedTaintEffects.Has(t.Effect) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("effect"), t.Effect, sortedStrings(supportedTaintEffects)))
	}
	if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("tolerationSeconds"), *t.TolerationSeconds, "may only be set when effect is NoExecute"))
	}
	return allErrs
}

func validateWorkspace(w *sluice.WorkspaceSpec, fldPath *field.Path) field.ErrorList {
	tplPath := fldPath.Child("volumeClaimTemplate")
	if w.VolumeClaimTemplate == nil {
		return field.ErrorList{field.Required(tplPath, "")}
	}
	var allErrs field.ErrorList
	specPath := tplPath.Child("spec")
	tpl := w.VolumeClaimTemplate
	allErrs = append(allErrs, metav1validation.ValidateLabels(tpl.Labels, tplPath.Child("metadata", "labels"))...)
	allErrs = append(allErrs, apivalidation.ValidateAnnotations(tpl.Annotations, tplPath.Child("metadata", "annotations"))...)
	if len(tpl.Spec.AccessModes) == 0 {
		allErrs = append(allErrs, field.Required(specPath.Child("accessModes"), "at least one access mode is required"))
	}
	storagePath := specPath.Child("resources", "requests").Key(string(corev1.ResourceStorage))
	if q, ok := tpl.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		allErrs = append(allErrs, field.Required(storagePath, ""))
	} else if q.Sign() <= 0 {
		allErrs = append(allErrs, field.Invalid(storagePath, q.String(), "must be greater than zero"))
	}
	if tpl.Spec.StorageClassName != nil && *tpl.Spec.StorageClassName != "" {
		for _, msg := range apivalidation.NameIsDNSSubdomain(*tpl.Spec.StorageClassName, false) {
			allErrs = append(allErrs, field.Invalid(specPath.Child("storageClassName"), *tpl.Spec.StorageClassName, msg))
		}
	}
	return allErrs
}

func validateNotification(n *sluice.Notification, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	eventsPath := fldPath.Child("events")
	if len(n.Events) == 0 {
		allErrs = append(allErrs, field.Required(eventsPath, "at least one event is required"))
	}
	seen := sets.New[sluice.NotifyEvent]()
	for i, ev := range n.Events {
		if !supportedNotifyEvents.Has(ev) {
			allErrs = append(allErrs, field.NotSupported(eventsPath.Index(i), ev, sortedStrings(supportedNotifyEvents)))
		}
		if seen.Has(ev) {
			allErrs = append(allErrs, field.Duplicate(eventsPath.Index(i), ev))
		}
		seen.Insert(ev)
	}
	hookPath := fldPath.Child("webhook")
	switch {
	case n.Webhook != nil && n.Slack != nil:
		return append(allErrs, field.Forbidden(fldPath.Child("slack"), "may not be set together with webhook"))
	case n.Slack != nil:
		ref := n.Slack.URLSecretRef
		return append(allErrs, validateKeyRef(ref.Name, ref.Key, fldPath.Child("slack", "urlSecretRef"))...)
	case n.Webhook == nil:
		return append(allErrs, field.Required(fldPath, "one of webhook and slack is required"))
	}
	urlPath := hookPath.Child("url")
	if n.Webhook.URL == "" {
		allErrs = append(allErrs, field.Required(urlPath, ""))
	} else if u, err := url.Parse(n.Webhook.URL); err != nil {
		allErrs = append(allErrs, field.Invalid(urlPath, n.Webhook.URL, err.Error()))
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		allErrs = append(allErrs, field.Invalid(urlPath, n.Webhook.URL, "must be an absolute http or https URL"))
	}
	refPath := hookPath.Child("secretRef")
	if n.Webhook.SecretRef == nil {
		allErrs = append(allErrs, field.Required(refPath, "webhook payloads are signed with a key from a Secret"))
	} else {
		allErrs = append(allErrs, validateKeyRef(n.Webhook.SecretRef.Name, n.Webhook.SecretRef.Key, refPath)...)
	}
	return allErrs
}

func validatePipelineStatus(s *sluice.PipelineStatus, fldPath *field.Path) field.ErrorList {
	allErrs := apivalidation.ValidateNonnegativeField(s.ObservedGeneration, fldPath.Child("observedGeneration"))
	if s.LastJob != nil {
		p := fldPath.Child("lastJob")
		allErrs = append(allErrs, validateDNSLabel(s.LastJob.Name, p.Child("name"))...)
		if s.LastJob.Phase != "" && !supportedJobPhases.Has(s.LastJob.Phase) {
			allErrs = append(allErrs, field.NotSupported(p.Child("phase"), s.LastJob.Phase, sortedStrings(supportedJobPhases)))
		}
	}
	seen := sets.New[string]()
	for i, env := range s.Environments {
		p := fldPath.Child("environments").Index(i)
		allErrs = append(allErrs, validateDNSLabel(env.Name, p.Child("name"))...)
		if seen.Has(env.Name) {
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), env.Name))
		}
		seen.Insert(env.Name)
		for name, r := range map[string]*sluice.Release{"current": env.Current, "previous": env.Previous} {
			if r != nil {
				allErrs = append(allErrs, validateDNSLabel(r.Job, p.Child(name, "job"))...)
			}
		}
	}
	return append(allErrs, metav1validation.ValidateConditions(s.Conditions, fldPath.Child("conditions"))...)
}

// ValidatePipelineJob validates a PipelineJob created through the
// pipelinejobs resource: it names a pipeline or inlines one, not both.
func ValidatePipelineJob(j *sluice.PipelineJob) field.ErrorList {
	return validatePipelineJob(j, false)
}

// ValidateRerunJob validates a PipelineJob that the server creates through
// pipelinejobs/rerun or pipelines/rollback. It may name its pipeline and
// carry the snapshot it runs: the server copied that snapshot from a job of
// the pipeline, which a client cannot claim through pipelinejobs.
func ValidateRerunJob(j *sluice.PipelineJob) field.ErrorList {
	return validatePipelineJob(j, true)
}

func validatePipelineJob(j *sluice.PipelineJob, snapshot bool) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&j.ObjectMeta, true, ValidateName, field.NewPath("metadata"))
	return append(allErrs, validatePipelineJobSpec(&j.Spec, snapshot, field.NewPath("spec"))...)
}

func validatePipelineJobSpec(spec *sluice.PipelineJobSpec, snapshot bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	refPath, specPath := fldPath.Child("pipelineRef"), fldPath.Child("pipelineSpec")
	if spec.PipelineRef == nil && spec.PipelineSpec == nil {
		allErrs = append(allErrs, field.Required(refPath, "one of pipelineRef or pipelineSpec is required"))
	}
	if spec.PipelineRef != nil && spec.PipelineSpec != nil && !snapshot {
		allErrs = append(allErrs, field.Forbidden(specPath, "may not be set together with pipelineRef; only pipelinejobs/rerun and pipelines/rollback create such jobs"))
	}
	if spec.PipelineRef != nil {
		allErrs = append(allErrs, validateDNSLabel(spec.PipelineRef.Name, refPath.Child("name"))...)
	}
	if spec.PipelineSpec != nil {
		allErrs = append(allErrs, ValidatePipelineSpec(spec.PipelineSpec, specPath)...)
	}
	allErrs = append(allErrs, validateEnvironment(spec.Environment, fldPath.Child("environment"))...)

	paramsPath := fldPath.Child("params")
	allErrs = append(allErrs, validateParamValueNames(spec.Params, paramsPath)...)
	// With an inline pipeline or a snapshot the params can be checked now;
	// with only a pipelineRef the controller checks them against the
	// Pipeline at start.
	if spec.PipelineSpec != nil {
		allErrs = append(allErrs, ValidateParamValues(spec.PipelineSpec.Params, spec.Params, paramsPath)...)
	}

	typePath := fldPath.Child("trigger", "type")
	if !supportedTriggerTypes.Has(spec.Trigger.Type) {
		allErrs = append(allErrs, field.NotSupported(typePath, spec.Trigger.Type, sortedStrings(supportedTriggerTypes)))
	}
	if spec.Trigger.Name != "" {
		allErrs = append(allErrs, validateDNSLabel(spec.Trigger.Name, fldPath.Child("trigger", "name"))...)
	}
	if len(spec.Trigger.Detail) > MaxTriggerDetail {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("trigger", "detail"), "", MaxTriggerDetail))
	}
	allErrs = append(allErrs, validateNonnegative(spec.TTLSecondsAfterFinished, fldPath.Child("ttlSecondsAfterFinished"))...)
	return allErrs
}

// ValidateParamValues checks a job's param values against the params a
// pipeline declares, by substitution.ResolveParams, the rule the controller
// applies at start too.
func ValidateParamValues(declared []sluice.ParamSpec, values []sluice.Param, fldPath *field.Path) field.ErrorList {
	decl := make([]substitution.Declared, 0, len(declared))
	for _, d := range declared {
		decl = append(decl, substitution.Declared{Name: d.Name, Default: d.Default})
	}
	_, allErrs := substitution.ResolveParams(decl, givenParams(values), fldPath)
	return allErrs
}

// givenParams are param values as pkg/substitution takes them.
func givenParams(values []sluice.Param) []substitution.Given {
	given := make([]substitution.Given, 0, len(values))
	for _, v := range values {
		given = append(given, substitution.Given{Name: v.Name, Value: v.Value})
	}
	return given
}

// ValidatePipelineJobUpdate validates an update of a job's spec or metadata.
// Only spec.cancel, only from false to true, and spec.ttlSecondsAfterFinished
// may change.
func ValidatePipelineJobUpdate(j, old *sluice.PipelineJob) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&j.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	specPath := field.NewPath("spec")
	allErrs = append(allErrs, validateNonnegative(j.Spec.TTLSecondsAfterFinished, specPath.Child("ttlSecondsAfterFinished"))...)
	allErrs = append(allErrs, apivalidation.ValidateImmutableField(j.Spec.PipelineRef, old.Spec.PipelineRef, specPath.Child("pipelineRef"))...)
	allErrs = append(allErrs, apivalidation.ValidateImmutableField(j.Spec.PipelineSpec, old.Spec.PipelineSpec, specPath.Child("pipelineSpec"))...)
	allErrs = append(allErrs, apivalidation.ValidateImmutableField(j.Spec.Params, old.Spec.Params, specPath.Child("params"))...)
	allErrs = append(allErrs, apivalidation.ValidateImmutableField(j.Spec.Environment, old.Spec.Environment, specPath.Child("environment"))...)
	allErrs = append(allErrs, apivalidation.ValidateImmutableField(j.Spec.Trigger, old.Spec.Trigger, specPath.Child("trigger"))...)
	allErrs = append(allErrs, apivalidation.ValidateImmutableField(j.Spec.StartedBy, old.Spec.StartedBy, specPath.Child("startedBy"))...)
	if old.Spec.Cancel && !j.Spec.Cancel {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("cancel"), "cannot be unset once a job is cancelled"))
	}
	return allErrs
}

// ValidatePipelineJobStatusUpdate validates a write to pipelinejobs/status.
func ValidatePipelineJobStatusUpdate(j, old *sluice.PipelineJob) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&j.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	s, oldStatus := &j.Status, &old.Status
	fldPath := field.NewPath("status")

	phasePath := fldPath.Child("phase")
	if !supportedJobPhases.Has(s.Phase) {
		allErrs = append(allErrs, field.NotSupported(phasePath, s.Phase, sortedStrings(supportedJobPhases)))
	}
	if oldStatus.Phase.Finished() && s.Phase != oldStatus.Phase {
		allErrs = append(allErrs, field.Forbidden(phasePath, fmt.Sprintf("the job has finished as %s and its phase cannot change", oldStatus.Phase)))
	}
	allErrs = append(allErrs, metav1validation.ValidateConditions(s.Conditions, fldPath.Child("conditions"))...)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(s.ObservedGeneration, fldPath.Child("observedGeneration"))...)

	snapshotPath := fldPath.Child("pipelineSpec")
	if oldStatus.PipelineSpec != nil && !apiequality.Semantic.DeepEqual(s.PipelineSpec, oldStatus.PipelineSpec) {
		allErrs = append(allErrs, field.Forbidden(snapshotPath, "the pipeline snapshot cannot change once the job has started"))
	} else if s.PipelineSpec != nil && oldStatus.PipelineSpec == nil {
		allErrs = append(allErrs, ValidatePipelineSpec(s.PipelineSpec, snapshotPath)...)
	}

	allErrs = append(allErrs, validateNotificationStatuses(s.Notifications, fldPath.Child("notifications"))...)

	seen := sets.New[string]()
	for i := range s.Steps {
		step := &s.Steps[i]
		stepPath := fldPath.Child("steps").Index(i)
		allErrs = append(allErrs, validateDNSLabel(step.Name, stepPath.Child("name"))...)
		if seen.Has(step.Name) {
			allErrs = append(allErrs, field.Duplicate(stepPath.Child("name"), step.Name))
		}
		seen.Insert(step.Name)
		if step.Phase != "" && !supportedStepPhases.Has(step.Phase) {
			allErrs = append(allErrs, field.NotSupported(stepPath.Child("phase"), step.Phase, sortedStrings(supportedStepPhases)))
		}
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(step.Attempts), stepPath.Child("attempts"))...)
		seenActions := sets.New[string]()
		for k, a := range step.Actions {
			actionPath := stepPath.Child("actions").Index(k)
			namePath := actionPath.Child("name")
			allErrs = append(allErrs, validateDNSLabel(a.Name, namePath)...)
			if seenActions.Has(a.Name) {
				allErrs = append(allErrs, field.Duplicate(namePath, a.Name))
			}
			seenActions.Insert(a.Name)
			if a.Log != nil && !supportedLogStates.Has(a.Log.State) {
				allErrs = append(allErrs, field.NotSupported(actionPath.Child("log", "state"), a.Log.State, sortedStrings(supportedLogStates)))
			}
		}
	}
	return allErrs
}

var supportedNotificationStates = sets.New(sluice.NotificationPending, sluice.NotificationDelivered, sluice.NotificationFailed)

func validateNotificationStatuses(list []sluice.NotificationStatus, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	type key struct {
		event sluice.NotifyEvent
		url   string
	}
	seen := sets.New[key]()
	for i, n := range list {
		p := fldPath.Index(i)
		if !supportedNotifyEvents.Has(n.Event) {
			allErrs = append(allErrs, field.NotSupported(p.Child("event"), n.Event, sortedStrings(supportedNotifyEvents)))
		}
		if n.URL == "" {
			allErrs = append(allErrs, field.Required(p.Child("url"), ""))
		}
		if n.State != "" && !supportedNotificationStates.Has(n.State) {
			allErrs = append(allErrs, field.NotSupported(p.Child("state"), n.State, sortedStrings(supportedNotificationStates)))
		}
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(n.Attempts), p.Child("attempts"))...)
		if k := (key{n.Event, n.URL}); seen.Has(k) {
			allErrs = append(allErrs, field.Duplicate(p, fmt.Sprintf("%s %s", n.Event, n.URL)))
		} else {
			seen.Insert(k)
		}
	}
	return allErrs
}

func validateParamName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsCIdentifier(name) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, msg))
	}
	return allErrs
}

func validateDNSLabel(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Label(name) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, msg))
	}
	return allErrs
}

// validateObjectName checks the name of a referenced Secret or ConfigMap.
func validateObjectName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	for _, msg := range apivalidation.NameIsDNSSubdomain(name, false) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, msg))
	}
	return allErrs
}

func validateKeyRef(name, key string, fldPath *field.Path) field.ErrorList {
	allErrs := validateObjectName(name, fldPath.Child("name"))
	keyPath := fldPath.Child("key")
	if key == "" {
		return append(allErrs, field.Required(keyPath, ""))
	}
	for _, msg := range utilvalidation.IsConfigMapKey(key) {
		allErrs = append(allErrs, field.Invalid(keyPath, key, msg))
	}
	return allErrs
}

func validateTimeout(d *metav1.Duration, fldPath *field.Path) field.ErrorList {
	if d == nil || d.Duration > 0 {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, d.Duration.String(), "must be greater than zero")}
}

func sortedStrings[T ~string](s sets.Set[T]) []string {
	out := make([]string, 0, s.Len())
	for v := range s {
		out = append(out, string(v))
	}
	sort.Strings(out)
	return out
}

// validateEnvironment checks an environment name, which becomes the value of
// the sluice.dev/environment label.
func validateEnvironment(env string, fldPath *field.Path) field.ErrorList {
	if env == "" {
		return nil
	}
	return validateDNSLabel(env, fldPath)
}

func validateMessage(msg string, fldPath *field.Path) field.ErrorList {
	if len(msg) > MaxMessage {
		return field.ErrorList{field.TooLong(fldPath, "", MaxMessage)}
	}
	return nil
}

// ValidateRunRequest validates the body of pipelines/run. Its params are
// checked against the pipeline by the handler.
func ValidateRunRequest(r *sluice.RunRequest) field.ErrorList {
	allErrs := validateEnvironment(r.Environment, field.NewPath("environment"))
	allErrs = append(allErrs, validateParamValueNames(r.Params, field.NewPath("params"))...)
	if r.Name != "" {
		allErrs = append(allErrs, validateDNSLabel(r.Name, field.NewPath("name"))...)
	}
	if tr := r.Trigger; tr != nil {
		p := field.NewPath("trigger")
		if !triggerFiredTypes.Has(tr.Type) {
			allErrs = append(allErrs, field.NotSupported(p.Child("type"), tr.Type, sortedStrings(triggerFiredTypes)))
		}
		allErrs = append(allErrs, validateDNSLabel(tr.Name, p.Child("name"))...)
		if len(tr.Detail) > MaxTriggerDetail {
			allErrs = append(allErrs, field.TooLong(p.Child("detail"), "", MaxTriggerDetail))
		}
	}
	return allErrs
}

// triggerFiredTypes are the trigger types of the jobs a Trigger starts:
// its source's, or Manual when a person fires it by hand with its params
// (kubectl sluice trigger fire).
var triggerFiredTypes = sets.New(sluice.TriggerManual, sluice.TriggerSchedule, sluice.TriggerImage, sluice.TriggerWebhook, sluice.TriggerSlack)

// validateParamValueNames checks the names of param values: C identifiers,
// each given once.
func validateParamValueNames(params []sluice.Param, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := sets.New[string]()
	for i, p := range params {
		namePath := fldPath.Index(i).Child("name")
		allErrs = append(allErrs, validateParamName(p.Name, namePath)...)
		if seen.Has(p.Name) {
			allErrs = append(allErrs, field.Duplicate(namePath, p.Name))
		}
		seen.Insert(p.Name)
	}
	return allErrs
}

// ValidateCancelRequest validates the body of pipelinejobs/cancel.
func ValidateCancelRequest(r *sluice.CancelRequest) field.ErrorList {
	return validateMessage(r.Reason, field.NewPath("reason"))
}

// ValidateRollbackRequest validates the body of pipelines/rollback.
func ValidateRollbackRequest(r *sluice.RollbackRequest) field.ErrorList {
	allErrs := validateEnvironment(r.Environment, field.NewPath("environment"))
	if r.ToJob != "" {
		allErrs = append(allErrs, validateDNSLabel(r.ToJob, field.NewPath("toJob"))...)
	}
	return allErrs
}

// ValidateApprovalRequest validates the body of pipelinejobs/approval.
func ValidateApprovalRequest(r *sluice.ApprovalRequest) field.ErrorList {
	var allErrs field.ErrorList
	p := field.NewPath("decision")
	switch {
	case r.Decision == "":
		allErrs = append(allErrs, field.Required(p, "Approve or Reject"))
	case !supportedDecisions.Has(r.Decision):
		allErrs = append(allErrs, field.NotSupported(p, r.Decision, sortedStrings(supportedDecisions)))
	}
	return append(allErrs, validateMessage(r.Message, field.NewPath("message"))...)
}

// ValidatePipelineJobLogOptions validates the query of a GET of
// pipelinejobs/log: an action or an attempt needs its step, and the
// numbers are positive (tailLines may be 0).
func ValidatePipelineJobLogOptions(o *sluice.PipelineJobLogOptions) field.ErrorList {
	var allErrs field.ErrorList
	if o.Step != "" {
		allErrs = append(allErrs, validateDNSLabel(o.Step, field.NewPath("step"))...)
	}
	if o.Action != "" {
		allErrs = append(allErrs, validateDNSLabel(o.Action, field.NewPath("action"))...)
		if o.Step == "" {
			allErrs = append(allErrs, field.Required(field.NewPath("step"), "an action is selected within a step"))
		}
	}
	switch {
	case o.Attempt < 0:
		allErrs = append(allErrs, field.Invalid(field.NewPath("attempt"), o.Attempt, "must be 1 or more, or 0 for every attempt"))
	case o.Attempt > 0 && o.Step == "":
		allErrs = append(allErrs, field.Required(field.NewPath("step"), "an attempt is selected within a step"))
	}
	if o.TailLines != nil && *o.TailLines < 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("tailLines"), *o.TailLines, "must be greater than or equal to 0"))
	}
	if o.SinceSeconds != nil && *o.SinceSeconds < 1 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("sinceSeconds"), *o.SinceSeconds, "must be greater than 0"))
	}
	if o.LimitBytes != nil && *o.LimitBytes < 1 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("limitBytes"), *o.LimitBytes, "must be greater than 0"))
	}
	return allErrs
}

// ValidateLogArchiveOptions validates the query of a POST of
// pipelinejobs/log, which archives the output of exactly one action of one
// attempt.
func ValidateLogArchiveOptions(o *sluice.PipelineJobLogOptions) field.ErrorList {
	allErrs := ValidatePipelineJobLogOptions(o)
	type option struct {
		name string
		bad  bool
	}
	for _, o := range []option{{"step", o.Step == ""}, {"action", o.Action == ""}, {"attempt", o.Attempt == 0}} {
		if o.bad {
			allErrs = append(allErrs, field.Required(field.NewPath(o.name), "archiving names one action of one attempt"))
		}
	}
	for _, o := range []option{{"follow", o.Follow}, {"tailLines", o.TailLines != nil}, {"sinceSeconds", o.SinceSeconds != nil},
		{"timestamps", o.Timestamps}, {"limitBytes", o.LimitBytes != nil}} {
		if o.bad {
			allErrs = append(allErrs, field.Forbidden(field.NewPath(o.name), "applies to reading a log, not to archiving one"))
		}
	}
	return allErrs
}

// MaxCatchUp bounds a schedule's catchUp: more missed slots than this are
// skipped, as the Kubernetes CronJob controller gives up after 100.
const MaxCatchUp = 100

// MinImageInterval is the shortest polling interval of an image source.
const MinImageInterval = 10 * time.Second

var (
	supportedImagePushProviders = sets.New(sluice.ImagePushRegistry)
	supportedWebhookProviders   = sets.New(sluice.WebhookGitHub, sluice.WebhookGitLab, sluice.WebhookGeneric)
	supportedWebhookEvents      = sets.New(sluice.WebhookPush, sluice.WebhookTag)
	slackUserID                 = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)
)

// ValidateTrigger validates a Trigger on create.
func ValidateTrigger(tr *sluice.Trigger) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&tr.ObjectMeta, true, ValidateName, field.NewPath("metadata"))
	return append(allErrs, ValidateTriggerSpec(&tr.Spec, field.NewPath("spec"))...)
}

// ValidateTriggerUpdate validates an update of a Trigger's spec or metadata.
func ValidateTriggerUpdate(tr, old *sluice.Trigger) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&tr.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidateTriggerSpec(&tr.Spec, field.NewPath("spec"))...)
}

// ValidateTriggerStatusUpdate validates a write to triggers/status.
func ValidateTriggerStatusUpdate(tr, old *sluice.Trigger) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&tr.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	fldPath := field.NewPath("status")
	allErrs = append(allErrs, metav1validation.ValidateConditions(tr.Status.Conditions, fldPath.Child("conditions"))...)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(tr.Status.ObservedGeneration, fldPath.Child("observedGeneration"))...)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(tr.Status.SkippedSlots, fldPath.Child("skippedSlots"))...)
	if e := tr.Status.LastEvent; e != nil {
		allErrs = append(allErrs, validateMessage(e.Detail, fldPath.Child("lastEvent", "detail"))...)
	}
	return allErrs
}

// ValidateTriggerSpec validates what a trigger starts and its one source.
func ValidateTriggerSpec(spec *sluice.TriggerSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateDNSLabel(spec.PipelineRef.Name, fldPath.Child("pipelineRef", "name"))...)
	allErrs = append(allErrs, validateEnvironment(spec.Environment, fldPath.Child("environment"))...)
	paramsPath := fldPath.Child("params")
	allErrs = append(allErrs, validateParamValueNames(spec.Params, paramsPath)...)

	sources := []struct {
		name string
		set  bool
	}{{"schedule", spec.Schedule != nil}, {"image", spec.Image != nil}, {"webhook", spec.Webhook != nil}, {"slack", spec.Slack != nil}}
	source := ""
	for _, s := range sources {
		switch {
		case !s.set:
		case source == "":
			source = s.name
		default:
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(s.name), fmt.Sprintf("a trigger has exactly one source, and this one has %s", source)))
		}
	}
	if source == "" {
		allErrs = append(allErrs, field.Required(fldPath, "exactly one source is required: schedule, image, webhook or slack"))
	}
	switch {
	case spec.Schedule != nil:
		allErrs = append(allErrs, validateScheduleSource(spec.Schedule, fldPath.Child("schedule"))...)
	case spec.Image != nil:
		allErrs = append(allErrs, validateImageSource(spec.Image, fldPath.Child("image"))...)
	case spec.Webhook != nil:
		allErrs = append(allErrs, validateWebhookSource(spec.Webhook, fldPath.Child("webhook"))...)
	case spec.Slack != nil:
		allErrs = append(allErrs, validateSlackSource(spec.Slack, fldPath.Child("slack"))...)
	}

	// Params refer only to what their source fills in.
	if source == "" {
		return allErrs
	}
	return append(allErrs, params.Validate(params.Source(source), givenParams(spec.Params), paramsPath)...)
}

func validateScheduleSource(s *sluice.ScheduleSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if _, err := schedule.LoadLocation(s.TimeZone); err != nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("timeZone"), s.TimeZone, err.Error()))
	} else if _, err := schedule.Parse(s.Cron, s.TimeZone); err != nil {
		cronPath := fldPath.Child("cron")
		if strings.TrimSpace(s.Cron) == "" {
			allErrs = append(allErrs, field.Required(cronPath, err.Error()))
		} else {
			allErrs = append(allErrs, field.Invalid(cronPath, s.Cron, err.Error()))
		}
	}
	if d := s.StartingDeadlineSeconds; d != nil && *d <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("startingDeadlineSeconds"), *d, "must be greater than 0"))
	}
	if c := s.CatchUp; c != nil && (*c < 0 || *c > MaxCatchUp) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("catchUp"), *c, fmt.Sprintf("must be between 0 and %d", MaxCatchUp)))
	}
	return allErrs
}

func validateImageSource(s *sluice.ImageSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	repoPath := fldPath.Child("repository")
	if s.Repository == "" {
		allErrs = append(allErrs, field.Required(repoPath, "such as registry.example.com/team/web"))
	} else if _, err := name.NewRepository(s.Repository); err != nil {
		allErrs = append(allErrs, field.Invalid(repoPath, s.Repository, "must be a repository without tag or digest, such as registry.example.com/team/web: "+err.Error()))
	}
	policyPath := fldPath.Child("policy")
	switch {
	case s.Policy.Semver == "" && s.Policy.Pattern == "":
		allErrs = append(allErrs, field.Required(policyPath, "one of semver and pattern is required"))
	case s.Policy.Semver != "" && s.Policy.Pattern != "":
		allErrs = append(allErrs, field.Forbidden(policyPath.Child("pattern"), "may not be set together with semver"))
	case s.Policy.Pattern != "":
		if _, err := imagepolicy.NewPattern(s.Policy.Pattern); err != nil {
			allErrs = append(allErrs, field.Invalid(policyPath.Child("pattern"), s.Policy.Pattern, err.Error()))
		}
	default:
		if _, err := imagepolicy.NewSemver(s.Policy.Semver); err != nil {
			allErrs = append(allErrs, field.Invalid(policyPath.Child("semver"), s.Policy.Semver, err.Error()))
		}
	}
	if s.Interval != nil && s.Interval.Duration < MinImageInterval {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("interval"), s.Interval.Duration.String(), fmt.Sprintf("must be at least %s", MinImageInterval)))
	}
	if r := s.PullSecretRef; r != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(r.Name, false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("pullSecretRef", "name"), r.Name, msg))
		}
	}
	if p := s.Push; p != nil {
		pushPath := fldPath.Child("push")
		if !supportedImagePushProviders.Has(p.Provider) {
			allErrs = append(allErrs, field.NotSupported(pushPath.Child("provider"), p.Provider, sortedStrings(supportedImagePushProviders)))
		}
		allErrs = append(allErrs, validateKeyRef(p.SecretRef.Name, p.SecretRef.Key, pushPath.Child("secretRef"))...)
	}
	return allErrs
}

func validateWebhookSource(s *sluice.WebhookSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if !supportedWebhookProviders.Has(s.Provider) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("provider"), s.Provider, sortedStrings(supportedWebhookProviders)))
	}
	allErrs = append(allErrs, validateKeyRef(s.SecretRef.Name, s.SecretRef.Key, fldPath.Child("secretRef"))...)
	eventsPath := fldPath.Child("events")
	if s.Provider == sluice.WebhookGeneric && len(s.Events) > 0 {
		allErrs = append(allErrs, field.Forbidden(eventsPath, "a Generic webhook has no Git events"))
	}
	seen := sets.New[sluice.WebhookEvent]()
	for i, ev := range s.Events {
		if !supportedWebhookEvents.Has(ev) {
			allErrs = append(allErrs, field.NotSupported(eventsPath.Index(i), ev, sortedStrings(supportedWebhookEvents)))
		} else if seen.Has(ev) {
			allErrs = append(allErrs, field.Duplicate(eventsPath.Index(i), ev))
		}
		seen.Insert(ev)
	}
	if f := s.Filter; f != nil {
		filterPath := fldPath.Child("filter")
		if s.Provider == sluice.WebhookGeneric {
			allErrs = append(allErrs, field.Forbidden(filterPath, "a Generic webhook has no branches or tags"))
		}
		for name, globs := range map[string][]string{"branches": f.Branches, "tags": f.Tags} {
			for i, g := range globs {
				if err := webhook.ValidateGlob(g); err != nil {
					allErrs = append(allErrs, field.Invalid(filterPath.Child(name).Index(i), g, err.Error()))
				}
			}
		}
	}
	return allErrs
}

func validateSlackSource(s *sluice.SlackSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateKeyRef(s.SigningSecretRef.Name, s.SigningSecretRef.Key, fldPath.Child("signingSecretRef"))
	seen := sets.New[string]()
	for i, u := range s.AllowedUsers {
		p := fldPath.Child("allowedUsers").Index(i)
		switch {
		case !slackUserID.MatchString(u):
			allErrs = append(allErrs, field.Invalid(p, u, "must be a Slack user ID, such as U024BE7LH"))
		case seen.Has(u):
			allErrs = append(allErrs, field.Duplicate(p, u))
		}
		seen.Insert(u)
	}
	return allErrs
}
