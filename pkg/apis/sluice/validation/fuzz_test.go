package validation

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/install"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// FuzzValidate decodes any JSON as the server does (v1alpha1, defaulted,
// converted to the internal version) and validates it as created: nothing
// panics, and every error names a field and is the client's fault (no
// Internal error, which would be a 500). Seeds are the examples of
// artifacts/examples.
func FuzzValidate(f *testing.F) {
	files, _ := filepath.Glob("../../../../artifacts/examples/*.yaml")
	if len(files) == 0 {
		f.Fatal("no examples found in artifacts/examples")
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, doc := range bytes.Split(b, []byte("\n---")) {
			if j, err := yaml.YAMLToJSON(doc); err == nil && len(j) > 4 {
				f.Add(j)
			}
		}
	}
	f.Add([]byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"Trigger","metadata":{"name":"t"},"spec":{"pipelineRef":{"name":"p"},"schedule":{"cron":"@every 0s","timeZone":"Mars/Olympus"},"image":{"repository":"A/B:1","policy":{"semver":">=x"}}}}`))
	f.Add([]byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"PipelineJob","metadata":{"generateName":"j-"},"spec":{"pipeline":{"steps":[{"name":"s","approval":{"required":-1}}]}}}`))

	scheme := runtime.NewScheme()
	install.Install(scheme)
	decoder := serializer.NewCodecFactory(scheme).UniversalDecoder(sluice.SchemeGroupVersion)
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, _, err := decoder.Decode(data, nil, nil)
		if err != nil {
			return // a decoding error is a 400 before validation
		}
		var errs field.ErrorList
		switch o := obj.(type) {
		case *sluice.Pipeline:
			errs = ValidatePipeline(o)
		case *sluice.PipelineJob:
			errs = ValidatePipelineJob(o)
		case *sluice.Trigger:
			errs = ValidateTrigger(o)
		case *sluice.RunRequest:
			errs = ValidateRunRequest(o)
		case *sluice.RollbackRequest:
			errs = ValidateRollbackRequest(o)
		case *sluice.ApprovalRequest:
			errs = ValidateApprovalRequest(o)
		case *sluice.CancelRequest:
			errs = ValidateCancelRequest(o)
		default:
			return
		}
		for _, e := range errs {
			if e.Type == field.ErrorTypeInternal {
				t.Fatalf("an internal error for %s: %v", data, e)
			}
			if e.Field == "" {
				t.Fatalf("an error without a field for %s: %v", data, e)
			}
		}
	})
}

// FuzzLogOptions decodes any query string into pipelinejobs/log's options,
// as the server does, and validates them: nothing panics, and a bad value
// is an error of the client that names its field.
func FuzzLogOptions(f *testing.F) {
	for _, q := range []string{"", "follow=true&step=build&action=unit", "tailLines=-1", "sinceSeconds=0&limitBytes=1",
		"attempt=99999999999999999999", "timestamps=maybe", "action=a", "step=%ZZ"} {
		f.Add(q)
	}
	scheme := runtime.NewScheme()
	install.Install(scheme)
	codec := runtime.NewParameterCodec(scheme)
	f.Fuzz(func(t *testing.T, query string) {
		values, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		var opts sluice.PipelineJobLogOptions
		if err := codec.DecodeParameters(values, v1alpha1.SchemeGroupVersion, &opts); err != nil {
			return // a 400
		}
		for _, e := range append(ValidatePipelineJobLogOptions(&opts), ValidateLogArchiveOptions(&opts)...) {
			if e.Type == field.ErrorTypeInternal || e.Field == "" {
				t.Fatalf("%q: %v", query, e)
			}
		}
	})
}
