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
	// StorageSerializer encodes and decodes the stored values: Codecs, with
	// JSON, the encoding of values stored before StorageMediaType, decoded
	// with one parse instead of two (postgres.NewStorageSerializer).
	StorageSerializer = postgres.NewStorageSerializer(Codecs, Scheme)
)

// StorageMediaType is the encoding of stored values: protobuf, generated
// for the v1alpha1 types by hack/update-codegen.sh. Decoding stored objects
// is most of the cost of a list, and protobuf decodes a job about four
// times faster than JSON; docs/storage.md has the numbers and the other
// encodings measured. Values stored as JSON before still read.
const StorageMediaType = runtime.ContentTypeProtobuf

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

// Serializer is what the server negotiates with clients: JSON, YAML and
// protobuf (zz_generated.pb.go), the media types kube-apiserver serves its
// own types in. A custom resource cannot offer protobuf; an aggregated
// server can, and the clients that prefer it decode and encode less:
// sluice-controller and its informers (a fifth less controller CPU per
// job, docs/benchmarks.md), and kube-controller-manager's garbage
// collector, quota and namespace controllers, which read every resource's
// metadata in protobuf.
var Serializer runtime.NegotiatedSerializer = Codecs

// NewRESTOptionsGetter returns the storage of Sluice's resources on backend
// as sluice-apiserver stores them: the encoding, the versions and the
// indexed fields. The server adds its watch-cache setting and object count
// tracker; anything else that writes through the storage engine (the
// benchmark's bulk load) stores exactly what the server would.
func NewRESTOptionsGetter(backend *postgres.Backend) *postgres.RESTOptionsGetter {
	return &postgres.RESTOptionsGetter{
		Backend:          backend,
		Serializer:       StorageSerializer,
		StorageMediaType: StorageMediaType,
		StorageVersion:   StorageVersion,
		MemoryVersion:    MemoryVersion,
		IndexedFields:    IndexedFields,
	}
}
