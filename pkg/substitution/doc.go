// Package substitution finds and expands Sluice's $(...) references in the
// strings of a pipeline: $(params.NAME), $(job.name), $(job.namespace) and
// $(step.name).
//
// Only references in Sluice's namespaces (params., job., step.) are Sluice's.
// Any other $(VAR), and the escaped form $$(VAR), is left for the kubelet,
// which expands $(VAR) from the container's environment. That keeps
// Kubernetes' own dependent-variable syntax working inside actions.
//
// The validation package uses Unknown to reject a pipeline that refers to
// something that does not exist; the controller uses Expand when it builds a
// step's Pod, so an unknown reference never silently becomes "".
//
// ReferencesOf and ExpandOf do the same for other namespaces: Triggers use
// them for the $(image.*), $(schedule.*), $(webhook.*) and $(slack.*)
// references of their params (pkg/trigger/params), with the same syntax
// and escapes.
//
// ResolveParams is the rule for a job's param values against the params its
// pipeline declares. The validation package applies it on create to a job
// with an inline pipeline and the controller at start to a job with a
// pipelineRef, so both reject the same params with the same errors.
package substitution
