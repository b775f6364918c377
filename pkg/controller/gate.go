package controller

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// event is an Event to record once the status of the sync is written.
type event struct {
	eventType, reason, message string
}

// runGate moves the approval gate of step i on and reports whether it has
// passed. A gate runs no Pod: it waits, in phase WaitingForApproval, for
// the decisions that the server records in status.steps[i].approvals
// through pipelinejobs/approval.
//
// The decisions are taken in the order they were recorded, each user's
// first only, and only those recorded before the gate's deadline: how a
// gate ends does not depend on when the controller looks. A Reject before
// the required number of approvals fails the gate and the job with reason
// Rejected; the required number of distinct approvals passes it, at the
// time of the last one; the deadline passing first fails it with reason
// ApprovalTimeout. Until then the controller is woken at the deadline, and
// by the job's update when a decision is recorded.
func (r *reconciler) runGate(i int) bool {
	s := &r.job.Status
	gate, st := s.PipelineSpec.Steps[i].Approval, &s.Steps[i]
	required := max(gate.Required, 1)
	// While the gate waits, its message is the controller's account of the
	// approvals it has counted. It tells which decisions this sync sees
	// for the first time, so each gets one Event, also across restarts.
	accountedFor := 0
	if st.Phase == v1alpha1.StepWaitingForApproval {
		accountedFor = -1 // worked out below, from the message
	} else {
		st.Phase = v1alpha1.StepWaitingForApproval
		st.StartTime = r.metaNow()
		st.Reason, st.Message = "", ""
	}
	var deadline time.Time
	if gate.Timeout != nil {
		deadline = timeoutAt(*st.StartTime, gate.Timeout.Duration)
	}

	var approvers, decided []string
	var counted []v1alpha1.ApprovalDecision
	var outcome *v1alpha1.ApprovalDecision
	for k := range st.Approvals {
		d := &st.Approvals[k]
		if !deadline.IsZero() && !d.Time.Time.Before(deadline) {
			break // recorded after the gate timed out
		}
		if slices.Contains(decided, d.User.Username) || (d.Decision != v1alpha1.Approve && d.Decision != v1alpha1.Reject) {
			continue
		}
		decided = append(decided, d.User.Username)
		counted = append(counted, *d)
		if d.Decision == v1alpha1.Approve {
			approvers = append(approvers, d.User.Username)
		}
		if d.Decision == v1alpha1.Reject || len(approvers) >= int(required) {
			outcome = d
			break
		}
	}
	if accountedFor < 0 {
		accountedFor = accountedApprovals(st.Message, approvers, required)
	}
	for _, d := range counted[min(accountedFor, len(counted)):] {
		r.decisions = append(r.decisions, decisionEvent(st.Name, d, slices.Index(approvers, d.User.Username)+1, required))
	}

	waiting := waitingMessage(approvers, required)
	switch {
	case outcome != nil && outcome.Decision == v1alpha1.Reject:
		r.failGate(i, ReasonRejected, rejectedMessage(*outcome), outcome.Time)
		return false
	case outcome != nil:
		st.Phase = v1alpha1.StepSucceeded
		t := outcome.Time
		st.CompletionTime = &t
		st.Reason, st.Message = "", "approved by "+strings.Join(approvers, ", ")
		s.Message = ""
		return true
	case !deadline.IsZero() && !r.now.Before(deadline):
		r.failGate(i, ReasonApprovalTimeout, fmt.Sprintf("not approved within %s (%s)", gate.Timeout.Duration, waiting), *r.metaNow())
		return false
	}
	if !deadline.IsZero() {
		r.wake(deadline)
	}
	st.Message = waiting
	s.Message = fmt.Sprintf("waiting for approval of step %q: %s", st.Name, waiting)
	return false
}

// failGate fails gate i at time at, skips the later steps and fails the
// job, all with reason and msg.
func (r *reconciler) failGate(i int, reason, msg string, at metav1.Time) {
	st := &r.job.Status.Steps[i]
	st.Phase = v1alpha1.StepFailed
	st.Reason, st.Message = reason, msg
	st.CompletionTime = &at
	r.skipAfter(i)
	r.finish(v1alpha1.JobFailed, reason, msg)
}

// waitingMessage says what a gate has and still needs: "needs 2
// approvals", "approved by alice; needs 1 more approval". It names every
// approval counted, so no two counts share a message.
func waitingMessage(approvers []string, required int32) string {
	if len(approvers) == 0 {
		return "needs " + approvals(required)
	}
	return fmt.Sprintf("approved by %s; needs %d more %s", strings.Join(approvers, ", "), int(required)-len(approvers),
		plural(int(required)-len(approvers), "approval"))
}

// accountedApprovals is how many of approvers the gate message msg
// accounts for: the most n whose waitingMessage is msg, or 0.
func accountedApprovals(msg string, approvers []string, required int32) int {
	for n := len(approvers); n > 0; n-- {
		if waitingMessage(approvers[:n], required) == msg {
			return n
		}
	}
	return 0
}

func rejectedMessage(d v1alpha1.ApprovalDecision) string {
	msg := "rejected by " + d.User.Username
	if d.Message != "" {
		msg += ": " + d.Message
	}
	return msg
}

// decisionEvent is the Event of decision d at gate step: Approved, as the
// approved-th approval, or Rejected.
func decisionEvent(step string, d v1alpha1.ApprovalDecision, approved int, required int32) event {
	if d.Decision == v1alpha1.Reject {
		return event{corev1.EventTypeWarning, EventRejected, fmt.Sprintf("Step %q %s", step, rejectedMessage(d))}
	}
	msg := fmt.Sprintf("Step %q approved by %s (%d of %d)", step, d.User.Username, approved, required)
	if d.Message != "" {
		msg += ": " + d.Message
	}
	return event{corev1.EventTypeNormal, EventApproved, msg}
}

// approvalRequested is the message of the ApprovalRequested Event.
func approvalRequested(step string, gate *v1alpha1.ApprovalGate) string {
	return fmt.Sprintf("Step %q needs %s from %s", step, approvals(max(gate.Required, 1)), describeApprovers(gate.Approvers))
}

func approvals(n int32) string { return fmt.Sprintf("%d %s", n, plural(int(n), "approval")) }

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// describeApprovers lists approvers as "Group release-managers, User carol".
func describeApprovers(approvers []v1alpha1.Approver) string {
	parts := make([]string, len(approvers))
	for i, a := range approvers {
		parts[i] = fmt.Sprintf("%s %s", a.Kind, a.Name)
	}
	return strings.Join(parts, ", ")
}

// waitingGate is the index of the approval gate a WaitingForApproval
// notification is about: the step that waits, or, once it no longer does,
// the last gate that started; -1 when there is none.
func waitingGate(job *v1alpha1.PipelineJob) int {
	s := &job.Status
	if s.PipelineSpec == nil {
		return -1
	}
	last := -1
	for i := range s.Steps {
		if i >= len(s.PipelineSpec.Steps) || s.PipelineSpec.Steps[i].Approval == nil {
			continue
		}
		if s.Steps[i].Phase == v1alpha1.StepWaitingForApproval {
			return i
		}
		if s.Steps[i].StartTime != nil {
			last = i
		}
	}
	return last
}
