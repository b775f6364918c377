package dashboard

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

// timelineView is the part of the job page that live updates redraw: the
// job's phase, its steps and actions, its gate and the actions a user
// may take on it now.
type timelineView struct {
	Job       *v1alpha1.PipelineJob
	Namespace string
	Phase     v1alpha1.JobPhase
	Finished  bool
	Steps     []stepView
}

type stepView struct {
	Name     string
	Phase    v1alpha1.StepPhase
	Reason   string
	Message  string
	Attempt  string // "2/3": the latest attempt of all it may have
	Status   *v1alpha1.StepStatus
	Actions  []actionView
	Gate     *gateView
	Duration string
}

type actionView struct {
	Name     string
	ExitCode string
	Reason   string
	Duration string
}

type gateView struct {
	Approvers string
	Required  int32
	AllowSelf bool
	Timeout   string
	Decisions []v1alpha1.ApprovalDecision
	Approvals int32
	Waiting   bool
}

// timeline renders the job's timeline fragment.
func (s *Server) timeline(job *v1alpha1.PipelineJob, ns string) (template.HTML, error) {
	var b bytes.Buffer
	if err := s.pages["job"].ExecuteTemplate(&b, "timeline", newTimelineView(job, ns)); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil //nolint:gosec // rendered by html/template
}

func newTimelineView(job *v1alpha1.PipelineJob, ns string) timelineView {
	v := timelineView{Job: job, Namespace: ns, Phase: sluicectl.JobPhase(job), Finished: sluicectl.JobFinished(job)}
	status := map[string]*v1alpha1.StepStatus{}
	for i := range job.Status.Steps {
		status[job.Status.Steps[i].Name] = &job.Status.Steps[i]
	}
	var steps []v1alpha1.Step
	if job.Status.PipelineSpec != nil {
		steps = job.Status.PipelineSpec.Steps
	} else if job.Spec.PipelineSpec != nil {
		steps = job.Spec.PipelineSpec.Steps
	}
	for _, step := range steps {
		st := status[step.Name]
		sv := stepView{Name: step.Name, Phase: v1alpha1.StepPending, Status: st, Duration: "-"}
		if st != nil {
			if st.Phase != "" {
				sv.Phase = st.Phase
			}
			sv.Reason, sv.Message = st.Reason, st.Message
			sv.Duration = formatDuration(st.StartTime, st.CompletionTime)
			if st.Attempts > 0 {
				sv.Attempt = fmt.Sprintf("%d/%d", st.Attempts, step.Retries+1)
			}
		}
		actions := map[string]v1alpha1.ActionStatus{}
		if st != nil {
			for _, a := range st.Actions {
				actions[a.Name] = a
			}
		}
		for _, a := range step.Actions {
			av := actionView{Name: a.Name, ExitCode: "-", Duration: "-"}
			if as, ok := actions[a.Name]; ok {
				if as.ExitCode != nil {
					av.ExitCode = fmt.Sprint(*as.ExitCode)
				}
				av.Reason = as.Reason
				av.Duration = formatDuration(as.StartTime, as.CompletionTime)
			}
			sv.Actions = append(sv.Actions, av)
		}
		if g := step.Approval; g != nil {
			gv := &gateView{Required: max(g.Required, 1), AllowSelf: g.AllowSelfApproval, Waiting: sv.Phase == v1alpha1.StepWaitingForApproval}
			var approvers []string
			for _, a := range g.Approvers {
				approvers = append(approvers, string(a.Kind)+" "+a.Name)
			}
			gv.Approvers = strings.Join(approvers, ", ")
			if g.Timeout != nil {
				gv.Timeout = g.Timeout.Duration.String()
			}
			if st != nil {
				gv.Decisions = st.Approvals
				for _, d := range st.Approvals {
					if d.Decision == v1alpha1.Approve {
						gv.Approvals++
					}
				}
			}
			sv.Gate = gv
		}
		v.Steps = append(v.Steps, sv)
	}
	return v
}

// errCapped ends the reading of an output longer than a page shows.
var errCapped = errors.New("the output is longer than the page shows")

// cappedWriter writes at most n bytes, then errCapped.
type cappedWriter struct {
	w io.Writer
	n int
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	if len(p) <= c.n {
		n, err := c.w.Write(p)
		c.n -= n
		return n, err
	}
	n, err := c.w.Write(p[:c.n])
	c.n -= n
	if err == nil {
		err = errCapped
	}
	return n, err
}
