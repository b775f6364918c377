package install

import (
	"bytes"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// FuzzProtobufBody decodes arbitrary bytes as a protobuf request body, as
// sluice-apiserver does for a client that sends
// application/vnd.kubernetes.protobuf: whatever a client sends must come
// back as an error, never a panic (which the server would answer with a
// 500), and what decodes must encode again.
func FuzzProtobufBody(f *testing.F) {
	scheme := runtime.NewScheme()
	Install(scheme)
	codecs := serializer.NewCodecFactory(scheme)
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		f.Fatal("no protobuf serializer")
	}
	encoder := codecs.EncoderForVersion(info.Serializer, v1alpha1.SchemeGroupVersion)
	decoder := codecs.UniversalDecoder(v1alpha1.SchemeGroupVersion)
	for _, obj := range []runtime.Object{
		&v1alpha1.Pipeline{Spec: v1alpha1.PipelineSpec{Steps: []v1alpha1.Step{{Name: "build", Actions: []v1alpha1.Action{{Name: "compile", Image: "golang", Command: []string{"go", "build"}}}}}}},
		&v1alpha1.PipelineJob{Spec: v1alpha1.PipelineJobSpec{PipelineRef: &v1alpha1.PipelineReference{Name: "p"}, Params: []v1alpha1.Param{{Name: "a", Value: "b"}}}},
		&v1alpha1.RunRequest{Environment: "staging"},
		&v1alpha1.ApprovalRequest{Decision: v1alpha1.Approve},
		&v1alpha1.Trigger{},
	} {
		var buf bytes.Buffer
		if err := encoder.Encode(obj, &buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte("k8s\x00\x0a"))
	f.Add([]byte("k8s\x00\x0a\x02\x0a\x00\x12\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, _, err := decoder.Decode(body, nil, nil)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := encoder.Encode(obj, &out); err != nil {
			t.Fatalf("%T decoded from %q does not encode: %v", obj, body, err)
		}
	})
}
