package install

import (
	"math/rand"
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	sluicefuzzer "github.com/sluice-dev/sluice/pkg/apis/sluice/fuzzer"
)

// TestRoundTripTypes fuzzes every internal type, converts it to v1alpha1 and
// back through JSON and protobuf (the storage encoding), and requires the
// result to equal the input.
func TestRoundTripTypes(t *testing.T) {
	roundtrip.RoundTripProtobufTestForAPIGroup(t, Install, sluicefuzzer.Funcs)
}

// TestRoundTripExternalTypes fuzzes the v1alpha1 types themselves and
// requires encoding and decoding, in JSON and protobuf, to preserve them.
func TestRoundTripExternalTypes(t *testing.T) {
	scheme := runtime.NewScheme()
	Install(scheme)
	codecs := serializer.NewCodecFactory(scheme)
	f := fuzzer.FuzzerFor(fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, sluicefuzzer.Funcs), rand.NewSource(rand.Int63()), codecs)
	roundtrip.RoundTripExternalTypes(t, scheme, codecs, f, nil)
}
