package testutil

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// Pipeline is a pipeline of steps, with nothing else set.
func Pipeline(name string, steps ...v1alpha1.Step) *v1alpha1.Pipeline {
	return &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.PipelineSpec{Steps: steps}}
}

// Job is a job of the pipeline named pipeline, with params.
func Job(name, pipeline string, params ...v1alpha1.Param) *v1alpha1.PipelineJob {
	return &v1alpha1.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.PipelineJobSpec{
			PipelineRef: &v1alpha1.PipelineReference{Name: pipeline},
			Params:      params,
		},
	}
}

// StepPhases summarises a job's steps as "name=Phase ..." in order, for
// assertions and failure messages.
func StepPhases(j *v1alpha1.PipelineJob) string {
	out := make([]string, 0, len(j.Status.Steps))
	for _, s := range j.Status.Steps {
		out = append(out, s.Name+"="+string(s.Phase))
	}
	return strings.Join(out, " ")
}
