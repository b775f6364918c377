package pipelinejob

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/validation"
	"github.com/sluice-dev/sluice/pkg/registry"
)

// ApprovalREST serves pipelinejobs/approval: a decision on the job's
// current approval gate. The server checks who may decide, from the gate
// in the job's snapshot of its pipeline and the authenticated identity,
// and records the decision in status.steps[].approvals. The controller
// then passes or fails the gate.
type ApprovalREST struct {
	registry.JobAction
	jobs *REST
}

var _ rest.NamedCreater = &ApprovalREST{}

// New returns an empty ApprovalRequest.
func (r *ApprovalREST) New() runtime.Object { return &sluice.ApprovalRequest{} }

// Create records the caller's decision. The decision is added to the job
// as it is stored, and a conflicting write makes the update start again
// from the new version, so two approvers deciding at once both count.
func (r *ApprovalREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req := obj.(*sluice.ApprovalRequest)
	if err := registry.AdmitRequest(ctx, "ApprovalRequest", name, req, validation.ValidateApprovalRequest(req), createValidation); err != nil {
		return nil, err
	}
	user := userInfo(ctx)
	if user == nil {
		return nil, apierrors.NewForbidden(sluice.Resource("pipelinejobs/approval"), name, fmt.Errorf("the request has no authenticated user"))
	}
	return r.jobs.updateForAction(ctx, name, options.DryRun, func(j *sluice.PipelineJob) error {
		now := time.Now()
		i, err := CheckApprover(j, user, now)
		if err != nil {
			return err
		}
		st := &j.Status.Steps[i]
		st.Approvals = append(st.Approvals, sluice.ApprovalDecision{User: *user, Decision: req.Decision, Time: metav1.NewTime(now), Message: req.Message})
		return nil
	})
}

// CheckApprover finds the gate j waits at and checks that user may decide
// it at now: named in its approvers, directly or through a group; not the
// user who started the job, unless the gate allows self-approval; not
// having decided it already; and before the gate's timeout, which the
// controller may not have acted on yet. It returns the gate's index in
// status.steps, or a Status error: 409 when the job waits at no gate, the
// gate has timed out or the user has decided, 403 when the user may not
// decide.
func CheckApprover(j *sluice.PipelineJob, user *sluice.UserInfo, now time.Time) (int, error) {
	jobs := sluice.Resource("pipelinejobs")
	i := slices.IndexFunc(j.Status.Steps, func(s sluice.StepStatus) bool { return s.Phase == sluice.StepWaitingForApproval })
	if i < 0 || j.Status.Phase != sluice.JobRunning || j.Status.PipelineSpec == nil || i >= len(j.Status.PipelineSpec.Steps) ||
		j.Status.PipelineSpec.Steps[i].Approval == nil {
		return 0, apierrors.NewConflict(jobs, j.Name, fmt.Errorf("the job is %s and waits at no approval gate", phaseOrPending(j.Status.Phase)))
	}
	step, gate := j.Status.Steps[i], j.Status.PipelineSpec.Steps[i].Approval
	forbidden := func(format string, args ...any) (int, error) {
		return 0, apierrors.NewForbidden(sluice.Resource("pipelinejobs/approval"), j.Name, fmt.Errorf(format, args...))
	}
	if !isApprover(gate.Approvers, user) {
		return forbidden("user %q is not an approver of step %q, whose approvers are %s", user.Username, step.Name, describeApprovers(gate.Approvers))
	}
	if !gate.AllowSelfApproval && j.Spec.StartedBy != nil && j.Spec.StartedBy.Username == user.Username {
		return forbidden("user %q started this job, and step %q does not allow self-approval", user.Username, step.Name)
	}
	if gate.Timeout != nil && step.StartTime != nil && !now.Before(step.StartTime.Add(gate.Timeout.Duration)) {
		// A decision the controller would not count must not be recorded.
		return 0, apierrors.NewConflict(jobs, j.Name, fmt.Errorf("step %q timed out at %s without enough approvals",
			step.Name, step.StartTime.Add(gate.Timeout.Duration).UTC().Format(time.RFC3339)))
	}
	for _, d := range step.Approvals {
		if d.User.Username == user.Username {
			return 0, apierrors.NewConflict(jobs, j.Name, fmt.Errorf("user %q already decided step %q (%s at %s)",
				user.Username, step.Name, d.Decision, d.Time.UTC().Format(time.RFC3339)))
		}
	}
	return i, nil
}

func isApprover(approvers []sluice.Approver, user *sluice.UserInfo) bool {
	for _, a := range approvers {
		switch a.Kind {
		case sluice.ApproverUser:
			if a.Name == user.Username {
				return true
			}
		case sluice.ApproverGroup:
			if slices.Contains(user.Groups, a.Name) {
				return true
			}
		}
	}
	return false
}

func describeApprovers(approvers []sluice.Approver) string {
	parts := make([]string, len(approvers))
	for i, a := range approvers {
		parts[i] = fmt.Sprintf("%s %s", a.Kind, a.Name)
	}
	return strings.Join(parts, ", ")
}
