package apiserver

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/install"
	"github.com/sluice-dev/sluice/pkg/storage/postgres"
)

var (
	// Scheme holds the sluice.dev types and the meta types the server serves.
	Scheme = runtime.NewScheme()
	// Codecs serialise the Scheme's types.
	Codecs = serializer.NewCodecFactory(Scheme)
	// StorageSerializer encodes and decodes the stored values: JSON, as
	// Codecs write it, decoded with one parse instead of two
	// (postgres.NewStorageSerializer).
	StorageSerializer = postgres.NewStorageSerializer(Codecs, Scheme)
)

func init() {
	install.Install(Scheme)
	// Options and status types every apiserver needs, in v1.
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	Scheme.AddUnversionedTypes(unversioned,
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
}

// Serializer is what the server negotiates with clients: Codecs without
// protobuf. Sluice's types have no protobuf encoding (no generated.pb.go),
// so the server must not offer it, as apiextensions does not for custom
// resources; clients that prefer protobuf, such as the namespace
// controller, then fall back to JSON.
var Serializer runtime.NegotiatedSerializer = withoutProtobuf{Codecs}

type withoutProtobuf struct{ runtime.NegotiatedSerializer }

func (s withoutProtobuf) SupportedMediaTypes() []runtime.SerializerInfo {
	var out []runtime.SerializerInfo
	for _, info := range s.NegotiatedSerializer.SupportedMediaTypes() {
		if info.MediaType != runtime.ContentTypeProtobuf {
			out = append(out, info)
		}
	}
	return out
}
