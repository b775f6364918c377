package sluicectl

import (
	"sort"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// KnownJobPhase says whether p is a phase a job can be in, which a field
// selector on status.phase may name.
func KnownJobPhase(p string) bool {
	switch v1alpha1.JobPhase(p) {
	case v1alpha1.JobPending, v1alpha1.JobRunning, v1alpha1.JobSucceeded, v1alpha1.JobFailed, v1alpha1.JobCancelled:
		return true
	}
	return false
}

// Environments are the environments of p: its default one and those its
// status names, in name order.
func Environments(p *v1alpha1.Pipeline) []string {
	seen := map[string]bool{}
	var names []string
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	add(p.Spec.Environment)
	for _, e := range p.Status.Environments {
		add(e.Name)
	}
	sort.Strings(names)
	return names
}

// JobFinished says whether the job has ended.
func JobFinished(job *v1alpha1.PipelineJob) bool {
	switch job.Status.Phase {
	case v1alpha1.JobSucceeded, v1alpha1.JobFailed, v1alpha1.JobCancelled:
		return true
	}
	return false
}
