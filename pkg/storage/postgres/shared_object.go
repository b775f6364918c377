package postgres

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// metaObject is a runtime.Object with object metadata.
type metaObject interface {
	runtime.Object
	metav1.Object
}

// sharedObject is the object of one watch event, handed to every watcher of
// a store that receives the event. It caches its serializations, so that the
// apiserver's watch handler converts and encodes an event once per encoding
// rather than once per watcher (the handler looks for
// runtime.CacheableObject). The apiserver's watch cache does the same with
// its own wrapper; without the watch cache, a hundred watchers would
// otherwise mean a hundred conversions and encodings of every event.
//
// Objects in watch events are read-only. Should anyone set a field, the
// setter copies the object first and forgets the cached serializations.
type sharedObject struct {
	mu     sync.RWMutex
	obj    metaObject
	copied bool // obj is our own copy, after a setter ran
	cache  map[runtime.Identifier]*serialization
}

type serialization struct {
	once sync.Once
	raw  []byte
	err  error
}

var (
	_ runtime.CacheableObject = &sharedObject{}
	_ metav1.Object           = &sharedObject{}
)

// share returns obj as the store sends it to watchers.
func (s *Store) share(obj runtime.Object) runtime.Object {
	if !s.shareWatched || obj == nil {
		return obj
	}
	return share(obj)
}

// share wraps obj, or returns it as it is when it has no object metadata.
func share(obj runtime.Object) runtime.Object {
	if m, ok := obj.(metaObject); ok {
		return &sharedObject{obj: m, cache: map[runtime.Identifier]*serialization{}}
	}
	return obj
}

// CacheEncode writes the serialization for id, computing it on first use.
func (o *sharedObject) CacheEncode(id runtime.Identifier, encode func(runtime.Object, io.Writer) error, w io.Writer) error {
	o.mu.Lock()
	s, ok := o.cache[id]
	if !ok {
		s = &serialization{}
		o.cache[id] = s
	}
	o.mu.Unlock()
	s.once.Do(func() {
		var buf bytes.Buffer
		// Encoding may set fields (apiVersion and kind): give it a copy.
		s.err = encode(o.GetObject(), &buf)
		s.raw = buf.Bytes()
	})
	if s.err != nil {
		return s.err
	}
	if splice, ok := w.(runtime.Splice); ok {
		splice.Splice(s.raw)
		return nil
	}
	_, err := w.Write(s.raw)
	return err
}

// GetObject returns a copy of the object, which the caller owns.
func (o *sharedObject) GetObject() runtime.Object {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.obj.DeepCopyObject()
}

func (o *sharedObject) GetObjectKind() schema.ObjectKind {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.obj.GetObjectKind()
}

func (o *sharedObject) DeepCopyObject() runtime.Object {
	return share(o.GetObject())
}

func (o *sharedObject) String() string {
	return fmt.Sprintf("shared %T %s/%s", o.obj, o.GetNamespace(), o.GetName())
}

// get reads through the lock.
func get[T any](o *sharedObject, f func(metaObject) T) T {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return f(o.obj)
}

// set copies the object on the first write, drops the cached serializations
// and applies f.
func (o *sharedObject) set(f func(metaObject)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.copied {
		o.obj = o.obj.DeepCopyObject().(metaObject)
		o.copied = true
	}
	o.cache = map[runtime.Identifier]*serialization{}
	f(o.obj)
}

func (o *sharedObject) GetNamespace() string { return get(o, metaObject.GetNamespace) }
func (o *sharedObject) SetNamespace(v string) {
	o.set(func(m metaObject) { m.SetNamespace(v) })
}
func (o *sharedObject) GetName() string         { return get(o, metaObject.GetName) }
func (o *sharedObject) SetName(v string)        { o.set(func(m metaObject) { m.SetName(v) }) }
func (o *sharedObject) GetGenerateName() string { return get(o, metaObject.GetGenerateName) }
func (o *sharedObject) SetGenerateName(v string) {
	o.set(func(m metaObject) { m.SetGenerateName(v) })
}
func (o *sharedObject) GetUID() types.UID  { return get(o, metaObject.GetUID) }
func (o *sharedObject) SetUID(v types.UID) { o.set(func(m metaObject) { m.SetUID(v) }) }
func (o *sharedObject) GetResourceVersion() string {
	return get(o, metaObject.GetResourceVersion)
}
func (o *sharedObject) SetResourceVersion(v string) {
	o.set(func(m metaObject) { m.SetResourceVersion(v) })
}
func (o *sharedObject) GetGeneration() int64  { return get(o, metaObject.GetGeneration) }
func (o *sharedObject) SetGeneration(v int64) { o.set(func(m metaObject) { m.SetGeneration(v) }) }
func (o *sharedObject) GetSelfLink() string   { return get(o, metaObject.GetSelfLink) }
func (o *sharedObject) SetSelfLink(v string)  { o.set(func(m metaObject) { m.SetSelfLink(v) }) }
func (o *sharedObject) GetCreationTimestamp() metav1.Time {
	return get(o, metaObject.GetCreationTimestamp)
}
func (o *sharedObject) SetCreationTimestamp(v metav1.Time) {
	o.set(func(m metaObject) { m.SetCreationTimestamp(v) })
}
func (o *sharedObject) GetDeletionTimestamp() *metav1.Time {
	return get(o, metaObject.GetDeletionTimestamp)
}
func (o *sharedObject) SetDeletionTimestamp(v *metav1.Time) {
	o.set(func(m metaObject) { m.SetDeletionTimestamp(v) })
}
func (o *sharedObject) GetDeletionGracePeriodSeconds() *int64 {
	return get(o, metaObject.GetDeletionGracePeriodSeconds)
}
func (o *sharedObject) SetDeletionGracePeriodSeconds(v *int64) {
	o.set(func(m metaObject) { m.SetDeletionGracePeriodSeconds(v) })
}
func (o *sharedObject) GetLabels() map[string]string { return get(o, metaObject.GetLabels) }
func (o *sharedObject) SetLabels(v map[string]string) {
	o.set(func(m metaObject) { m.SetLabels(v) })
}
func (o *sharedObject) GetAnnotations() map[string]string {
	return get(o, metaObject.GetAnnotations)
}
func (o *sharedObject) SetAnnotations(v map[string]string) {
	o.set(func(m metaObject) { m.SetAnnotations(v) })
}
func (o *sharedObject) GetFinalizers() []string  { return get(o, metaObject.GetFinalizers) }
func (o *sharedObject) SetFinalizers(v []string) { o.set(func(m metaObject) { m.SetFinalizers(v) }) }
func (o *sharedObject) GetOwnerReferences() []metav1.OwnerReference {
	return get(o, metaObject.GetOwnerReferences)
}
func (o *sharedObject) SetOwnerReferences(v []metav1.OwnerReference) {
	o.set(func(m metaObject) { m.SetOwnerReferences(v) })
}
func (o *sharedObject) GetManagedFields() []metav1.ManagedFieldsEntry {
	return get(o, metaObject.GetManagedFields)
}
func (o *sharedObject) SetManagedFields(v []metav1.ManagedFieldsEntry) {
	o.set(func(m metaObject) { m.SetManagedFields(v) })
}
