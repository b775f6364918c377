package validation

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
)

func TestValidatePipelineJobLogOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts sluice.PipelineJobLogOptions
		want []string
	}{
		{"everything", sluice.PipelineJobLogOptions{}, nil},
		{"one action of one attempt, followed", sluice.PipelineJobLogOptions{Step: "build", Action: "compile", Attempt: 2, Follow: true,
			TailLines: ptr.To[int64](0), SinceSeconds: ptr.To[int64](60), Timestamps: true, LimitBytes: ptr.To[int64](1)}, nil},
		{"an action without its step", sluice.PipelineJobLogOptions{Action: "compile"}, []string{"step: " + required}},
		{"an attempt without its step", sluice.PipelineJobLogOptions{Attempt: 1}, []string{"step: " + required}},
		{"a negative attempt", sluice.PipelineJobLogOptions{Step: "build", Attempt: -1}, []string{"attempt: " + invalid}},
		{"a step that cannot exist", sluice.PipelineJobLogOptions{Step: "Build"}, []string{"step: " + invalid}},
		{"an action that cannot exist", sluice.PipelineJobLogOptions{Step: "build", Action: "a_b"}, []string{"action: " + invalid}},
		{"negative tail", sluice.PipelineJobLogOptions{TailLines: ptr.To[int64](-1)}, []string{"tailLines: " + invalid}},
		{"since zero", sluice.PipelineJobLogOptions{SinceSeconds: ptr.To[int64](0)}, []string{"sinceSeconds: " + invalid}},
		{"limit zero", sluice.PipelineJobLogOptions{LimitBytes: ptr.To[int64](0)}, []string{"limitBytes: " + invalid}},
	} {
		got := ValidatePipelineJobLogOptions(&tc.opts)
		assert.Equal(t, tc.want, nilIfEmpty(errs(got)), "%s: %v", tc.name, got)
	}
}

func TestValidateLogArchiveOptions(t *testing.T) {
	assert.Empty(t, ValidateLogArchiveOptions(&sluice.PipelineJobLogOptions{Step: "build", Action: "compile", Attempt: 1}))
	assert.Equal(t, []string{"step: " + required, "action: " + required, "attempt: " + required},
		errs(ValidateLogArchiveOptions(&sluice.PipelineJobLogOptions{})))
	assert.Equal(t, []string{"follow: " + forbidden, "tailLines: " + forbidden, "sinceSeconds: " + forbidden, "timestamps: " + forbidden, "limitBytes: " + forbidden},
		errs(ValidateLogArchiveOptions(&sluice.PipelineJobLogOptions{Step: "build", Action: "compile", Attempt: 1, Follow: true,
			TailLines: ptr.To[int64](1), SinceSeconds: ptr.To[int64](1), Timestamps: true, LimitBytes: ptr.To[int64](1)})))
}
