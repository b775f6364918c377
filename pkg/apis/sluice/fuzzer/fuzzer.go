package fuzzer

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/randfill"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
)

// Funcs returns the fuzzer functions for the sluice.dev group.
var Funcs = func(codecs runtimeserializer.CodecFactory) []interface{} {
	return []interface{}{
		func(s *sluice.PipelineSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			policies := []sluice.ConcurrencyPolicy{sluice.AllowConcurrent, sluice.ForbidConcurrent, sluice.ReplaceConcurrent}
			s.ConcurrencyPolicy = policies[c.Intn(len(policies))]
			retentions := []sluice.PodRetention{sluice.PodRetentionOnStepCompletion, sluice.PodRetentionOnJobCompletion, sluice.PodRetentionNever}
			s.PodRetention = retentions[c.Intn(len(retentions))]
		},
		func(n *sluice.Notification, c randfill.Continue) {
			c.FillNoCustom(n)
			if len(n.Events) == 0 {
				n.Events = []sluice.NotifyEvent{sluice.NotifyFailed}
			}
		},
		func(s *sluice.ScheduleSource, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.CatchUp == nil {
				s.CatchUp = ptr.To[int32](1)
			}
		},
		func(s *sluice.PipelineJobSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.Trigger.Type == "" {
				s.Trigger.Type = sluice.TriggerManual
			}
		},
		func(s *sluice.PipelineJobStatus, c randfill.Continue) {
			c.FillNoCustom(s)
			phases := []sluice.JobPhase{sluice.JobPending, sluice.JobRunning, sluice.JobSucceeded, sluice.JobFailed, sluice.JobCancelled}
			s.Phase = phases[c.Intn(len(phases))]
		},
		// v1alpha1 defaults what core/v1 marks +default (the only one in
		// our types: a file key's optional), so a fuzzed object has it set.
		func(s *corev1.FileKeySelector, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.Optional == nil {
				s.Optional = ptr.To(false)
			}
		},
		// Quantities only round-trip through their canonical form.
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewQuantity(c.Int63n(1<<40), resource.DecimalSI)
		},
	}
}
