package linearizability

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"
)

// Config is a workload.
type Config struct {
	// Stores are the replicas the clients talk to, in turn: client i uses
	// Stores[i%len(Stores)]. Each stores example.Pods (k8s.io/apiserver's
	// test type) under Prefix.
	Stores []storage.Interface
	// Prefix is where the keys are, e.g. "/pods/linearizability/"; it must
	// be empty when Run starts. Key i is Prefix + "k<i>".
	Prefix string
	// Keys is how many keys the clients share: few, so operations conflict.
	Keys int
	// Clients is how many goroutines call the stores concurrently.
	Clients int
	// Operations is how many calls the clients make in all.
	Operations int
	// OperationTimeout bounds each call (default 10s).
	OperationTimeout time.Duration
	// Fault, if set, is called once FaultAfter operations have been made,
	// while the clients go on; Run returns once both the operations and the
	// fault are done. A client whose call failed with an unknown outcome
	// backs off (10 ms doubling up to 1 s) and waits until its store is
	// ready before its next call, so a fault leaves a few unknown outcomes
	// per client, not a flood.
	Fault      func(ctx context.Context) error
	FaultAfter int
	// Seed makes the choice of operations repeatable (the interleaving is not).
	Seed uint64
}

// Run records a history of cfg's workload.
func Run(ctx context.Context, cfg Config) (History, error) {
	if len(cfg.Stores) == 0 || cfg.Keys < 1 || cfg.Clients < 1 {
		return History{}, errors.New("linearizability: a workload needs stores, keys and clients")
	}
	if cfg.OperationTimeout == 0 {
		cfg.OperationTimeout = 10 * time.Second
	}
	h := History{}
	for i := range cfg.Keys {
		h.Keys = append(h.Keys, cfg.Prefix+"k"+strconv.Itoa(i))
	}
	var (
		mu       sync.Mutex
		started  = time.Now()
		left     atomic.Int64
		made     atomic.Int64
		faultErr = make(chan error, 1)
		faulted  = make(chan struct{})
		once     sync.Once
		clients  sync.WaitGroup
	)
	left.Store(int64(cfg.Operations))
	now := func() int64 { return int64(time.Since(started)) } // monotonic
	startFault := func() {
		once.Do(func() {
			close(faulted)
			if cfg.Fault == nil {
				faultErr <- nil
				return
			}
			go func() { faultErr <- cfg.Fault(ctx) }()
		})
	}
	if cfg.FaultAfter <= 0 {
		startFault()
	}
	for i := range cfg.Clients {
		c := &client{
			id:     i,
			store:  cfg.Stores[i%len(cfg.Stores)],
			prefix: cfg.Prefix,
			keys:   h.Keys,
			rng:    rand.New(rand.NewPCG(cfg.Seed, uint64(i))),
			seen:   map[string]int64{},
		}
		clients.Add(1)
		go func() {
			defer clients.Done()
			failures := 0 // in a row
			for n := 0; left.Add(-1) >= 0 && ctx.Err() == nil; n++ {
				opCtx, cancel := context.WithTimeout(ctx, cfg.OperationTimeout)
				r := c.next(opCtx, fmt.Sprintf("c%d-%d", i, n), now)
				cancel()
				mu.Lock()
				h.Records = append(h.Records, r)
				mu.Unlock()
				if made.Add(1) == int64(cfg.FaultAfter) {
					startFault()
				}
				if r.Outcome != Unknown {
					failures = 0
					continue
				}
				// Back off as a client would, so that an outage leaves a
				// few unknown outcomes per client rather than a flood.
				failures++
				backOff(ctx, c.store, min(10*time.Millisecond<<failures, time.Second))
			}
		}()
	}
	clients.Wait()
	startFault() // fewer operations than FaultAfter
	select {
	case err := <-faultErr:
		if err != nil {
			return h, fmt.Errorf("fault: %w", err)
		}
	case <-ctx.Done():
	}
	return h, ctx.Err()
}

// backOff waits for d, then until s says it is ready, or until ctx ends.
func backOff(ctx context.Context, s storage.Interface, d time.Duration) {
	for wait := time.After(d); ; wait = time.After(20 * time.Millisecond) {
		select {
		case <-ctx.Done():
			return
		case <-wait:
		}
		if s.ReadinessCheck() == nil {
			return
		}
	}
}

// client is one goroutine's state: the revisions it has seen per key (for
// preconditions) and the consistent lists it made (for exact lists).
type client struct {
	id     int
	store  storage.Interface
	prefix string
	keys   []string
	rng    *rand.Rand
	seen   map[string]int64
	listRV int64
}

func (c *client) next(ctx context.Context, value string, now func() int64) Record {
	key := c.keys[c.rng.IntN(len(c.keys))]
	r := Record{Client: c.id, Key: key}
	// A precondition on the revision this client last saw of the key; now
	// and then an older one, so that preconditions also fail.
	precondition := c.seen[key]
	if precondition == 0 || c.rng.IntN(5) == 0 {
		precondition = max(1, precondition-int64(c.rng.IntN(3)))
	}
	var err error
	switch p := c.rng.IntN(100); {
	case p < 20:
		r.Kind, r.Value = Create, value
		out := &example.Pod{}
		r.Call = now()
		err = c.store.Create(ctx, key, newPod(strings.TrimPrefix(key, c.prefix), value), out, 0)
		r.Return = now()
		r.RV = rvOf(out)
	case p < 40:
		r.Kind = Get
		out := &example.Pod{}
		r.Call = now()
		err = c.store.Get(ctx, key, storage.GetOptions{}, out)
		r.Return = now()
		r.Value, r.RV = out.Spec.NodeName, rvOf(out)
	case p < 65:
		r.Kind, r.Value, r.Precondition = Update, value, precondition
		out := &example.Pod{}
		rv := strconv.FormatInt(precondition, 10)
		r.Call = now()
		err = c.store.GuaranteedUpdate(ctx, key, out, false, &storage.Preconditions{ResourceVersion: &rv},
			func(in runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
				pod := in.(*example.Pod).DeepCopy()
				pod.Spec.NodeName = value
				return pod, nil, nil
			}, nil)
		r.Return = now()
		r.RV = rvOf(out)
	case p < 80:
		r.Kind = Delete
		var pre *storage.Preconditions
		if c.rng.IntN(2) == 0 {
			r.Precondition = precondition
			rv := strconv.FormatInt(precondition, 10)
			pre = &storage.Preconditions{ResourceVersion: &rv}
		}
		out := &example.Pod{}
		r.Call = now()
		err = c.store.Delete(ctx, key, out, pre, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
		r.Return = now()
		r.Value, r.RV = out.Spec.NodeName, rvOf(out)
	default:
		r.Key = ""
		opts := storage.ListOptions{Recursive: true, Predicate: storage.Everything}
		r.Kind = List
		if c.listRV != 0 && c.rng.IntN(3) == 0 {
			r.Kind, r.AtRV = ListExact, c.listRV
			opts.ResourceVersion, opts.ResourceVersionMatch = strconv.FormatInt(c.listRV, 10), metav1.ResourceVersionMatchExact
		}
		out := &example.PodList{}
		r.Call = now()
		err = c.store.GetList(ctx, c.prefix, opts, out)
		r.Return = now()
		r.RV, _ = strconv.ParseInt(out.ResourceVersion, 10, 64)
		r.Items = map[string]Item{}
		for i := range out.Items {
			pod := &out.Items[i]
			r.Items[keyOf(c.prefix, pod)] = Item{Value: pod.Spec.NodeName, RV: rvOf(pod)}
		}
	}
	r.Outcome, r.Err = outcome(err)
	if r.Outcome != OK {
		r.RV, r.Items = 0, nil
		if r.Kind == Get || r.Kind == Delete {
			r.Value = ""
		}
	}
	switch {
	case r.Outcome != OK:
	case r.Kind == List:
		c.listRV = r.RV
		for k, item := range r.Items {
			c.seen[k] = item.RV
		}
	case r.Kind != ListExact:
		c.seen[key] = r.RV
	}
	return r
}

// newPod is the object a create stores, with value in a field the client sets.
func newPod(name, value string) *example.Pod {
	return &example.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       example.PodSpec{NodeName: value},
	}
}

func keyOf(prefix string, pod *example.Pod) string { return prefix + pod.Name }

func rvOf(obj metav1.Object) int64 {
	rv, _ := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
	return rv
}

// outcome tells errors apart as a client of the storage does.
func outcome(err error) (Outcome, error) {
	switch {
	case err == nil:
		return OK, nil
	case storage.IsExist(err):
		return AlreadyExists, nil
	case storage.IsNotFound(err):
		return NotFound, nil
	case storage.IsConflict(err), storage.IsInvalidObj(err):
		// A failed precondition is an InvalidObj error, which the registry
		// turns into 409 Conflict.
		return Conflict, nil
	}
	return Unknown, err
}
