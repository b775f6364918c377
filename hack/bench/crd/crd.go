package crd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/generated/openapi"
)

// Group is the API group of the full-schema baseline.
const Group = "crd.sluice.dev"

// MinimalGroup is the API group of the minimal-schema baseline.
const MinimalGroup = "crdmin.sluice.dev"

const refPrefix = "#/definitions/"

// CRDs returns the Pipeline and PipelineJob CRDs in group, served as v1alpha1
// with a status subresource, the printer columns a CRD can express and the
// same selectable fields as sluice-apiserver.
func CRDs(group string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	defs := openapi.GetOpenAPIDefinitions(func(name string) spec.Ref { return spec.MustCreateRef(refPrefix + name) })
	c := converter{defs: defs}
	pipeline, err := c.root(v1alpha1.Pipeline{}.OpenAPIModelName())
	if err != nil {
		return nil, err
	}
	job, err := c.root(v1alpha1.PipelineJob{}.OpenAPIModelName())
	if err != nil {
		return nil, err
	}
	return []*apiextensionsv1.CustomResourceDefinition{
		newCRD(group, "Pipeline", "pipelines", "pl", pipeline, nil, pipelineColumns),
		newCRD(group, "PipelineJob", "pipelinejobs", "pj", job,
			[]apiextensionsv1.SelectableField{{JSONPath: ".spec.pipelineRef.name"}, {JSONPath: ".status.phase"}, {JSONPath: ".spec.trigger.type"}},
			jobColumns),
	}, nil
}

// MinimalCRDs returns Pipeline and PipelineJob CRDs in group with the schema
// Tekton and Argo Workflows ship theirs with: an object whose fields are
// all kept unchecked (x-kubernetes-preserve-unknown-fields). kube-apiserver
// then neither validates nor prunes them, which makes their writes cheaper
// than the full schema's. The printer columns are the same; there are no
// selectable fields, since a field must be in the schema to be selectable.
func MinimalCRDs(group string) []*apiextensionsv1.CustomResourceDefinition {
	schema := func() *apiextensionsv1.JSONSchemaProps {
		return &apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: ptr.To(true)}
	}
	return []*apiextensionsv1.CustomResourceDefinition{
		newCRD(group, "Pipeline", "pipelines", "pl", schema(), nil, pipelineColumns),
		newCRD(group, "PipelineJob", "pipelinejobs", "pj", schema(), nil, jobColumns),
	}
}

var (
	age             = apiextensionsv1.CustomResourceColumnDefinition{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"}
	pipelineColumns = []apiextensionsv1.CustomResourceColumnDefinition{
		{Name: "Last-Job", Type: "string", JSONPath: ".status.lastJob.name"},
		{Name: "Last-Phase", Type: "string", JSONPath: ".status.lastJob.phase"},
		age,
	}
	jobColumns = []apiextensionsv1.CustomResourceColumnDefinition{
		{Name: "Pipeline", Type: "string", JSONPath: ".spec.pipelineRef.name"},
		{Name: "Phase", Type: "string", JSONPath: ".status.phase"},
		{Name: "Started-By", Type: "string", JSONPath: ".spec.startedBy.username"},
		age,
		{Name: "Trigger", Type: "string", JSONPath: ".spec.trigger.type", Priority: 1},
		{Name: "Message", Type: "string", JSONPath: ".status.message", Priority: 1},
	}
)

func newCRD(group, kind, plural, short string, schema *apiextensionsv1.JSONSchemaProps,
	selectable []apiextensionsv1.SelectableField, columns []apiextensionsv1.CustomResourceColumnDefinition) *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiextensionsv1.SchemeGroupVersion.String(), Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Kind: kind, ListKind: kind + "List", Plural: plural, Singular: strings.ToLower(kind),
				ShortNames: []string{short}, Categories: []string{"sluice-crd"},
			},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: v1alpha1.SchemeGroupVersion.Version, Served: true, Storage: true,
				Schema:                   &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: schema},
				Subresources:             &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				SelectableFields:         selectable,
				AdditionalPrinterColumns: columns,
			}},
		},
	}
}

type converter struct {
	defs map[string]common.OpenAPIDefinition
}

// root converts a kind's definition. Its metadata is left to the server
// (a CRD schema may only say that it is an object).
func (c converter) root(name string) (*apiextensionsv1.JSONSchemaProps, error) {
	s, err := c.definition(name, nil)
	if err != nil {
		return nil, err
	}
	s.Properties["metadata"] = apiextensionsv1.JSONSchemaProps{Type: "object"}
	return s, nil
}

// definition converts the named definition, following references; seen
// guards against recursive types, which a structural schema cannot express.
func (c converter) definition(name string, seen []string) (*apiextensionsv1.JSONSchemaProps, error) {
	for _, s := range seen {
		if s == name {
			return nil, fmt.Errorf("recursive type %s (via %s)", name, strings.Join(seen, " → "))
		}
	}
	switch name {
	case resource.Quantity{}.OpenAPIModelName(), intstr.IntOrString{}.OpenAPIModelName():
		return &apiextensionsv1.JSONSchemaProps{
			XIntOrString: true,
			AnyOf:        []apiextensionsv1.JSONSchemaProps{{Type: "integer"}, {Type: "string"}},
		}, nil
	}
	def, ok := c.defs[name]
	if !ok {
		return nil, fmt.Errorf("no OpenAPI definition %s", name)
	}
	out, err := c.schema(def.Schema, append(seen, name))
	if err != nil {
		return nil, err
	}
	// Descriptions of Sluice's own types only: the core types' would make
	// the CRDs large without changing what is measured.
	if !strings.HasPrefix(name, "com.github.sluice-dev.") {
		clearDescriptions(out)
	}
	return out, nil
}

func (c converter) schema(s spec.Schema, seen []string) (*apiextensionsv1.JSONSchemaProps, error) {
	if ref := s.Ref.String(); ref != "" {
		return c.definition(strings.TrimPrefix(ref, refPrefix), seen)
	}
	if len(s.AllOf) == 1 && len(s.Properties) == 0 && s.Type == nil {
		// openapi-gen wraps a reference that has a default in allOf.
		inner, err := c.schema(s.AllOf[0], seen)
		if err != nil {
			return nil, err
		}
		if s.Description != "" {
			inner.Description = s.Description
		}
		return inner, nil
	}
	out := &apiextensionsv1.JSONSchemaProps{
		Description: s.Description,
		Format:      s.Format,
		Required:    s.Required,
		Pattern:     s.Pattern,
		MaxLength:   s.MaxLength,
		MinLength:   s.MinLength,
		MaxItems:    s.MaxItems,
		MinItems:    s.MinItems,
		Maximum:     s.Maximum,
		Minimum:     s.Minimum,
	}
	if len(s.Type) > 0 {
		out.Type = s.Type[0]
	}
	if s.Default != nil {
		d, err := jsonValue(s.Default)
		if err != nil {
			return nil, err
		}
		out.Default = &d
	}
	for _, e := range s.Enum {
		b, err := jsonValue(e)
		if err != nil {
			return nil, err
		}
		out.Enum = append(out.Enum, b)
	}
	if out.Default != nil && len(out.Enum) > 0 && !slices.ContainsFunc(out.Enum, func(e apiextensionsv1.JSON) bool {
		return bytes.Equal(e.Raw, out.Default.Raw)
	}) {
		// openapi-gen gives enums their Go zero value as default, which
		// a CRD rejects; Go's defaulting never relied on it.
		out.Default = nil
	}
	if len(s.Properties) > 0 {
		out.Type = "object"
		out.Properties = map[string]apiextensionsv1.JSONSchemaProps{}
		for name, p := range s.Properties {
			ps, err := c.schema(p, seen)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out.Properties[name] = *ps
		}
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		ps, err := c.schema(*s.AdditionalProperties.Schema, seen)
		if err != nil {
			return nil, err
		}
		out.Type = "object"
		out.AdditionalProperties = &apiextensionsv1.JSONSchemaPropsOrBool{Allows: true, Schema: ps}
	}
	if s.Items != nil && s.Items.Schema != nil {
		is, err := c.schema(*s.Items.Schema, seen)
		if err != nil {
			return nil, err
		}
		out.Type = "array"
		out.Items = &apiextensionsv1.JSONSchemaPropsOrArray{Schema: is}
	}
	if v, ok := s.Extensions.GetString("x-kubernetes-list-type"); ok {
		out.XListType = ptr.To(v)
	}
	if v, ok := s.Extensions["x-kubernetes-list-map-keys"]; ok {
		keys, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("x-kubernetes-list-map-keys: %v", v)
		}
		for _, k := range keys {
			out.XListMapKeys = append(out.XListMapKeys, fmt.Sprint(k))
		}
	}
	if v, ok := s.Extensions.GetString("x-kubernetes-map-type"); ok {
		out.XMapType = ptr.To(v)
	}
	if out.Type == "" && out.Properties == nil {
		// A free-form value (none in today's types): keep whatever is sent.
		out.XPreserveUnknownFields = ptr.To(true)
	}
	return out, nil
}

func clearDescriptions(s *apiextensionsv1.JSONSchemaProps) {
	s.Description = ""
	for k, p := range s.Properties {
		clearDescriptions(&p)
		s.Properties[k] = p
	}
	if s.Items != nil && s.Items.Schema != nil {
		clearDescriptions(s.Items.Schema)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		clearDescriptions(s.AdditionalProperties.Schema)
	}
}

func jsonValue(v any) (apiextensionsv1.JSON, error) {
	b, err := json.Marshal(v)
	return apiextensionsv1.JSON{Raw: b}, err
}
