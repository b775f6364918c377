package v1alpha1

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group served by Sluice.
const GroupName = "sluice.dev"

// SchemeGroupVersion is the group and version of this package's types.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Resource takes an unqualified resource and returns a group-qualified GroupResource.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

var (
	// SchemeBuilder registers the v1alpha1 types, defaults and field labels.
	SchemeBuilder      runtime.SchemeBuilder
	localSchemeBuilder = &SchemeBuilder
	// AddToScheme adds the v1alpha1 types to a scheme.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	// The generated conversion functions register themselves on
	// localSchemeBuilder in zz_generated.conversion.go.
	localSchemeBuilder.Register(addKnownTypes, addDefaultingFuncs, addFieldLabelConversionFuncs)
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&Pipeline{},
		&PipelineList{},
		&PipelineJob{},
		&PipelineJobList{},
		&RunRequest{},
		&CancelRequest{},
		&RerunRequest{},
		&RollbackRequest{},
		&ApprovalRequest{},
		&PipelineJobLogOptions{},
		&Trigger{},
		&TriggerList{},
	)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}

// PipelineSelectableFields are the field selector keys Pipelines support.
// Neither needs an index: the storage key is namespace/name, and the generic
// registry turns metadata.namespace=N into a key range and, within it,
// metadata.name=X into a read of one key.
var PipelineSelectableFields = []string{"metadata.name", "metadata.namespace"}

// TriggerSelectableFields are the field selector keys Triggers support,
// narrowed by the key as Pipelines' are. Which pipeline a trigger feeds is
// its sluice.dev/pipeline label.
var TriggerSelectableFields = []string{"metadata.name", "metadata.namespace"}

// PipelineJobSelectableFields are the field selector keys PipelineJobs
// support. Sluice's storage pushes every one into its SQL
// (pkg/apiserver.IndexedFields). spec.pipelineRef.name, status.phase,
// spec.trigger.type and spec.environment have B-tree indexes of their own
// (pkg/storage/postgres/migrations/0002_job_field_indexes.sql and
// 0004_job_environment_index.sql); the metadata ones are narrowed by the
// key, as for Pipelines.
var PipelineJobSelectableFields = []string{
	"metadata.name",
	"metadata.namespace",
	"spec.pipelineRef.name",
	"status.phase",
	"spec.trigger.type",
	"spec.environment",
}

func addFieldLabelConversionFuncs(scheme *runtime.Scheme) error {
	for kind, fields := range map[string][]string{
		"Pipeline":    PipelineSelectableFields,
		"PipelineJob": PipelineJobSelectableFields,
		"Trigger":     TriggerSelectableFields,
	} {
		allowed := make(map[string]bool, len(fields))
		for _, f := range fields {
			allowed[f] = true
		}
		err := scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind(kind),
			func(label, value string) (string, string, error) {
				if !allowed[label] {
					return "", "", fmt.Errorf("field label not supported: %s", label)
				}
				return label, value, nil
			})
		if err != nil {
			return err
		}
	}
	return nil
}
