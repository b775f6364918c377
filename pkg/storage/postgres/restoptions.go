package postgres

import (
	"fmt"
	"path"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/apiserver/pkg/storage"
	cacherstorage "k8s.io/apiserver/pkg/storage/cacher"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	flowcontrolrequest "k8s.io/apiserver/pkg/util/flowcontrol/request"
	"k8s.io/client-go/tools/cache"
)

// RESTOptionsGetter plugs PostgreSQL storage into the generic registry:
// genericregistry.Store.CompleteWithOptions gets its codec and a decorator
// that builds a Store on the Backend for the resource. It replaces the
// etcd options of k8s.io/apiserver's RecommendedOptions.
type RESTOptionsGetter struct {
	Backend *Backend
	// Serializer and the versions objects are stored in and decoded to.
	Serializer runtime.StorageSerializer
	// StorageMediaType is the encoding of stored values, one of
	// Serializer's media types. Default JSON. Values stored in any other
	// of its media types still read.
	StorageMediaType string
	// StorageVersion returns the version a resource is stored as.
	StorageVersion func(schema.GroupResource) schema.GroupVersion
	// MemoryVersion is the internal version of the group.
	MemoryVersion func(schema.GroupResource) schema.GroupVersion
	// Prefix of every key, "/registry" by default.
	Prefix string
	// IndexedFields returns the field selectors of a resource that have
	// indexes in the schema, and so are answered in SQL.
	IndexedFields func(schema.GroupResource) []string
	// WatchCache wraps each store in the apiserver's watch cache. It is off
	// by default: the cache holds every object of the resource in memory,
	// which is what Sluice exists to avoid.
	WatchCache bool
	// DeleteCollectionWorkers for DELETE of a collection. Default 1.
	DeleteCollectionWorkers int
	// StorageObjectCountTracker receives object counts (from Stats, once a
	// minute) for the apiserver's list cost estimates and
	// apiserver_storage_objects.
	StorageObjectCountTracker flowcontrolrequest.StorageObjectCountTracker
}

var _ generic.RESTOptionsGetter = &RESTOptionsGetter{}

// GetRESTOptions returns the REST options of one resource.
func (g *RESTOptionsGetter) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	codec, versioner, err := g.codec(resource, g.storageMediaType())
	if err != nil {
		return generic.RESTOptions{}, err
	}
	// Objects are bounded by the size of their JSON, what watchers are
	// sent, whatever the storage encoding (StoreConfig.JSONEncoder).
	var jsonEncoder runtime.Encoder
	if g.storageMediaType() != runtime.ContentTypeJSON {
		if jsonEncoder, _, err = g.codec(resource, runtime.ContentTypeJSON); err != nil {
			return generic.RESTOptions{}, err
		}
	}
	prefix := g.prefix()
	workers := g.DeleteCollectionWorkers
	if workers == 0 {
		workers = 1
	}
	cfg := &storagebackend.ConfigForResource{
		Config: storagebackend.Config{
			Type:            "postgres",
			Prefix:          prefix,
			Codec:           codec,
			EncodeVersioner: versioner,
			// Only the watch cache reads it; keep the apiserver's default.
			EventsHistoryWindow: storagebackend.DefaultEventsHistoryWindow,
		},
		GroupResource: resource,
	}
	var indexed []string
	if g.IndexedFields != nil {
		indexed = g.IndexedFields(resource)
	}
	return generic.RESTOptions{
		StorageConfig:             cfg,
		Decorator:                 g.decorator(indexed, jsonEncoder),
		EnableGarbageCollection:   true,
		DeleteCollectionWorkers:   workers,
		CountMetricPollPeriod:     time.Minute,
		StorageObjectCountTracker: g.StorageObjectCountTracker,
		ResourcePrefix:            "/" + resource.Group + "/" + resource.Resource,
	}, nil
}

// codec is the storage codec of resource, encoding to mediaType.
func (g *RESTOptionsGetter) codec(resource schema.GroupResource, mediaType string) (runtime.Codec, runtime.GroupVersioner, error) {
	codec, versioner, err := serverstorage.NewStorageCodec(serverstorage.StorageCodecConfig{
		StorageMediaType:  mediaType,
		StorageSerializer: g.Serializer,
		StorageVersion:    g.StorageVersion(resource),
		MemoryVersion:     g.MemoryVersion(resource),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("storage codec for %s: %w", resource, err)
	}
	return codec, versioner, nil
}

func (g *RESTOptionsGetter) storageMediaType() string {
	if g.StorageMediaType == "" {
		return runtime.ContentTypeJSON
	}
	return g.StorageMediaType
}

func (g *RESTOptionsGetter) prefix() string {
	if g.Prefix == "" {
		return "/registry"
	}
	return g.Prefix
}

// KeyPrefix is the prefix of the keys of a namespaced resource's objects
// in the storage: each object's key is the prefix, its namespace, "/" and
// its name.
func (g *RESTOptionsGetter) KeyPrefix(resource schema.GroupResource) string {
	return path.Join("/", g.prefix(), resource.Group, resource.Resource) + "/"
}

// decorator builds the Store of a resource, wrapped in the watch cache when
// it is enabled.
func (g *RESTOptionsGetter) decorator(indexedFields []string, jsonEncoder runtime.Encoder) generic.StorageDecorator {
	return func(config *storagebackend.ConfigForResource, resourcePrefix string, keyFunc func(obj runtime.Object) (string, error),
		newFunc, newListFunc func() runtime.Object, getAttrsFunc storage.AttrFunc,
		triggerFuncs storage.IndexerFuncs, indexers *cache.Indexers) (storage.Interface, factory.DestroyFunc, error) {
		s, err := g.Backend.NewStore(StoreConfig{
			Codec:          config.Codec,
			JSONEncoder:    jsonEncoder,
			NewFunc:        newFunc,
			NewListFunc:    newListFunc,
			Prefix:         config.Prefix,
			ResourcePrefix: resourcePrefix,
			GroupResource:  config.GroupResource,
			Transformer:    config.Transformer,
			AttrFunc:       getAttrsFunc,
			IndexedFields:  indexedFields,
			// Without the watch cache, the registry serves watches
			// from the store: encode each event once for them all.
			SharedWatchObjects: !g.WatchCache,
		})
		if err != nil {
			return nil, nil, err
		}
		if !g.WatchCache {
			return s, func() {}, nil
		}
		cacher, err := cacherstorage.NewCacherFromConfig(cacherstorage.Config{
			Storage:             s,
			Versioner:           storage.APIObjectVersioner{},
			GroupResource:       config.GroupResource,
			EventsHistoryWindow: config.EventsHistoryWindow,
			ResourcePrefix:      resourcePrefix,
			KeyFunc:             keyFunc,
			NewFunc:             newFunc,
			NewListFunc:         newListFunc,
			GetAttrsFunc:        getAttrsFunc,
			IndexerFuncs:        triggerFuncs,
			Indexers:            indexers,
			Codec:               config.Codec,
		})
		if err != nil {
			return nil, nil, err
		}
		delegator := cacherstorage.NewCacheDelegator(cacher, s)
		var once sync.Once
		return delegator, func() {
			once.Do(func() {
				delegator.Stop()
				cacher.Stop()
			})
		}, nil
	}
}
