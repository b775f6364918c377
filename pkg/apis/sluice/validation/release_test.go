package validation

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
)

// gated makes step 1 of the pipeline an approval gate that two release
// managers or carol pass.
func gated(p *sluice.Pipeline) *sluice.Step {
	p.Spec.Steps[1] = sluice.Step{Name: "approve", Approval: &sluice.ApprovalGate{
		Approvers: []sluice.Approver{{Kind: sluice.ApproverGroup, Name: "release-managers"}, {Kind: sluice.ApproverUser, Name: "carol"}},
		Required:  2,
		Timeout:   &metav1.Duration{Duration: 24 * time.Hour},
	}}
	return &p.Spec.Steps[1]
}

func TestValidateApprovalGate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *sluice.Step)
		want   []string
	}{
		{"a gate", func(s *sluice.Step) {}, nil},
		{"self-approval allowed", func(s *sluice.Step) { s.Approval.AllowSelfApproval = true }, nil},
		{"gate with actions", func(s *sluice.Step) { s.Actions = []sluice.Action{action("x")} }, []string{"spec.steps[1].actions: " + forbidden}},
		{"gate with a step timeout", func(s *sluice.Step) { s.Timeout = &metav1.Duration{Duration: time.Hour} }, []string{"spec.steps[1].timeout: " + forbidden}},
		{"gate with retries", func(s *sluice.Step) { s.Retries = 1 }, []string{"spec.steps[1].retries: " + forbidden}},
		{"gate with a podTemplate", func(s *sluice.Step) { s.PodTemplate = &sluice.PodTemplate{} }, []string{"spec.steps[1].podTemplate: " + forbidden}},
		{"no approvers", func(s *sluice.Step) { s.Approval.Approvers = nil }, []string{"spec.steps[1].approval.approvers: " + required}},
		{"too many approvers", func(s *sluice.Step) {
			s.Approval.Approvers = nil
			for i := range MaxApprovers + 1 {
				s.Approval.Approvers = append(s.Approval.Approvers, sluice.Approver{Kind: sluice.ApproverGroup, Name: strings.Repeat("g", i+1)})
			}
		}, []string{"spec.steps[1].approval.approvers: " + tooMany}},
		{"unknown approver kind", func(s *sluice.Step) { s.Approval.Approvers[0].Kind = "ServiceAccount" }, []string{"spec.steps[1].approval.approvers[0].kind: " + notSupported}},
		{"approver without name", func(s *sluice.Step) { s.Approval.Approvers[1].Name = "" }, []string{"spec.steps[1].approval.approvers[1].name: " + required}},
		{"approver twice", func(s *sluice.Step) { s.Approval.Approvers[1] = s.Approval.Approvers[0] }, []string{"spec.steps[1].approval.approvers[1]: " + duplicate}},
		{"same name as user and group", func(s *sluice.Step) { s.Approval.Approvers[1].Name = "release-managers" }, nil},
		{"required zero", func(s *sluice.Step) { s.Approval.Required = 0 }, []string{"spec.steps[1].approval.required: " + invalid}},
		{"required too many", func(s *sluice.Step) { s.Approval.Required = MaxApprovers + 1 }, []string{"spec.steps[1].approval.required: " + invalid}},
		{"users only, enough of them", func(s *sluice.Step) {
			s.Approval.Approvers = []sluice.Approver{{Kind: sluice.ApproverUser, Name: "carol"}, {Kind: sluice.ApproverUser, Name: "dave"}}
		}, nil},
		{"users only, fewer than required", func(s *sluice.Step) {
			s.Approval.Approvers = []sluice.Approver{{Kind: sluice.ApproverUser, Name: "carol"}}
		}, []string{"spec.steps[1].approval.required: " + invalid}},
		{"gate timeout zero", func(s *sluice.Step) { s.Approval.Timeout = &metav1.Duration{} }, []string{"spec.steps[1].approval.timeout: " + invalid}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := validPipeline()
			c.mutate(gated(p))
			got := ValidatePipeline(p)
			assert.Equal(t, c.want, nilIfEmpty(errs(got)), "%v", got)
		})
	}

	// A step is either a Pod or a gate.
	p := validPipeline()
	p.Spec.Steps[1].Actions = nil
	assert.Equal(t, []string{"spec.steps[1].actions: " + required}, errs(ValidatePipeline(p)))
}

func TestValidateEnvironment(t *testing.T) {
	p := validPipeline()
	p.Spec.Environment = "production"
	assert.Empty(t, ValidatePipeline(p))
	p.Spec.Environment = "Production"
	assert.Equal(t, []string{"spec.environment: " + invalid}, errs(ValidatePipeline(p)))

	j := validJob()
	j.Spec.Environment = "staging"
	assert.Empty(t, ValidatePipelineJob(j))
	j.Spec.Environment = "staging.eu"
	assert.Equal(t, []string{"spec.environment: " + invalid}, errs(ValidatePipelineJob(j)))

	old := validJob()
	old.ResourceVersion = "1"
	j = old.DeepCopy()
	j.Spec.Environment = "production"
	assert.Equal(t, []string{"spec.environment: " + invalid}, errs(ValidatePipelineJobUpdate(j, old)), "the environment is immutable")
}

func TestValidateRerunJob(t *testing.T) {
	// A rerun carries its pipeline's name and the snapshot it runs; only
	// the server's rerun strategy accepts both.
	j := validJob()
	j.Spec.PipelineSpec = &validPipeline().Spec
	assert.Equal(t, []string{"spec.pipelineSpec: " + forbidden}, errs(ValidatePipelineJob(j)))
	assert.Empty(t, ValidateRerunJob(j))

	// The snapshot is validated, and the params checked against it.
	j.Spec.PipelineSpec.Steps[0].Actions[0].Image = ""
	j.Spec.Params = append(j.Spec.Params, sluice.Param{Name: "colour", Value: "blue"})
	assert.Equal(t, []string{"spec.pipelineSpec.steps[0].actions[0].image: " + required, "spec.params[2].name: " + notSupported},
		errs(ValidateRerunJob(j)))
}

func TestValidateRequests(t *testing.T) {
	long := strings.Repeat("x", MaxMessage+1)
	cases := []struct {
		name string
		got  []string
		want []string
	}{
		{"run", errs(ValidateRunRequest(&sluice.RunRequest{Params: []sluice.Param{{Name: "version", Value: "1"}}, Environment: "staging"})), nil},
		{"run, empty", errs(ValidateRunRequest(&sluice.RunRequest{})), nil},
		{"run, bad environment", errs(ValidateRunRequest(&sluice.RunRequest{Environment: "Staging"})), []string{"environment: " + invalid}},
		{"run, bad param name", errs(ValidateRunRequest(&sluice.RunRequest{Params: []sluice.Param{{Name: "a-b"}}})), []string{"params[0].name: " + invalid}},
		{"run, param twice", errs(ValidateRunRequest(&sluice.RunRequest{Params: []sluice.Param{{Name: "a"}, {Name: "a"}}})), []string{"params[1].name: " + duplicate}},
		{"run for a trigger", errs(ValidateRunRequest(&sluice.RunRequest{Name: "nightly-1764730800",
			Trigger: &sluice.JobTrigger{Type: sluice.TriggerSchedule, Name: "nightly", Detail: "schedule slot 2026-12-03T03:00:00Z"}})), nil},
		{"run, bad name", errs(ValidateRunRequest(&sluice.RunRequest{Name: "Nightly"})), []string{"name: " + invalid}},
		{"run, a trigger without a name", errs(ValidateRunRequest(&sluice.RunRequest{Trigger: &sluice.JobTrigger{Type: sluice.TriggerImage}})),
			[]string{"trigger.name: " + required}},
		{"run, a trigger fired by hand", errs(ValidateRunRequest(&sluice.RunRequest{Trigger: &sluice.JobTrigger{Type: sluice.TriggerManual, Name: "x"}})), nil},
		{"run, a trigger that is a rerun", errs(ValidateRunRequest(&sluice.RunRequest{Trigger: &sluice.JobTrigger{Type: sluice.TriggerRerun, Name: "x"}})),
			[]string{"trigger.type: " + notSupported}},
		{"run, a trigger's detail too long", errs(ValidateRunRequest(&sluice.RunRequest{Trigger: &sluice.JobTrigger{Type: sluice.TriggerSlack, Name: "x", Detail: strings.Repeat("x", MaxTriggerDetail+1)}})),
			[]string{"trigger.detail: " + tooLong}},
		{"cancel", errs(ValidateCancelRequest(&sluice.CancelRequest{Reason: "wrong branch"})), nil},
		{"cancel, reason too long", errs(ValidateCancelRequest(&sluice.CancelRequest{Reason: long})), []string{"reason: " + tooLong}},
		{"rollback", errs(ValidateRollbackRequest(&sluice.RollbackRequest{Environment: "production", ToJob: "release-x7k2p"})), nil},
		{"rollback, bad job name", errs(ValidateRollbackRequest(&sluice.RollbackRequest{ToJob: "Release"})), []string{"toJob: " + invalid}},
		{"rollback, bad environment", errs(ValidateRollbackRequest(&sluice.RollbackRequest{Environment: "-"})), []string{"environment: " + invalid}},
		{"approve", errs(ValidateApprovalRequest(&sluice.ApprovalRequest{Decision: sluice.Approve})), nil},
		{"reject", errs(ValidateApprovalRequest(&sluice.ApprovalRequest{Decision: sluice.Reject, Message: "freeze"})), nil},
		{"no decision", errs(ValidateApprovalRequest(&sluice.ApprovalRequest{})), []string{"decision: " + required}},
		{"unknown decision", errs(ValidateApprovalRequest(&sluice.ApprovalRequest{Decision: "Maybe"})), []string{"decision: " + notSupported}},
		{"message too long", errs(ValidateApprovalRequest(&sluice.ApprovalRequest{Decision: sluice.Approve, Message: long})), []string{"message: " + tooLong}},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, nilIfEmpty(c.got), c.name)
	}
}

func TestValidateEnvironmentsStatus(t *testing.T) {
	old := validPipeline()
	old.ResourceVersion = "1"
	p := old.DeepCopy()
	p.Status.Environments = []sluice.EnvironmentStatus{
		{Name: "production", Current: &sluice.Release{Job: "release-2"}, Previous: &sluice.Release{Job: "release-1"}},
		{Name: "production", Current: &sluice.Release{Job: "Bad"}},
	}
	assert.Equal(t, []string{"status.environments[1].name: " + duplicate, "status.environments[1].current.job: " + invalid},
		errs(ValidatePipelineStatusUpdate(p, old)))
}
