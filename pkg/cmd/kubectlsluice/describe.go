package kubectlsluice

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
)

const describeExample = `  # The steps and actions of a job, its approvals, trigger, starter and notifications
  kubectl sluice describe release-x7k2p

  # A job of another namespace
  kubectl sluice describe release-x7k2p -n team-a`

// DescribeOptions are the options of `kubectl sluice describe`.
type DescribeOptions struct {
	job       string
	namespace string
	client    sluiceclient.Interface
	genericiooptions.IOStreams
}

// NewDescribeCommand is `kubectl sluice describe JOB`.
func NewDescribeCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DescribeOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "describe JOB",
		Short: "Show a job as a tree of its steps and actions",
		Long: `Show a job: its pipeline, environment, params, phase, trigger and the user who started
it; then a tree of its steps and their actions with phase, attempts, durations, exit codes
and Pods, and for an approval gate its approvers, how many approvals it needs, and each
decision with who made it, when and why; then the delivery of its notifications.

The steps are those of the job's snapshot of its pipeline; actions are those of a step's
latest attempt. Times are in UTC.`,
		Example:           describeExample,
		Args:              exactArgs("JOB"),
		ValidArgsFunction: completeNames(f, jobNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	return cmd
}

// Complete reads the arguments.
func (o *DescribeOptions) Complete(f *Factory, _ *cobra.Command, args []string) error {
	o.job = args[0]
	var err error
	o.client, o.namespace, err = f.SluiceIn()
	return err
}

// Run reads the job and prints it.
func (o *DescribeOptions) Run(cmd *cobra.Command) error {
	j, err := o.client.SluiceV1alpha1().PipelineJobs(o.namespace).Get(cmd.Context(), o.job, metav1.GetOptions{})
	if err != nil {
		return err
	}
	return describeJob(o.Out, j, time.Now())
}

// describeJob writes j as a person reads it, with times relative to now.
func describeJob(out io.Writer, j *v1alpha1.PipelineJob, now time.Time) error {
	w := &describeWriter{now: now}
	w.field("Name", j.Name)
	w.field("Namespace", j.Namespace)
	pipeline := "<inline>"
	if j.Spec.PipelineRef != nil {
		pipeline = j.Spec.PipelineRef.Name
	}
	w.field("Pipeline", pipeline)
	w.field("Environment", orNone(j.Spec.Environment))
	if len(j.Spec.Params) == 0 {
		w.field("Params", "<none>")
	}
	for i, p := range j.Spec.Params {
		label := ""
		if i == 0 {
			label = "Params"
		}
		w.field(label, p.Name+"="+p.Value)
	}
	phase := string(j.Status.Phase)
	if phase == "" {
		phase = "<not started>"
	}
	if c := apimeta.FindStatusCondition(j.Status.Conditions, v1alpha1.ConditionSucceeded); c != nil && c.Reason != "" && c.Reason != phase {
		phase += " (" + c.Reason + ")"
	}
	w.field("Phase", phase)
	if j.Status.Message != "" {
		w.field("Message", j.Status.Message)
	}
	w.field("Trigger", jobTrigger(j.Spec.Trigger))
	if of := j.Labels[v1alpha1.LabelRerunOf]; of != "" {
		w.field("Rerun of", of)
	}
	w.field("Started by", user(j.Spec.StartedBy))
	w.field("Created", w.at(&j.CreationTimestamp))
	if t := j.Status.StartTime; t != nil {
		w.field("Started", w.at(t))
	}
	if t := j.Status.CompletionTime; t != nil {
		w.field("Completed", w.at(t))
	}
	if d := span(j.Status.StartTime, j.Status.CompletionTime, now); d != "" {
		w.field("Duration", d)
	}
	if c := j.Status.CancelledBy; c != nil {
		by := user(c)
		if j.Status.CancelReason != "" {
			by += ": " + j.Status.CancelReason
		}
		w.field("Cancelled by", by)
	}
	w.line("")
	w.line("Steps:")
	w.steps(j)
	w.line("")
	w.notifications(j.Status.Notifications)
	// Tables pad their last column: no line ends in blanks.
	lines := strings.Split(w.String(), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	_, err := io.WriteString(out, strings.Join(lines, "\n"))
	return err
}

// describeWriter builds the text of describe.
type describeWriter struct {
	strings.Builder
	now time.Time
}

func (w *describeWriter) line(format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
}

// field is "Label:" and its value, the values aligned.
func (w *describeWriter) field(label, value string) {
	if label != "" {
		label += ":"
	}
	w.line("%-14s%s", label, value)
}

// at is t in UTC and how long ago it was.
func (w *describeWriter) at(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "<unknown>"
	}
	return t.UTC().Format(time.RFC3339) + " (" + ago(t.Time, w.now) + ")"
}

func ago(t, now time.Time) string {
	if d := now.Sub(t); d >= 0 {
		return duration.HumanDuration(d) + " ago"
	}
	return "in " + duration.HumanDuration(t.Sub(now))
}

// span is how long from start to end, or to now while it runs; "" before
// it started.
func span(start, end *metav1.Time, now time.Time) string {
	if start == nil {
		return ""
	}
	if end == nil {
		return duration.HumanDuration(now.Sub(start.Time)) + " so far"
	}
	return duration.HumanDuration(end.Sub(start.Time))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func user(u *v1alpha1.UserInfo) string {
	if u == nil || u.Username == "" {
		return "<unknown>"
	}
	return u.Username
}

// jobTrigger is what started a job: "Image web-image: <detail>".
func jobTrigger(t v1alpha1.JobTrigger) string {
	s := string(t.Type)
	if s == "" {
		s = string(v1alpha1.TriggerManual)
	}
	if t.Name != "" {
		s += " " + t.Name
	}
	if t.Detail != "" {
		s += ": " + t.Detail
	}
	return s
}

// Tree branches.
const (
	branch     = "├── "
	lastBranch = "└── "
	pipe       = "│   "
	space      = "    "
)

// steps writes the tree of the job's steps: those of its snapshot of the
// pipeline, in order, with their status; before the job has a snapshot,
// the steps its status names.
func (w *describeWriter) steps(j *v1alpha1.PipelineJob) {
	spec := j.Status.PipelineSpec
	if spec == nil {
		spec = j.Spec.PipelineSpec
	}
	status := map[string]*v1alpha1.StepStatus{}
	for i := range j.Status.Steps {
		status[j.Status.Steps[i].Name] = &j.Status.Steps[i]
	}
	var steps []v1alpha1.Step
	if spec != nil {
		steps = spec.Steps
	} else {
		for _, s := range j.Status.Steps {
			steps = append(steps, v1alpha1.Step{Name: s.Name})
		}
	}
	if len(steps) == 0 {
		w.line("  <none yet: the job has not started>")
		return
	}
	for i := range steps {
		last := i == len(steps)-1
		first, rest := branch, pipe
		if last {
			first, rest = lastBranch, space
		}
		s := status[steps[i].Name]
		if s == nil {
			s = &v1alpha1.StepStatus{Name: steps[i].Name, Phase: v1alpha1.StepPending}
		}
		w.step(first, rest, &steps[i], s, j.Spec.StartedBy)
	}
}

// step writes one step: its line after first, and its details and
// children after rest.
func (w *describeWriter) step(first, rest string, spec *v1alpha1.Step, s *v1alpha1.StepStatus, starter *v1alpha1.UserInfo) {
	parts := []string{s.Name, string(s.Phase)}
	if s.Reason != "" && s.Reason != string(s.Phase) {
		parts[1] += " (" + s.Reason + ")"
	}
	if d := span(s.StartTime, s.CompletionTime, w.now); d != "" {
		parts = append(parts, d)
	}
	if spec.Approval != nil {
		w.line("%s%s", first, strings.Join(append(parts, fmt.Sprintf("approvals %d/%d", approvals(s), required(spec.Approval))), "  "))
		w.gate(rest, spec.Approval, s, starter)
		return
	}
	if s.Attempts > 0 {
		parts = append(parts, fmt.Sprintf("attempt %d/%d", s.Attempts, spec.Retries+1))
	}
	if s.PodName != "" {
		parts = append(parts, "pod "+s.PodName)
	}
	w.line("%s%s", first, strings.Join(parts, "  "))
	if s.Message != "" {
		w.line("%s%s%s", rest, pipeOr(len(spec.Actions) > 0), s.Message)
	}
	if t := s.NextAttemptTime; t != nil && !isFinished(s.Phase) {
		w.line("%s%snext attempt %s", rest, pipeOr(len(spec.Actions) > 0), w.at(t))
	}
	actions := map[string]*v1alpha1.ActionStatus{}
	for i := range s.Actions {
		actions[s.Actions[i].Name] = &s.Actions[i]
	}
	width := 0
	for _, a := range spec.Actions {
		width = max(width, len(a.Name))
	}
	for i, a := range spec.Actions {
		b := branch
		if i == len(spec.Actions)-1 {
			b = lastBranch
		}
		w.line("%s%s%s", rest, b, strings.TrimRight(fmt.Sprintf("%-*s  %s", width, a.Name, w.action(actions[a.Name])), " "))
	}
}

// pipeOr is the column under a line with children below it, or blank.
func pipeOr(children bool) string {
	if children {
		return pipe
	}
	return space
}

func isFinished(p v1alpha1.StepPhase) bool {
	switch p {
	case v1alpha1.StepSucceeded, v1alpha1.StepFailed, v1alpha1.StepSkipped, v1alpha1.StepCancelled:
		return true
	}
	return false
}

// action is the state of an action of the latest attempt: its exit code
// and reason, its duration, and its log when it is not archived.
func (w *describeWriter) action(a *v1alpha1.ActionStatus) string {
	if a == nil {
		return "-"
	}
	var parts []string
	switch {
	case a.ExitCode != nil:
		state := fmt.Sprintf("exit %d", *a.ExitCode)
		if a.Reason != "" && a.Reason != "Completed" {
			state += " (" + a.Reason + ")"
		}
		parts = append(parts, state)
	case a.Reason != "":
		parts = append(parts, a.Reason)
	case a.StartTime != nil:
		parts = append(parts, "running")
	default:
		parts = append(parts, "waiting")
	}
	if d := span(a.StartTime, a.CompletionTime, w.now); d != "" {
		parts = append(parts, d)
	}
	if l := a.Log; l != nil && l.State != v1alpha1.LogArchived {
		log := "log " + string(l.State)
		if l.Message != "" {
			log += ": " + l.Message
		}
		parts = append(parts, log)
	}
	return strings.Join(parts, "  ")
}

// gate writes an approval gate's approvers and decisions under its step.
func (w *describeWriter) gate(rest string, g *v1alpha1.ApprovalGate, s *v1alpha1.StepStatus, starter *v1alpha1.UserInfo) {
	var who []string
	for _, a := range g.Approvers {
		who = append(who, strings.ToLower(string(a.Kind))+" "+a.Name)
	}
	self := "the starter (" + user(starter) + ") may not approve"
	if g.AllowSelfApproval {
		self = "the starter may approve"
	}
	children := len(s.Approvals) > 0 || s.Phase == v1alpha1.StepWaitingForApproval
	w.line("%s%sapprovers: %s; %d required; %s", rest, pipeOr(children), strings.Join(who, ", "), required(g), self)
	if g.Timeout != nil {
		w.line("%s%stimeout: %s", rest, pipeOr(children), g.Timeout.Duration)
	}
	if s.Message != "" {
		w.line("%s%s%s", rest, pipeOr(children), s.Message)
	}
	for i, d := range s.Approvals {
		b := branch
		if i == len(s.Approvals)-1 && s.Phase != v1alpha1.StepWaitingForApproval {
			b = lastBranch
		}
		verb := "approved"
		if d.Decision == v1alpha1.Reject {
			verb = "rejected"
		}
		line := fmt.Sprintf("%s by %s at %s", verb, user(&d.User), w.at(&d.Time))
		if d.Message != "" {
			line += fmt.Sprintf(": %q", d.Message)
		}
		w.line("%s%s%s", rest, b, line)
	}
	if s.Phase == v1alpha1.StepWaitingForApproval {
		w.line("%s%swaiting for %d more approval(s)", rest, lastBranch, required(g)-approvals(s))
	}
}

// required is how many approvals a gate needs; the server defaults it to 1.
func required(g *v1alpha1.ApprovalGate) int {
	return max(int(g.Required), 1)
}

// approvals counts the distinct users who approved.
func approvals(s *v1alpha1.StepStatus) int {
	users := map[string]bool{}
	for _, d := range s.Approvals {
		if d.Decision == v1alpha1.Approve {
			users[d.User.Username] = true
		}
	}
	return len(users)
}

// notifications writes the delivery of the job's notifications as a table.
func (w *describeWriter) notifications(ns []v1alpha1.NotificationStatus) {
	if len(ns) == 0 {
		w.line("Notifications: <none>")
		return
	}
	w.line("Notifications:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  EVENT\tURL\tSTATE\tATTEMPTS\tCODE\tLAST ATTEMPT\tMESSAGE")
	for _, n := range ns {
		code, last := "-", "-"
		if n.ResponseCode != 0 {
			code = fmt.Sprint(n.ResponseCode)
		}
		if n.LastAttemptTime != nil {
			last = ago(n.LastAttemptTime.Time, w.now)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\n", n.Event, n.URL, orNone(string(n.State)), n.Attempts, code, last, n.Message)
	}
	_ = tw.Flush()
}
