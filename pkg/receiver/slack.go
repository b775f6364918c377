package receiver

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/trigger/jobname"
	triggermetrics "github.com/sluice-dev/sluice/pkg/trigger/metrics"
	"github.com/sluice-dev/sluice/pkg/trigger/params"
	"github.com/sluice-dev/sluice/pkg/trigger/webhook"
)

// slackAnswer is the JSON a slash command is answered with: ephemeral is
// seen only by who ran the command, in_channel by the channel.
type slackAnswer struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

const (
	slackEphemeral = "ephemeral"
	slackInChannel = "in_channel"
)

// slackReply answers 200, as Slack shows only a 200's text to the user.
func (r *Receiver) slackReply(q *request, result, responseType, text string) {
	r.write(q, http.StatusOK, result, text, slackAnswer{ResponseType: responseType, Text: text})
}

// serveSlack answers a slash command whose body is read and whose
// trigger's signing secret is known.
func (r *Receiver) serveSlack(q *request, body, secret []byte) {
	tr := q.trigger
	if err := webhook.VerifySlack(q.r.Header, body, secret, r.opts.Clock.Now()); err != nil {
		r.recorder.Eventf(tr, corev1.EventTypeWarning, ReasonRejected, "a Slack request failed the signature check: %v", err)
		r.reply(q, http.StatusUnauthorized, answer{Result: triggermetrics.Unauthorized, Reason: err.Error()})
		return
	}
	cmd, err := webhook.ParseSlashCommand(body)
	if err != nil {
		r.reply(q, http.StatusBadRequest, answer{Result: triggermetrics.Rejected, Reason: err.Error()})
		return
	}
	q.delivery = cmd.TriggerID
	if !slices.Contains(tr.Spec.Slack.AllowedUsers, cmd.UserID) {
		r.slackReply(q, triggermetrics.Unauthorized, slackEphemeral,
			fmt.Sprintf("You (%s) are not allowed to run commands of trigger %s; its allowedUsers lists who may.", cmd.UserID, tr.Name))
		return
	}
	c, err := webhook.ParseCommand(cmd.Text)
	if err != nil {
		r.slackReply(q, triggermetrics.Rejected, slackEphemeral, err.Error())
		return
	}
	if c.Verb == webhook.VerbStatus {
		r.slackStatus(q, c.Job)
		return
	}
	pipeline := tr.Spec.PipelineRef.Name
	if c.Pipeline != pipeline {
		r.slackReply(q, triggermetrics.Rejected, slackEphemeral,
			fmt.Sprintf("This command runs pipeline %s only: run %s [env=<environment>] [key=value ...]", pipeline, pipeline))
		return
	}
	if tr.Spec.Suspend {
		r.slackReply(q, triggermetrics.Ignored, slackEphemeral, fmt.Sprintf("Trigger %s is suspended; nothing was started.", tr.Name))
		return
	}
	// trigger_id is unique per invocation; Slack sends one with every
	// command. Its absence falls back to the signature, which covers the
	// timestamp and the body.
	eventID := "slack:" + cmd.TriggerID
	if cmd.TriggerID == "" {
		eventID = "slack-signature:" + q.r.Header.Get(webhook.HeaderSlackSignature)
	}
	detail := fmt.Sprintf("slack %s %s by %s (%s)", cmd.Command, strings.Join(strings.Fields(cmd.Text), " "), cmd.UserName, cmd.UserID)
	run, err := params.Run(tr, jobname.ForEvent(tr.Name, eventID), v1alpha1.TriggerSlack, detail, params.SlackValues(cmd.UserID, cmd.Text))
	if err != nil {
		r.slackReply(q, triggermetrics.Rejected, slackEphemeral, err.Error())
		return
	}
	if c.Environment != "" {
		run.Environment = c.Environment
	}
	run.Params = mergeParams(run.Params, c.Params)
	result, err := r.start(q.r.Context(), tr, run)
	kubectl := fmt.Sprintf("kubectl get pipelinejob -n %s %s", tr.Namespace, run.Name)
	switch result {
	case triggermetrics.Started:
		where := ""
		if run.Environment != "" {
			where = " in " + run.Environment
		}
		text := fmt.Sprintf("Started job %s of %s%s for <@%s>. %s", run.Name, pipeline, where, cmd.UserID, kubectl)
		if r.followSlack(q, run, cmd) {
			text += "\nIts result will follow here; or, if it runs longer than 29 minutes, that it is still running."
		}
		r.slackReply(q, result, slackInChannel, text)
	case triggermetrics.Duplicate:
		// A redelivery: the command that started the job is owed its
		// result, by the replica that took it; nothing more is owed here.
		r.slackReply(q, result, slackEphemeral, fmt.Sprintf("This command has started job %s already. %s", run.Name, kubectl))
	case triggermetrics.Rejected:
		r.slackReply(q, result, slackEphemeral, fmt.Sprintf("The job was refused: %v", err))
	default:
		klog.ErrorS(err, "starting a job", "trigger", klog.KObj(tr), "delivery", q.delivery, "job", run.Name)
		r.reply(q, http.StatusServiceUnavailable, answer{Result: triggermetrics.Error, Reason: "the job could not be started; try again"})
	}
}

// followSlack owes the result of the job run started to the command's
// response_url, if the receiver posts results and the URL is allowed.
// Why a URL is refused is logged with its scheme and host, never the
// path, which is the secret.
func (r *Receiver) followSlack(q *request, run *v1alpha1.RunRequest, cmd *webhook.SlashCommand) bool {
	if r.opts.SlackReplies == nil {
		return false
	}
	job := types.NamespacedName{Namespace: q.trigger.Namespace, Name: run.Name}
	if err := r.opts.SlackReplies.Follow(job, q.trigger.Spec.PipelineRef.Name, run.Environment, cmd.UserID, cmd.ResponseURL); err != nil {
		klog.InfoS("the result of a Slack command's job will not be posted", "trigger", klog.KObj(q.trigger), "job", run.Name, "reason", err.Error())
		return false
	}
	return true
}

// mergeParams returns base with the command's params over it: a name the
// command gives replaces the trigger's value, a new one is added.
func mergeParams(base []v1alpha1.Param, command []webhook.Param) []v1alpha1.Param {
	out := append([]v1alpha1.Param(nil), base...)
	for _, p := range command {
		i := slices.IndexFunc(out, func(g v1alpha1.Param) bool { return g.Name == p.Name })
		if i >= 0 {
			out[i].Value = p.Value
			continue
		}
		out = append(out, v1alpha1.Param{Name: p.Name, Value: p.Value})
	}
	return out
}

// slackStatus answers `status <job>` with the job's phase and current
// step. Only jobs of the trigger's pipeline in its namespace are shown:
// those are the jobs the command's users may start, and nothing tells a
// job of another pipeline from one that does not exist.
func (r *Receiver) slackStatus(q *request, name string) {
	tr := q.trigger
	pipeline := tr.Spec.PipelineRef.Name
	job, err := r.sluice.SluiceV1alpha1().PipelineJobs(tr.Namespace).Get(q.r.Context(), name, metav1.GetOptions{})
	if err == nil && job.Labels[v1alpha1.LabelPipeline] != pipeline {
		err = apierrors.NewNotFound(v1alpha1.Resource("pipelinejobs"), name)
	}
	switch {
	case apierrors.IsNotFound(err):
		r.slackReply(q, triggermetrics.Answered, slackEphemeral, fmt.Sprintf("There is no job %s of pipeline %s.", name, pipeline))
		return
	case err != nil:
		klog.ErrorS(err, "reading a job for Slack", "trigger", klog.KObj(tr), "job", name)
		r.reply(q, http.StatusServiceUnavailable, answer{Result: triggermetrics.Error, Reason: "the job could not be read; try again"})
		return
	}
	phase := string(job.Status.Phase)
	if phase == "" {
		phase = "Pending"
	}
	text := fmt.Sprintf("Job %s of %s: %s", job.Name, pipeline, phase)
	if s := currentStep(job); s != nil {
		text += fmt.Sprintf(", step %s %s", s.Name, s.Phase)
		if s.Message != "" {
			text += ": " + s.Message
		}
	}
	text += fmt.Sprintf(". kubectl get pipelinejob -n %s %s", tr.Namespace, job.Name)
	r.slackReply(q, triggermetrics.Answered, slackEphemeral, text)
}

// currentStep is the step running or waiting, else the last one that
// started; nil before any did.
func currentStep(job *v1alpha1.PipelineJob) *v1alpha1.StepStatus {
	var last *v1alpha1.StepStatus
	for i := range job.Status.Steps {
		s := &job.Status.Steps[i]
		switch s.Phase {
		case v1alpha1.StepRunning, v1alpha1.StepWaitingForApproval:
			return s
		case v1alpha1.StepPending, "":
		default:
			last = s
		}
	}
	return last
}
