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
	)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}

// PipelineSelectableFields are the field selector keys Pipelines support.
var PipelineSelectableFields = []string{"metadata.name", "metadata.namespace"}

// PipelineJobSelectableFields are the field selector keys PipelineJobs
// support. Each is an indexed column in Sluice's storage.
var PipelineJobSelectableFields = []string{
	"metadata.name",
	"metadata.namespace",
	"spec.pipelineRef.name",
	"status.phase",
	"spec.trigger.type",
}

func addFieldLabelConversionFuncs(scheme *runtime.Scheme) error {
	for kind, fields := range map[string][]string{
		"Pipeline":    PipelineSelectableFields,
		"PipelineJob": PipelineJobSelectableFields,
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
