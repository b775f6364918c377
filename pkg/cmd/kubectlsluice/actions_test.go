package kubectlsluice

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

var jobs = v1alpha1.Resource("pipelinejobs")

// TestActionError: a refusal is the server's reason alone, after what
// the user could not do; other errors keep the server's whole message.
func TestActionError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"self-approval", apierrors.NewForbidden(v1alpha1.Resource("pipelinejobs/approval"), "release-x7k2p",
			errors.New(`user "alice" started this job, and step "approve-production" does not allow self-approval`)),
			`you cannot approve release-x7k2p: user "alice" started this job, and step "approve-production" does not allow self-approval`},
		{"RBAC", apierrors.NewForbidden(v1alpha1.Resource("pipelinejobs/approval"), "release-x7k2p",
			errors.New(`User "heidi" cannot create resource "pipelinejobs/approval" in API group "sluice.dev" in the namespace "ns"`)),
			`you cannot approve release-x7k2p: User "heidi" cannot create resource "pipelinejobs/approval" in API group "sluice.dev" in the namespace "ns"`},
		{"a gate already decided", apierrors.NewConflict(jobs, "release-x7k2p", errors.New(`user "carol" already decided step "approve-production"`)),
			`you cannot approve release-x7k2p: user "carol" already decided step "approve-production"`},
		{"not found", apierrors.NewNotFound(jobs, "release-x7k2p"),
			`cannot approve release-x7k2p: pipelinejobs.sluice.dev "release-x7k2p" not found`},
		{"invalid", apierrors.NewInvalid(v1alpha1.SchemeGroupVersion.WithKind("ApprovalRequest").GroupKind(), "release-x7k2p", field.ErrorList{field.TooLong(field.NewPath("message"), "", 1024)}),
			`cannot approve release-x7k2p: ApprovalRequest.sluice.dev "release-x7k2p" is invalid: message: Too long: may not be more than 1024 bytes`},
		{"not a Status", errors.New("dial tcp 127.0.0.1:6443: connect: connection refused"),
			"cannot approve release-x7k2p: dial tcp 127.0.0.1:6443: connect: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorMessage(actionError("approve", "release-x7k2p", tc.err)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func gatedJob(required int32, decisions ...v1alpha1.Decision) *v1alpha1.PipelineJob {
	j := &v1alpha1.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{Name: "release-x7k2p"},
		Status: v1alpha1.PipelineJobStatus{
			Phase: v1alpha1.JobRunning,
			PipelineSpec: &v1alpha1.PipelineSpec{Steps: []v1alpha1.Step{
				{Name: "build"},
				{Name: "approve-production", Approval: &v1alpha1.ApprovalGate{Required: required}},
			}},
			Steps: []v1alpha1.StepStatus{
				{Name: "build", Phase: v1alpha1.StepSucceeded},
				{Name: "approve-production", Phase: v1alpha1.StepWaitingForApproval},
			},
		},
	}
	for i, d := range decisions {
		j.Status.Steps[1].Approvals = append(j.Status.Steps[1].Approvals, v1alpha1.ApprovalDecision{
			User: v1alpha1.UserInfo{Username: fmt.Sprintf("user%d", i)}, Decision: d})
	}
	return j
}

func TestGateState(t *testing.T) {
	for _, tc := range []struct {
		name string
		job  *v1alpha1.PipelineJob
		want string
	}{
		{"one of two", gatedJob(2, v1alpha1.Approve), "step approve-production has 1 of 2 approvals; it waits for 1 more"},
		{"enough", gatedJob(2, v1alpha1.Approve, v1alpha1.Approve), "step approve-production has 2 of 2 approvals; the job goes on"},
		{"required defaults to one", gatedJob(0, v1alpha1.Approve), "step approve-production has 1 of 1 approvals; the job goes on"},
		{"rejected", gatedJob(2, v1alpha1.Approve, v1alpha1.Reject), "step approve-production is rejected; the job fails"},
		{"no gate", &v1alpha1.PipelineJob{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gateState(tc.job); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFireRequest(t *testing.T) {
	tr := &v1alpha1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: v1alpha1.TriggerSpec{
			PipelineRef: v1alpha1.PipelineReference{Name: "release"},
			Environment: "staging",
			Params: []v1alpha1.Param{
				{Name: "version", Value: "nightly-$(schedule.time)"},
				{Name: "channel", Value: "nightly"},
				{Name: "script", Value: "echo $$(schedule.time) $(HOME)"},
			},
			Schedule: &v1alpha1.ScheduleSource{Cron: "0 3 * * *"},
		},
	}

	_, err := fireRequest(tr, nil)
	want := "trigger nightly's params version (nightly-$(schedule.time)) refer to its schedule's slot, which only an event fills in: give them with -p NAME=VALUE"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}

	req, err := fireRequest(tr, map[string]string{"version": "1.4.2", "zone": "eu", "channel": "beta"})
	if err != nil {
		t.Fatal(err)
	}
	wantReq := &v1alpha1.RunRequest{
		Environment: "staging",
		Trigger:     &v1alpha1.JobTrigger{Type: v1alpha1.TriggerManual, Name: "nightly", Detail: firedByHand},
		Params: []v1alpha1.Param{
			{Name: "version", Value: "1.4.2"},
			{Name: "channel", Value: "beta"},
			{Name: "script", Value: "echo $(schedule.time) $(HOME)"}, // as the trigger's event would make it
			{Name: "zone", Value: "eu"},
		},
	}
	if got, want := fmt.Sprintf("%+v %+v", req, *req.Trigger), fmt.Sprintf("%+v %+v", wantReq, *wantReq.Trigger); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// run runs `kubectl sluice args...` with no cluster, for what is decided
// before one is asked.
func run(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := NewCommand(streams)
	cmd.SetArgs(append([]string{"--kubeconfig=/nonexistent"}, args...))
	code = Execute(cmd, streams)
	return out.String(), errOut.String(), code
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"reject", "release-x7k2p"}, "Error: a rejection needs a message: -m MESSAGE says why, and the job fails with it\nSee 'kubectl sluice reject --help' for usage.\n"},
		{[]string{"approve"}, "Error: expected JOB, got 0 argument(s)\nSee 'kubectl sluice approve --help' for usage.\n"},
		{[]string{"cancel", "a", "b"}, "Error: expected JOB, got 2 argument(s)\nSee 'kubectl sluice cancel --help' for usage.\n"},
		{[]string{"rollback"}, "Error: expected PIPELINE, got 0 argument(s)\nSee 'kubectl sluice rollback --help' for usage.\n"},
		{[]string{"trigger", "fire"}, "Error: expected TRIGGER, got 0 argument(s)\nSee 'kubectl sluice trigger fire --help' for usage.\n"},
		{[]string{"version", "-o", "wide"}, "Error: --output \"wide\": expected json or yaml\nSee 'kubectl sluice version --help' for usage.\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := run(tc.args...)
			if code != ExitUsage || stderr != tc.want {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2, stderr:\n%s", code, stderr, tc.want)
			}
		})
	}
}

func TestVersionClient(t *testing.T) {
	stdout, stderr, code := run("version", "--client")
	if code != ExitOK || !strings.HasPrefix(stdout, "Client Version: ") || strings.Contains(stdout, "Server") || stderr != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	stdout, _, code = run("version", "--client", "-o", "json")
	if code != ExitOK || !strings.Contains(stdout, `"clientVersion": {`) || strings.Contains(stdout, "ServerVersion") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}
