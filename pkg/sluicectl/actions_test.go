package sluicectl

import (
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

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
			if got := ErrorMessage(ActionError("approve", "release-x7k2p", tc.err)); got != tc.want {
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
			if got := GateState(tc.job); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
