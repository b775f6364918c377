package v1alpha1_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/install"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// TestFieldOrderMatchesInternal: every struct of v1alpha1 has the fields of
// its internal twin, in the same order. conversion-gen converts a struct
// whose fields have the same types, in order, with an unsafe.Pointer cast,
// without comparing names, so two fields of one type in another order
// would swap their values on the way into the registry, and back on the
// way out, where a round trip cannot see it.
func TestFieldOrderMatchesInternal(t *testing.T) {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	seen := map[reflect.Type]bool{}
	var walk func(ext, in reflect.Type)
	walk = func(ext, in reflect.Type) {
		for ext.Kind() == reflect.Pointer || ext.Kind() == reflect.Slice {
			ext, in = ext.Elem(), in.Elem()
		}
		if ext.Kind() != reflect.Struct || seen[ext] || ext.PkgPath() != reflect.TypeOf(v1alpha1.Pipeline{}).PkgPath() {
			return
		}
		seen[ext] = true
		var extFields, inFields []string
		for i := range ext.NumField() {
			extFields = append(extFields, ext.Field(i).Name)
		}
		for i := range in.NumField() {
			inFields = append(inFields, in.Field(i).Name)
		}
		if !assert.Equal(t, extFields, inFields, "the fields of %s", ext.Name()) {
			return
		}
		for i := range ext.NumField() {
			walk(ext.Field(i).Type, in.Field(i).Type)
		}
	}
	for kind, ext := range scheme.KnownTypes(v1alpha1.SchemeGroupVersion) {
		in, ok := scheme.KnownTypes(sluice.SchemeGroupVersion)[kind]
		if !ok {
			continue // metav1's kinds
		}
		walk(ext, in)
	}
	assert.Contains(t, seen, reflect.TypeOf(v1alpha1.JobTrigger{}))
}
