package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"path"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/value"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/klog/v2"
)

// StoreConfig describes one resource stored in a Backend.
type StoreConfig struct {
	Codec runtime.Codec
	// JSONEncoder encodes objects as JSON in the version Codec stores them
	// in, when Codec's encoding is not JSON. MaxObjectSize bounds an
	// object's JSON too: watchers are sent JSON (see MaxWatchableObjectSize).
	JSONEncoder    runtime.Encoder
	NewFunc        func() runtime.Object
	NewListFunc    func() runtime.Object
	Prefix         string // path prefix of every key, e.g. "/registry"
	ResourcePrefix string // the resource's prefix under it, e.g. "/sluice.dev/pipelinejobs"
	GroupResource  schema.GroupResource
	// Transformer transforms values to and from storage (encryption at
	// rest). Identity when nil.
	Transformer value.Transformer
	// AttrFunc computes the selectable fields stored beside each object;
	// IndexedFields names the ones field selectors are pushed down for.
	AttrFunc      storage.AttrFunc
	IndexedFields []string
	// SharedWatchObjects hands watchers objects that cache their
	// serializations (runtime.CacheableObject), so that an apiserver
	// serving watches straight from this store encodes each event once
	// for all its watchers. Leave it off under the watch cache, which
	// wants plain objects and wraps them itself.
	SharedWatchObjects bool
}

// Store is storage.Interface for one resource, on a Backend.
type Store struct {
	b              *Backend
	codec          runtime.Codec
	jsonEncoder    runtime.Encoder
	versioner      storage.Versioner
	transformer    atomic.Pointer[transformerBox]
	pathPrefix     string
	resourcePrefix string
	groupResource  schema.GroupResource
	newFunc        func() runtime.Object
	newListFunc    func() runtime.Object
	attrFunc       storage.AttrFunc
	indexedFields  map[string]bool
	shareWatched   bool

	statsOnce sync.Once
	stats     *statsTracker
	sizeStats atomic.Bool
}

type transformerBox struct{ value.Transformer }

var _ storage.Interface = (*Store)(nil)

// NewStore returns the storage of one resource.
func (b *Backend) NewStore(cfg StoreConfig) (*Store, error) {
	if cfg.ResourcePrefix == "" || cfg.ResourcePrefix == "/" || !strings.HasPrefix(cfg.ResourcePrefix, "/") {
		return nil, fmt.Errorf("resource prefix %q must start with / and name the resource", cfg.ResourcePrefix)
	}
	pathPrefix := path.Join("/", cfg.Prefix)
	if !strings.HasSuffix(pathPrefix, "/") {
		pathPrefix += "/"
	}
	s := &Store{
		b:              b,
		codec:          cfg.Codec,
		jsonEncoder:    cfg.JSONEncoder,
		versioner:      storage.APIObjectVersioner{},
		pathPrefix:     pathPrefix,
		resourcePrefix: cfg.ResourcePrefix,
		groupResource:  cfg.GroupResource,
		newFunc:        cfg.NewFunc,
		newListFunc:    cfg.NewListFunc,
		attrFunc:       cfg.AttrFunc,
		indexedFields:  map[string]bool{},
		shareWatched:   cfg.SharedWatchObjects,
	}
	for _, f := range cfg.IndexedFields {
		s.indexedFields[f] = true
	}
	t := cfg.Transformer
	if t == nil {
		t = identity{}
	}
	s.transformer.Store(&transformerBox{t})
	return s, nil
}

type identity struct{}

func (identity) TransformFromStorage(_ context.Context, data []byte, _ value.Context) ([]byte, bool, error) {
	return data, false, nil
}
func (identity) TransformToStorage(_ context.Context, data []byte, _ value.Context) ([]byte, error) {
	return data, nil
}

// authenticatedKey binds a stored value to its key for transformers that
// authenticate data (encryption at rest).
type authenticatedKey string

func (k authenticatedKey) AuthenticatedData() []byte { return []byte(k) }

// Transformer returns the current value transformer.
func (s *Store) Transformer() value.Transformer { return s.transformer.Load().Transformer }

// Versioner is the apiserver's resourceVersion <-> revision mapping.
func (s *Store) Versioner() storage.Versioner { return s.versioner }

// ReadinessCheck fails while the database cannot be read.
func (s *Store) ReadinessCheck() error { return s.b.ReadinessCheck() }

// CompactRevision is the revision below which history is gone.
func (s *Store) CompactRevision() int64 { return s.b.CompactRevision() }

// RequestWatchProgress sends a bookmark at the current revision to every
// watch of this resource that asked for progress notifications.
func (s *Store) RequestWatchProgress(ctx context.Context) error {
	if _, err := s.b.CurrentRevision(ctx); err != nil {
		return err
	}
	s.b.broadcaster.requestProgress(s.pathPrefix + strings.TrimPrefix(s.resourcePrefix, "/"))
	return nil
}

// GetCurrentResourceVersion returns the revision a consistent read would be
// served at now.
func (s *Store) GetCurrentResourceVersion(ctx context.Context) (uint64, error) {
	rv, err := s.b.CurrentRevision(ctx)
	return uint64(rv), err
}

// prepareKey is key, checked, with the store's path prefix. A key the
// apiserver's storage.PrepareKey refuses is the client's 400: it comes from
// a namespace of "." or ".." in a URL (names are checked before), which the
// generic registry passes on as it is, and etcd3 answers with a 500.
func (s *Store) prepareKey(key string, recursive bool) (string, error) {
	key, err := storage.PrepareKey(s.resourcePrefix, key, recursive)
	if err != nil {
		return "", apierrors.NewBadRequest(fmt.Sprintf("invalid name or namespace: %v", err))
	}
	return s.pathPrefix + strings.TrimPrefix(key, "/"), nil
}

// decodeValue transforms and decodes a stored value and sets its
// resourceVersion. into may be nil to decode into a new object.
func (s *Store) decodeValue(ctx context.Context, key string, stored []byte, rv int64, into runtime.Object) (runtime.Object, error) {
	data, _, err := s.Transformer().TransformFromStorage(ctx, stored, authenticatedKey(key))
	if err != nil {
		return nil, storage.NewInternalError(fmt.Errorf("unable to transform key %q: %w", key, err))
	}
	var obj runtime.Object
	if into != nil {
		err = runtime.DecodeInto(s.codec, data, into)
		obj = into
	} else {
		obj, err = runtime.Decode(s.codec, data)
	}
	if err != nil {
		klog.V(4).InfoS("decoding a stored object failed", "key", key, "err", err)
		return nil, storage.NewCorruptObjError(key, err)
	}
	if err := s.versioner.UpdateObject(obj, uint64(rv)); err != nil {
		return nil, fmt.Errorf("setting the resourceVersion of %q: %w", key, err)
	}
	return obj, nil
}

// encoded is an object ready to be written.
type encoded struct {
	data   []byte // encoded, before transformation (compared to detect no-ops)
	stored []byte // transformed, as written
	labels map[string]string
	fields map[string]string
}

func (s *Store) encode(ctx context.Context, key string, obj runtime.Object) (*encoded, error) {
	if err := s.versioner.PrepareObjectForStorage(obj); err != nil {
		return nil, fmt.Errorf("PrepareObjectForStorage failed: %w", err)
	}
	data, err := runtime.Encode(s.codec, obj)
	if err != nil {
		return nil, err
	}
	return s.encodeData(ctx, key, obj, data)
}

func (s *Store) encodeData(ctx context.Context, key string, obj runtime.Object, data []byte) (*encoded, error) {
	stored, err := s.Transformer().TransformToStorage(ctx, data, authenticatedKey(key))
	if err != nil {
		return nil, storage.NewInternalError(err)
	}
	// The JSON first: it is the larger, unless a transformer (encryption)
	// makes the stored value larger still.
	if err := s.checkJSONSize(obj, data); err != nil {
		return nil, err
	}
	if len(stored) > s.b.opts.MaxObjectSize {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
			"the object is %d bytes when stored; the limit is %d bytes", len(stored), s.b.opts.MaxObjectSize))
	}
	e := &encoded{data: data, stored: stored}
	if accessor, err := meta.Accessor(obj); err == nil {
		e.labels = accessor.GetLabels()
	}
	if s.attrFunc != nil && len(s.indexedFields) > 0 {
		if _, f, err := s.attrFunc(obj); err == nil {
			// Empty values are left out: the SQL reads a missing field as
			// "" (see pushDown), and the partial indexes then hold only
			// objects that have a value.
			e.fields = map[string]string{}
			for k, v := range f {
				if s.indexedFields[k] && v != "" {
					e.fields[k] = v
				}
			}
		}
	}
	return e, nil
}

// jsonbOrNil keeps empty label and field sets NULL in the database.
func jsonbOrNil(m map[string]string) any {
	if len(m) == 0 {
		return nil
	}
	return m
}

// maxRevisionRetries bounds how often a write is retried after the
// sequencer closed the revision it drew before the write could lock it (see
// sequencer.go). Each try loses only if the write stalls for GapGrace between
// drawing its revision and locking it.
const maxRevisionRetries = 5

// write runs one write statement of type typ, which stores value under
// key, and returns the revision it committed at, or 0 when its
// precondition did not hold. It hands the event to the sequencer and waits
// until its revision is published, so the caller never hands out a
// revision that a reader could see out of order.
func (b *Backend) write(ctx context.Context, typ int16, key string, value []byte, sql string, args ...any) (int64, error) {
	if !isSQLText(key) {
		// Only a create can get here with such a key: nothing is stored
		// under it to update or delete (see getRow).
		return 0, apierrors.NewBadRequest(fmt.Sprintf("the key %q cannot be stored: PostgreSQL's text cannot hold a NUL or invalid UTF-8", key))
	}
	op := writeOps[typ]
	for attempt := 0; ; attempt++ {
		e := &event{key: key, typ: typ, value: value}
		err := b.timed(op, func() error {
			if typ != evCreate {
				return b.pool.QueryRow(ctx, sql, args...).Scan(&e.rv, &e.prevValue, &e.prevRV, &e.createRV)
			}
			// The key's lock and the create, in one round trip and one
			// implicit transaction (a batch ends with a single Sync).
			batch := &pgx.Batch{}
			batch.Queue(lockKeySQL, key)
			batch.Queue(sql, args...)
			results := b.pool.SendBatch(ctx, batch)
			if _, err := results.Exec(); err != nil {
				_ = results.Close()
				return err
			}
			err := results.QueryRow().Scan(&e.rv, &e.prevValue, &e.prevRV, &e.createRV)
			if cerr := results.Close(); err == nil {
				err = cerr
			}
			return err
		})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return 0, nil
		case isUniqueViolation(err) && attempt < maxRevisionRetries:
			continue // our revision was closed as a gap; draw another
		case isUniqueViolation(err):
			return 0, revisionsLost(key, attempt+1)
		case err != nil && mayHaveBeenStored(err):
			return 0, outcomeUnknown(key, err)
		case err != nil:
			return 0, interpret(key, err)
		}
		b.sequencer.committed(e)
		if err := b.sequencer.waitPublished(ctx, e.rv); err != nil {
			return 0, storedNotPublished(key, e.rv, err)
		}
		return e.rv, nil
	}
}

var writeOps = map[int16]string{evCreate: "create", evUpdate: "update", evDelete: "delete"}

// Get reads the object at key.
func (s *Store) Get(ctx context.Context, key string, opts storage.GetOptions, out runtime.Object) error {
	preparedKey, err := s.prepareKey(key, false)
	if err != nil {
		return err
	}
	rv, stored, found, err := s.getRow(ctx, preparedKey)
	if err != nil {
		return err
	}
	current := s.b.sequencer.published()
	if rv > current {
		current = rv
	}
	if err := s.checkMinimumRV(ctx, opts.ResourceVersion, current); err != nil {
		return err
	}
	if !found {
		if opts.IgnoreNotFound {
			return runtime.SetZeroValue(out)
		}
		return storage.NewKeyNotFoundError(preparedKey, 0)
	}
	_, err = s.decodeValue(ctx, preparedKey, stored, rv, out)
	return err
}

// getRow reads the current row of key. A row written at a revision that is
// not yet published is returned only once it is. A key PostgreSQL's text
// cannot hold (a name or namespace in a URL with a NUL or invalid UTF-8)
// holds no object, as in etcd, and is not sent to the database, which
// would fail the query.
func (s *Store) getRow(ctx context.Context, key string) (rv int64, stored []byte, found bool, err error) {
	if !isSQLText(key) {
		return 0, nil, false, nil
	}
	err = s.b.timed("get", func() error {
		return s.b.pool.QueryRow(ctx, getSQL, key).Scan(&rv, &stored)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, interpret(key, err)
	}
	if err := s.b.sequencer.waitPublished(ctx, rv); err != nil {
		return 0, nil, false, err
	}
	return rv, stored, true, nil
}

// checkMinimumRV fails with "too large resource version" when the client
// asks for a revision newer than current, after giving the sequencer a
// chance to catch up with writes made through other replicas.
func (s *Store) checkMinimumRV(ctx context.Context, minimum string, current int64) error {
	if minimum == "" {
		return nil
	}
	minRV, err := s.parseResourceVersion(minimum)
	if err != nil {
		return err
	}
	if minRV <= math.MaxInt64 && int64(minRV) <= current {
		return nil
	}
	if current, err = s.b.CurrentRevision(ctx); err != nil {
		return err
	}
	if minRV > math.MaxInt64 || int64(minRV) > current {
		return storage.NewTooLargeResourceVersionError(minRV, uint64(current), 0)
	}
	return nil
}

// parseResourceVersion parses a resourceVersion a client sent. One that is
// no unsigned integer is the client's 400. Revisions are PostgreSQL
// bigints: one above math.MaxInt64 is a valid resourceVersion no revision
// reaches, which callers answer as "too large", as any future revision.
func (s *Store) parseResourceVersion(rv string) (uint64, error) {
	parsed, err := s.versioner.ParseResourceVersion(rv)
	if err != nil {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %v", err))
	}
	return parsed, nil
}

// tooLarge is the "too large resource version" of a request for revision
// rv, which is above the current one.
func (s *Store) tooLarge(ctx context.Context, rv uint64) error {
	current, err := s.b.CurrentRevision(ctx)
	if err != nil {
		return err
	}
	return storage.NewTooLargeResourceVersionError(rv, uint64(current), 0)
}

// Create stores obj at key if nothing is there.
func (s *Store) Create(ctx context.Context, key string, obj, out runtime.Object, ttl uint64) error {
	preparedKey, err := s.prepareKey(key, false)
	if err != nil {
		return err
	}
	if version, err := s.versioner.ObjectResourceVersion(obj); err == nil && version != 0 {
		return storage.ErrResourceVersionSetOnCreate
	}
	enc, err := s.encode(ctx, preparedKey, obj)
	if err != nil {
		return err
	}
	rv, err := s.b.write(ctx, evCreate, preparedKey, enc.stored, createSQL, preparedKey, enc.stored, jsonbOrNil(enc.labels), jsonbOrNil(enc.fields), int64(ttl))
	if err != nil {
		return err
	}
	if rv == 0 {
		return storage.NewKeyExistsError(preparedKey, 0)
	}
	if out != nil {
		if _, err := s.decodeData(enc.data, out, rv); err != nil {
			return err
		}
	}
	return nil
}

// maxJSONExpansion bounds how many times larger than its binary encoding
// (protobuf) an object's JSON can be, with a wide margin: field names, a
// string's escapes (six bytes for one), and fields JSON writes when they
// are empty and protobuf leaves out, which take at most the few bytes of
// the message around them.
const maxJSONExpansion = 256

// checkJSONSize refuses an object whose JSON is larger than MaxObjectSize,
// when the store does not encode JSON: a watch would send that JSON, and
// client-go refuses an event over 16 MiB. An object whose encoding is at
// most 1/maxJSONExpansion of the limit cannot be over it, and is not
// encoded again.
func (s *Store) checkJSONSize(obj runtime.Object, data []byte) error {
	limit := s.b.opts.MaxObjectSize
	if s.jsonEncoder == nil || len(data) <= limit/maxJSONExpansion {
		return nil
	}
	j, err := runtime.Encode(s.jsonEncoder, obj)
	if err != nil {
		return err
	}
	if len(j) > limit {
		return apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
			"the object is %d bytes as JSON; the limit is %d bytes", len(j), limit))
	}
	return nil
}

// decodeData decodes untransformed data into out at revision rv.
func (s *Store) decodeData(data []byte, out runtime.Object, rv int64) (runtime.Object, error) {
	if err := runtime.DecodeInto(s.codec, data, out); err != nil {
		return nil, err
	}
	return out, s.versioner.UpdateObject(out, uint64(rv))
}

// objState is the current (or cached) state of a key during Delete and
// GuaranteedUpdate.
type objState struct {
	obj   runtime.Object
	meta  storage.ResponseMeta
	rv    int64
	data  []byte // untransformed encoding; nil when the state came from a cache
	stale bool   // the transformer asks for a rewrite
}

// getState reads the current state of key into a new object of v's type.
// With skipDecode it only reads the revision: an unsafe delete of an object
// that cannot be decoded needs nothing else.
func (s *Store) getState(ctx context.Context, key string, v reflect.Value, ignoreNotFound, skipDecode bool) (*objState, error) {
	st := &objState{}
	if u, ok := v.Addr().Interface().(runtime.Unstructured); ok {
		st.obj = u.NewEmptyInstance()
	} else {
		st.obj = reflect.New(v.Type()).Interface().(runtime.Object)
	}
	rv, stored, found, err := s.getRow(ctx, key)
	if err != nil {
		return nil, err
	}
	if !found {
		if !ignoreNotFound {
			return nil, storage.NewKeyNotFoundError(key, 0)
		}
		return st, runtime.SetZeroValue(st.obj)
	}
	st.rv = rv
	st.meta.ResourceVersion = uint64(rv)
	if skipDecode {
		st.obj, st.stale = nil, true
		return st, nil
	}
	data, stale, err := s.Transformer().TransformFromStorage(ctx, stored, authenticatedKey(key))
	if err != nil {
		return nil, storage.NewInternalError(err)
	}
	st.data, st.stale = data, stale
	if _, err := s.decodeData(data, st.obj, rv); err != nil {
		return nil, storage.NewCorruptObjError(key, err)
	}
	return st, nil
}

// stateFromObject builds the state from an object the caller has cached.
func (s *Store) stateFromObject(obj runtime.Object) (*objState, error) {
	rv, err := s.versioner.ObjectResourceVersion(obj)
	if err != nil {
		return nil, fmt.Errorf("couldn't get resource version: %w", err)
	}
	st := &objState{obj: obj, rv: int64(rv), meta: storage.ResponseMeta{ResourceVersion: rv}}
	// Encode a copy: the cached object itself must keep its resourceVersion.
	cp := obj.DeepCopyObject()
	if err := s.versioner.PrepareObjectForStorage(cp); err != nil {
		return nil, fmt.Errorf("PrepareObjectForStorage failed: %w", err)
	}
	if st.data, err = runtime.Encode(s.codec, cp); err != nil {
		return nil, err
	}
	return st, nil
}

// Delete removes key if preconditions and validateDeletion accept its
// current state, retrying on concurrent changes as etcd3's Delete does.
func (s *Store) Delete(ctx context.Context, key string, out runtime.Object, preconditions *storage.Preconditions,
	validateDeletion storage.ValidateObjectFunc, cachedExistingObject runtime.Object, opts storage.DeleteOptions) error {
	preparedKey, err := s.prepareKey(key, false)
	if err != nil {
		return err
	}
	v, err := conversion.EnforcePtr(out)
	if err != nil {
		return fmt.Errorf("unable to convert output object to pointer: %w", err)
	}
	// With AllowUnsafeMalformedObjectDeletion, a delete may ask to skip
	// reading an object that cannot be decoded.
	skipDecode := utilfeature.DefaultFeatureGate.Enabled(features.AllowUnsafeMalformedObjectDeletion) && opts.IgnoreStoreReadError
	current := func() (*objState, error) { return s.getState(ctx, preparedKey, v, false, skipDecode) }

	var st *objState
	isCurrent := false
	if cachedExistingObject != nil {
		st, err = s.stateFromObject(cachedExistingObject)
	} else {
		st, err = current()
		isCurrent = true
	}
	if err != nil {
		return err
	}
	for {
		// A failed check on a cached state may only mean the cache is old:
		// check again against the stored state before giving up.
		check := func(checkErr error) (retry bool, err error) {
			if isCurrent {
				return false, checkErr
			}
			cachedRV := st.rv
			if st, err = current(); err != nil {
				return false, err
			}
			isCurrent = true
			if cachedRV == st.rv {
				return false, checkErr
			}
			return true, nil
		}
		if preconditions != nil {
			if err := preconditions.Check(preparedKey, st.obj); err != nil {
				if retry, err := check(err); !retry {
					return err
				}
				continue
			}
		}
		if err := validateDeletion(ctx, st.obj); err != nil {
			if retry, err := check(err); !retry {
				return err
			}
			continue
		}
		rv, err := s.b.write(ctx, evDelete, preparedKey, nil, deleteSQL, preparedKey, st.rv)
		if err != nil {
			return err
		}
		if rv == 0 {
			// Changed or gone since we read it: read again and re-check.
			klog.V(4).InfoS("delete conflict, retrying", "key", preparedKey)
			if st, err = current(); err != nil {
				return err
			}
			isCurrent = true
			continue
		}
		if skipDecode {
			return nil
		}
		_, err = s.decodeData(st.data, out, rv)
		return err
	}
}

// GuaranteedUpdate applies tryUpdate to the current object and writes the
// result if nothing changed in between, retrying on conflicts, as etcd3's
// GuaranteedUpdate does.
func (s *Store) GuaranteedUpdate(ctx context.Context, key string, destination runtime.Object, ignoreNotFound bool,
	preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc, cachedExistingObject runtime.Object) error {
	preparedKey, err := s.prepareKey(key, false)
	if err != nil {
		return err
	}
	v, err := conversion.EnforcePtr(destination)
	if err != nil {
		return fmt.Errorf("unable to convert output object to pointer: %w", err)
	}
	current := func() (*objState, error) { return s.getState(ctx, preparedKey, v, ignoreNotFound, false) }

	var st *objState
	isCurrent := false
	if cachedExistingObject != nil {
		st, err = s.stateFromObject(cachedExistingObject)
	} else {
		st, err = current()
		isCurrent = true
	}
	if err != nil {
		return err
	}

	for {
		if err := preconditions.Check(preparedKey, st.obj); err != nil {
			if isCurrent {
				return err
			}
			if st, err = current(); err != nil {
				return err
			}
			isCurrent = true
			continue
		}

		ret, ttl, err := s.updateState(st, tryUpdate)
		if err != nil {
			if isCurrent {
				return err
			}
			cachedRV, updateErr := st.rv, err
			if st, err = current(); err != nil {
				return err
			}
			isCurrent = true
			if cachedRV == st.rv {
				return updateErr
			}
			continue
		}

		data, err := runtime.Encode(s.codec, ret)
		if err != nil {
			return err
		}
		if !st.stale && bytes.Equal(data, st.data) {
			// Nothing to write. A cached state must be confirmed first.
			if !isCurrent {
				if st, err = current(); err != nil {
					return err
				}
				isCurrent = true
				if !bytes.Equal(data, st.data) {
					continue
				}
			}
			if !st.stale {
				_, err = s.decodeData(st.data, destination, st.rv)
				return err
			}
		}

		enc, err := s.encodeData(ctx, preparedKey, ret, data)
		if err != nil {
			return err
		}
		var rv int64
		if st.rv == 0 {
			// The key does not exist (ignoreNotFound): this update creates it.
			rv, err = s.b.write(ctx, evCreate, preparedKey, enc.stored, createSQL, preparedKey, enc.stored, jsonbOrNil(enc.labels), jsonbOrNil(enc.fields), int64(ttl))
		} else {
			rv, err = s.b.write(ctx, evUpdate, preparedKey, enc.stored, updateSQL, preparedKey, st.rv, enc.stored, jsonbOrNil(enc.labels), jsonbOrNil(enc.fields), int64(ttl))
		}
		if err != nil {
			return err
		}
		if rv == 0 {
			klog.V(4).InfoS("update conflict, retrying", "key", preparedKey)
			if st, err = current(); err != nil {
				return err
			}
			isCurrent = true
			continue
		}
		_, err = s.decodeData(data, destination, rv)
		return err
	}
}

func (s *Store) updateState(st *objState, tryUpdate storage.UpdateFunc) (runtime.Object, uint64, error) {
	ret, ttlPtr, err := tryUpdate(st.obj, st.meta)
	if err != nil {
		return nil, 0, err
	}
	if err := s.versioner.PrepareObjectForStorage(ret); err != nil {
		return nil, 0, fmt.Errorf("PrepareObjectForStorage failed: %w", err)
	}
	var ttl uint64
	if ttlPtr != nil {
		ttl = *ttlPtr
	}
	return ret, ttl, nil
}

// Stats returns the number of objects of the resource and, once size
// estimation is enabled, their average stored size. Both are kept up to
// date from the event stream; only the first call counts rows.
func (s *Store) Stats(ctx context.Context) (storage.Stats, error) {
	s.statsOnce.Do(func() { s.stats = newStatsTracker(s) })
	count, size, err := s.stats.get(ctx)
	if err != nil {
		return storage.Stats{}, err
	}
	st := storage.Stats{ObjectCount: count}
	if s.sizeStats.Load() && count > 0 {
		st.EstimatedAverageObjectSizeBytes = size / count
	}
	return st, nil
}

// EnableResourceSizeEstimation makes Stats report the average object size.
// The sizes come from the stored rows, so the keys function is not needed.
func (s *Store) EnableResourceSizeEstimation(getKeys storage.KeysFunc) error {
	if getKeys == nil {
		return errors.New("KeysFunc cannot be nil")
	}
	if s.sizeStats.Swap(true) {
		return errors.New("resource size estimation already enabled")
	}
	return nil
}

// Compact removes history below rv now, as the background compactor does
// when rv leaves the compaction window. Tests and operators use it.
func (s *Store) Compact(ctx context.Context, rv int64) error { return s.b.Compact(ctx, rv) }
