package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Latency summarises the durations of one kind of request, in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`
}

func summarise(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) float64 { return ms(s[min(len(s)-1, int(p*float64(len(s))))]) }
	return Latency{Count: len(s), P50: q(0.50), P99: q(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Throughput is a batch of requests run by concurrent clients.
type Throughput struct {
	Clients  int     `json:"clients"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"perSecond"`
	Latency  Latency `json:"latency"`
	// FirstError is the first failure, verbatim.
	FirstError string `json:"firstError,omitempty"`
}

// errTooManyFailures stops a batch whose requests keep failing: a stack
// that has reached its limit is recorded as such, not hammered further.
var errTooManyFailures = errors.New("too many failed requests")

// parallel runs fn(i) for i in [from, to) on clients goroutines and
// measures each call. It stops early when ctx ends or when more than 1%
// of the requests (and at least 20) have failed.
func parallel(ctx context.Context, clients, from, to int, fn func(ctx context.Context, i int) error) (Throughput, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next      atomic.Int64
		failures  atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, to-from)
		firstErr  error
		wg        sync.WaitGroup
	)
	next.Store(int64(from))
	start := time.Now()
	for range clients {
		wg.Go(func() {
			var local []time.Duration
			defer func() {
				mu.Lock()
				latencies = append(latencies, local...)
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				t := time.Now()
				err := fn(ctx, i)
				local = append(local, time.Since(t))
				if err != nil && ctx.Err() == nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					if f := failures.Add(1); f >= 20 && f*100 > int64(i-from+1) {
						cancel()
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	t := Throughput{
		Clients: clients, Requests: len(latencies), Errors: int(failures.Load()),
		Seconds: elapsed.Seconds(), PerSec: float64(len(latencies)-int(failures.Load())) / elapsed.Seconds(),
		Latency: summarise(latencies),
	}
	if firstErr != nil {
		t.FirstError = firstErr.Error()
	}
	switch {
	case t.Errors >= 20 && t.Errors*100 > t.Requests:
		return t, fmt.Errorf("%w: %d of %d, first: %v", errTooManyFailures, t.Errors, t.Requests, firstErr)
	case ctx.Err() != nil && t.Requests < to-from:
		return t, fmt.Errorf("stopped after %d of %d requests: %w", t.Requests, to-from, context.Cause(ctx))
	}
	return t, nil
}
