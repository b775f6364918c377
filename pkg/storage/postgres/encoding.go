package postgres

import (
	"bytes"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
)

// NewStorageSerializer returns codecs for the values the store keeps, for
// RESTOptionsGetter.Serializer. Values are JSON, as codecs encode them; only
// the decoding differs. The JSON serializer of codecs finds an object's
// kind and apiVersion by parsing the whole object (json.SimpleMetaFactory),
// and then parses it again to decode it: in a paginated list, that first
// parse was 24 of the 60% of sluice-apiserver's CPU spent decoding stored
// objects. The encoder writes kind and apiVersion as the first two keys
// (TypeMeta is the first, inlined, field of every API type), so this one
// reads them there and parses the object once. A value that does not
// start that way is interpreted as before. docs/storage.md has the numbers
// and the encodings measured against it.
func NewStorageSerializer(codecs serializer.CodecFactory, scheme *runtime.Scheme) runtime.StorageSerializer {
	return storageSerializer{
		CodecFactory: codecs,
		json:         json.NewSerializerWithOptions(leadingTypeMeta{}, scheme, scheme, json.SerializerOptions{}),
	}
}

type storageSerializer struct {
	serializer.CodecFactory
	json runtime.Serializer
}

// SupportedMediaTypes are those of the codec factory, with the JSON
// serializer that reads the leading keys. NewStorageCodec takes the
// serializer of the storage media type from them.
func (s storageSerializer) SupportedMediaTypes() []runtime.SerializerInfo {
	infos := append([]runtime.SerializerInfo(nil), s.CodecFactory.SupportedMediaTypes()...)
	for i := range infos {
		if infos[i].MediaType == runtime.ContentTypeJSON {
			infos[i].Serializer = s.json
		}
	}
	return infos
}

// leadingTypeMeta is a json.MetaFactory that reads kind and apiVersion
// from an object that starts with them, as `{"kind":"K","apiVersion":"V",`
// with no escapes in either string, and asks json.DefaultMetaFactory
// otherwise. The decode that follows parses the whole object, so invalid
// JSON after them is still refused. It does not look for a later duplicate
// of either key, which the default would take instead and the encoder
// never writes.
type leadingTypeMeta struct{}

var (
	leadingKind       = []byte(`{"kind":"`)
	leadingAPIVersion = []byte(`","apiVersion":"`)
)

func (leadingTypeMeta) Interpret(data []byte) (*schema.GroupVersionKind, error) {
	if gvk, ok := interpretLeadingKeys(data); ok {
		return gvk, nil
	}
	return json.DefaultMetaFactory.Interpret(data)
}

func interpretLeadingKeys(data []byte) (*schema.GroupVersionKind, bool) {
	rest, ok := bytes.CutPrefix(data, leadingKind)
	if !ok {
		return nil, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return nil, false
	}
	kind := rest[:end]
	if rest, ok = bytes.CutPrefix(rest[end:], leadingAPIVersion); !ok {
		return nil, false
	}
	end = bytes.IndexByte(rest, '"')
	if end < 0 || end+1 >= len(rest) || (rest[end+1] != ',' && rest[end+1] != '}') {
		return nil, false
	}
	apiVersion := rest[:end]
	if bytes.IndexByte(kind, '\\') >= 0 || bytes.IndexByte(apiVersion, '\\') >= 0 {
		return nil, false
	}
	gv, err := schema.ParseGroupVersion(string(apiVersion))
	if err != nil {
		return nil, false
	}
	gvk := gv.WithKind(string(kind))
	return &gvk, true
}
