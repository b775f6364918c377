package sluicectl

import (
	"context"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
)

// The actions of kubectl sluice and the dashboard: each one call of a
// subresource, its refusal an ActionError.

// Decide records decision, with message, on the approval gate job waits
// at, through pipelinejobs/approval. When step is not empty it first
// makes sure the job waits at that step, and refuses otherwise: a job
// waits at one gate at a time, and the server decides that one.
func Decide(ctx context.Context, c sluiceclient.Interface, ns, job string, decision v1alpha1.Decision, message, step string) (*v1alpha1.PipelineJob, error) {
	verb := DecisionVerb(decision)
	jobs := c.SluiceV1alpha1().PipelineJobs(ns)
	if step != "" {
		j, err := jobs.Get(ctx, job, metav1.GetOptions{})
		if err != nil {
			return nil, ActionError(verb, job, err)
		}
		if i := WaitingGate(j); i < 0 {
			return nil, fmt.Errorf("you cannot %s %s: it waits at no approval gate (it is %s)", verb, job, JobPhase(j))
		} else if waiting := j.Status.Steps[i].Name; waiting != step {
			return nil, fmt.Errorf("you cannot %s %s at step %q: it waits at step %q", verb, job, step, waiting)
		}
	}
	j, err := jobs.Decide(ctx, job, &v1alpha1.ApprovalRequest{Decision: decision, Message: message}, metav1.CreateOptions{})
	if err != nil {
		return nil, ActionError(verb, job, err)
	}
	return j, nil
}

// DecisionVerb is a decision as a verb: approve or reject.
func DecisionVerb(d v1alpha1.Decision) string {
	if d == v1alpha1.Reject {
		return "reject"
	}
	return "approve"
}

// Cancel cancels job through pipelinejobs/cancel, with reason.
func Cancel(ctx context.Context, c sluiceclient.Interface, ns, job, reason string) (*v1alpha1.PipelineJob, error) {
	j, err := c.SluiceV1alpha1().PipelineJobs(ns).Cancel(ctx, job, &v1alpha1.CancelRequest{Reason: reason}, metav1.CreateOptions{})
	if err != nil {
		return nil, ActionError("cancel", job, err)
	}
	return j, nil
}

// Rerun runs a finished job again through pipelinejobs/rerun and returns
// the new job.
func Rerun(ctx context.Context, c sluiceclient.Interface, ns, job string, fromCurrentPipeline bool) (*v1alpha1.PipelineJob, error) {
	j, err := c.SluiceV1alpha1().PipelineJobs(ns).Rerun(ctx, job, &v1alpha1.RerunRequest{FromCurrentPipeline: fromCurrentPipeline}, metav1.CreateOptions{})
	if err != nil {
		return nil, ActionError("rerun", job, err)
	}
	return j, nil
}

// Rollback rolls environment of pipeline back through pipelines/rollback,
// to toJob or the release before the current one, and returns the new job.
func Rollback(ctx context.Context, c sluiceclient.Interface, ns, pipeline, environment, toJob string) (*v1alpha1.PipelineJob, error) {
	j, err := c.SluiceV1alpha1().Pipelines(ns).Rollback(ctx, pipeline, &v1alpha1.RollbackRequest{Environment: environment, ToJob: toJob}, metav1.CreateOptions{})
	if err != nil {
		return nil, ActionError("roll back", pipeline, err)
	}
	return j, nil
}

// WaitingGate is the index of the step job waits at for approval, or -1.
func WaitingGate(job *v1alpha1.PipelineJob) int {
	return slices.IndexFunc(job.Status.Steps, func(s v1alpha1.StepStatus) bool { return s.Phase == v1alpha1.StepWaitingForApproval })
}

// JobPhase is the job's phase, Pending before the controller set one.
func JobPhase(job *v1alpha1.PipelineJob) v1alpha1.JobPhase {
	if job.Status.Phase == "" {
		return v1alpha1.JobPending
	}
	return job.Status.Phase
}

// GateState says where the gate a decision was recorded on stands: its
// approvals out of those required, and what happens next.
func GateState(job *v1alpha1.PipelineJob) string {
	i := WaitingGate(job)
	if i < 0 || job.Status.PipelineSpec == nil || i >= len(job.Status.PipelineSpec.Steps) || job.Status.PipelineSpec.Steps[i].Approval == nil {
		return ""
	}
	step := job.Status.Steps[i]
	required := max(job.Status.PipelineSpec.Steps[i].Approval.Required, 1)
	var approvals int32
	for _, d := range step.Approvals {
		switch d.Decision {
		case v1alpha1.Reject:
			return fmt.Sprintf("step %s is rejected; the job fails", step.Name)
		case v1alpha1.Approve:
			approvals++
		}
	}
	if approvals >= required {
		return fmt.Sprintf("step %s has %d of %d approvals; the job goes on", step.Name, approvals, required)
	}
	return fmt.Sprintf("step %s has %d of %d approvals; it waits for %d more", step.Name, approvals, required, required-approvals)
}
