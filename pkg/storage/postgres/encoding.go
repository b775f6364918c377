package postgres

import (
	"bytes"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/recognizer"
)

// NewStorageSerializer returns codecs for the values the store keeps, for
// RESTOptionsGetter.Serializer: codecs' serializers, with a JSON serializer
// that parses a value once instead of twice.
//
// apimachinery's JSON serializer finds an object's kind and apiVersion by
// parsing the whole value (json.SimpleMetaFactory), and then parses it again
// to decode it: in a paginated list of JSON values, that first parse was 24
// of the 60% of sluice-apiserver's CPU spent decoding stored objects. The
// encoder writes kind and apiVersion as the first two keys (TypeMeta is the
// first, inlined, field of every API type), so this one reads them there,
// and interprets any other value as before. It decodes the values stored as
// JSON, which all were before values were stored as protobuf, whether JSON
// is the storage media type or the fallback of the storage codec for the
// values in another one (its UniversalDeserializer). docs/storage.md has
// the numbers.
func NewStorageSerializer(codecs serializer.CodecFactory, scheme *runtime.Scheme) runtime.StorageSerializer {
	s := storageSerializer{
		CodecFactory: codecs,
		json:         json.NewSerializerWithOptions(leadingTypeMeta{}, scheme, scheme, json.SerializerOptions{}),
	}
	var decoders []runtime.Decoder
	for _, info := range s.SupportedMediaTypes() {
		decoders = append(decoders, info.Serializer)
	}
	s.universal = recognizer.NewDecoder(decoders...)
	return s
}

type storageSerializer struct {
	serializer.CodecFactory
	json      runtime.Serializer
	universal runtime.Decoder
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

// UniversalDeserializer decodes a value of any of the media types, JSON
// with the leading keys: the storage codec falls back to it for a value
// that is not in the storage media type.
func (s storageSerializer) UniversalDeserializer() runtime.Decoder { return s.universal }

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
