package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	keyPool   = 1000
	valueSize = 100
)

// payload is every key and value the load uses, built once so the load
// generator spends its CPU on requests, not on formatting.
type payload struct {
	keys   []string
	values [][]byte // ~100-byte JSON objects
}

func newPayload() *payload {
	p := &payload{keys: make([]string, keyPool), values: make([][]byte, keyPool)}
	for i := range keyPool {
		p.keys[i] = fmt.Sprintf("bench-%04d", i)
		v := fmt.Sprintf(`{"id":%q,"owner":"loadgen","count":%d,"note":""}`, p.keys[i], i)
		// Pad the note so every value is exactly valueSize bytes.
		pad := strings.Repeat("x", max(0, valueSize-len(v)))
		p.values[i] = []byte(strings.Replace(v, `"note":""`, `"note":"`+pad+`"`, 1))
	}
	return p
}

// opFunc performs one request on key index k.
type opFunc func(ctx context.Context, k int) error

// keyFunc picks the key index for operation i of a phase.
type keyFunc func(i int, rng *rand.Rand) int

func randomKey(_ int, rng *rand.Rand) int { return rng.IntN(keyPool) }
func everyKey(i int, _ *rand.Rand) int    { return i % keyPool }

// phase is the outcome of n operations: per-op latencies and failures.
type phase struct {
	latencies []time.Duration // sorted
	elapsed   time.Duration
	errs      errorLog
}

// drive runs n operations over conc workers that take the next operation
// from a shared counter, so the total is exact however fast each worker is.
func drive(ctx context.Context, n, conc int, op opFunc, key keyFunc) *phase {
	var next atomic.Int64
	p := &phase{}
	lat := make([][]time.Duration, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(w)))
			own := make([]time.Duration, 0, n/conc+1)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				k := key(i, rng)
				t0 := time.Now()
				err := op(ctx, k)
				own = append(own, time.Since(t0))
				if err != nil {
					p.errs.add(err)
				}
			}
			lat[w] = own
		}()
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		p.errs.add(fmt.Errorf("phase interrupted: %w", err))
	}
	p.latencies = slices.Concat(lat...)
	slices.Sort(p.latencies)
	return p
}

// percentile returns the q-quantile (0..1) of sorted durations by the
// nearest-rank method.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// errorLog counts failures and keeps the first few messages for the report.
type errorLog struct {
	mu      sync.Mutex
	count   int
	samples []string
}

const maxErrorSamples = 5

func (e *errorLog) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count++
	if len(e.samples) < maxErrorSamples {
		e.samples = append(e.samples, err.Error())
	}
}
