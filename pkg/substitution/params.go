package substitution

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Declared is a param as a pipeline declares it.
type Declared struct {
	Name    string
	Default *string // nil: the param is required
}

// Given is a value a job gives a param.
type Given struct {
	Name  string
	Value string
}

// ResolveParams is the one rule for a job's params: every value the job
// gives names a param its pipeline declares, and every declared param
// without a default is given. It returns the value of every declared
// param, the given one or else the default, keyed as references name it
// ("params.NAME"), or every violation as an error at its field under
// fldPath, the job's spec.params.
//
// The apiserver applies it on create to a job with an inline pipeline, and
// the controller at start to a job with a pipelineRef; both report the
// same errors.
func ResolveParams(declared []Declared, given []Given, fldPath *field.Path) (map[string]string, field.ErrorList) {
	var allErrs field.ErrorList
	isDeclared := make(map[string]bool, len(declared))
	names := make([]string, 0, len(declared))
	for _, d := range declared {
		isDeclared[d.Name] = true
		names = append(names, d.Name)
	}
	values := make(map[string]string, len(declared))
	for i, g := range given {
		if !isDeclared[g.Name] {
			allErrs = append(allErrs, field.NotSupported(fldPath.Index(i).Child("name"), g.Name, names))
			continue
		}
		values[ParamsPrefix+g.Name] = g.Value
	}
	for _, d := range declared {
		if _, ok := values[ParamsPrefix+d.Name]; ok {
			continue
		}
		if d.Default == nil {
			allErrs = append(allErrs, field.Required(fldPath, fmt.Sprintf("param %q has no default and must be set", d.Name)))
			continue
		}
		values[ParamsPrefix+d.Name] = *d.Default
	}
	if len(allErrs) > 0 {
		return nil, allErrs
	}
	return values, nil
}
