package main

import (
	"context"
	"regexp"
	"slices"
	"time"
)

// benchCase is one load case: a store, a transport and an operation.
type benchCase struct {
	store     store
	transport string // http or grpc
	op        string // save or get
}

func (c benchCase) name() string { return c.store.name + "/" + c.transport + "/" + c.op }

func selectCases(re *regexp.Regexp) []benchCase {
	var out []benchCase
	for _, st := range stores {
		for _, tr := range []string{"http", "grpc"} {
			for _, op := range []string{"save", "get"} {
				c := benchCase{store: st, transport: tr, op: op}
				if re.MatchString(c.name()) {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// measureStartup starts the sidecar cfg.starts times without profiling (as
// it would run in production) and takes the median time to ready and the
// median resident set one second after ready.
func measureStartup(ctx context.Context, cfg config, st store) startupResult {
	res := startupResult{Store: st.name}
	var rss []int64
	for range cfg.starts {
		d, m, err := startOnce(ctx, cfg.bin, st)
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			continue
		}
		res.RunsMS = append(res.RunsMS, ms(d))
		rss = append(rss, m.rss)
	}
	if len(rss) > 0 {
		res.MedianMS = median(res.RunsMS)
		res.IdleRSSBytes = median(rss)
	}
	return res
}

func startOnce(ctx context.Context, bin string, st store) (ready time.Duration, m memInfo, err error) {
	s, err := startSidecar(bin, st, false)
	if err != nil {
		return 0, m, err
	}
	defer func() {
		if serr := s.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	if ready, err = s.waitReady(ctx); err != nil {
		return 0, m, err
	}
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		return 0, m, ctx.Err()
	}
	m, err = procMem(s.pid())
	return ready, m, err
}

// runCase runs one load case on a fresh sidecar, so memory figures belong
// to this case alone: prefill (get only), warm-up, then the measured phase
// bracketed by CPU readings of both processes.
func runCase(ctx context.Context, cfg config, c benchCase, profiling bool) caseResult {
	res := caseResult{Name: c.name(), Store: c.store.name, Transport: c.transport, Op: c.op}
	if err := loadCase(ctx, cfg, c, profiling, &res); err != nil {
		res.Errors++
		res.ErrorSamples = append(res.ErrorSamples, err.Error())
	}
	return res
}

func loadCase(ctx context.Context, cfg config, c benchCase, profiling bool, res *caseResult) (err error) {
	s, err := startSidecar(cfg.bin, c.store, profiling)
	if err != nil {
		return err
	}
	defer func() {
		if serr := s.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	if _, err := s.waitReady(ctx); err != nil {
		return err
	}
	cl, err := newStateClient(c.transport, s, newPayload())
	if err != nil {
		return err
	}
	defer cl.close()
	op := cl.save
	if c.op == "get" {
		op = cl.get
		// Every key exists before the first get, so a miss is a bug.
		if p := drive(ctx, keyPool, cfg.concurrency, cl.save, everyKey); res.addErrors("prefill", p) {
			return nil
		}
	}
	if p := drive(ctx, cfg.warmup, cfg.concurrency, op, randomKey); res.addErrors("warm-up", p) {
		return nil
	}
	return measure(ctx, cfg, s, op, profiling, res)
}

// measure runs the measured phase and fills the result's figures.
func measure(ctx context.Context, cfg config, s *sidecar, op opFunc, profiling bool, res *caseResult) error {
	cpu0, err := procCPU(s.pid())
	if err != nil {
		return err
	}
	self0, err := selfCPU()
	if err != nil {
		return err
	}
	p := drive(ctx, cfg.ops, cfg.concurrency, op, randomKey)
	cpu1, err := procCPU(s.pid())
	if err != nil {
		return err
	}
	self1, err := selfCPU()
	if err != nil {
		return err
	}
	// Memory first: fetching the heap profile itself allocates.
	m, err := procMem(s.pid())
	if err != nil {
		return err
	}
	res.addErrors("measured", p)
	res.fill(p, cpu1-cpu0, self1-self0, m)
	res.HeapNote = "n/a: the binary has no --enable-profiling flag"
	if profiling {
		if h, err := heapInuse(ctx, s.profilePort); err != nil {
			res.HeapNote = "n/a: " + err.Error()
		} else {
			res.HeapInuseBytes, res.HeapNote = &h, ""
		}
	}
	return nil
}

func median[T int64 | float64](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func perOpUS(d time.Duration, ops int) float64 {
	if ops == 0 {
		return 0
	}
	return us(d) / float64(ops)
}
