package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// drainIdle is how long the app may receive nothing new before the
// remaining messages count as lost. It covers the sqlite broker's takeover
// of a killed instance's leases (5 s without heartbeats).
const drainIdle = 15 * time.Second

// publishRate is the closed loop of single publishes to a topic nobody
// subscribes to, so the publishing sidecar's CPU is the publish path alone.
func (e *psEnv) publishRate(ctx context.Context, res *pubsubResult) (publishFigures, error) {
	e.phases++
	p := newPublisher(e.client, e.pub.httpPort, e.topics.publish, e.app.base, e.phases)
	if warm := drive(ctx, e.cfg.warmup, e.cfg.concurrency, p.publish, randomKey); res.addErrorLog("publish warm-up", &warm.errs) {
		return publishFigures{}, nil
	}
	before, err := e.cpu()
	if err != nil {
		return publishFigures{}, err
	}
	ph := driveFor(ctx, e.cfg.pubsubLoad, e.cfg.concurrency, p.publish)
	after, err := e.cpu()
	if err != nil {
		return publishFigures{}, err
	}
	res.addErrorLog("publish", &ph.errs)
	n := len(ph.latencies)
	f := publishFigures{Workers: e.cfg.concurrency, Published: n, Seconds: ph.elapsed.Seconds(),
		P50US: us(percentile(ph.latencies, 0.50)), P99US: us(percentile(ph.latencies, 0.99)),
		PubCPUMSPer1k:     perOpUS(after.pub-before.pub, n),
		LoadgenCPUMSPer1k: perOpUS(after.self-before.self, n)}
	if f.Seconds > 0 {
		f.PerSec = float64(n) / f.Seconds
	}
	return f, nil
}

// loadFunc drives one phase's publishing with op and returns the client's
// view (publish latencies) and, for an open loop, the send lags.
type loadFunc func(op opFunc) (*phase, []time.Duration)

// endToEnd runs one load on topic, waits until every accepted message has
// reached the app (or nothing new came for drainIdle) and turns it into
// figures. CPU is read before the first publish and after the last
// delivery. profile > 0 fetches CPU profiles for that long.
func (e *psEnv) endToEnd(ctx context.Context, topic, name string, bulk bool, profile time.Duration, res *pubsubResult, load loadFunc) (e2ePhase, error) {
	p, s := e.newPhase(topic)
	op := p.publish
	if bulk {
		op = p.publishBulk
	}
	prof := e.startProfiles(ctx, name, profile)
	before, err := e.cpu()
	if err != nil {
		return e2ePhase{}, err
	}
	rss := sampleRSS(100*time.Millisecond, e.sub.pid())
	start := e.app.now()
	ph, lags := load(op)
	published := e.app.now() - start
	res.addErrorLog(name+" publish", &ph.errs)
	e.drain(ctx, s, p.accepted())
	peak := rss.finish()[0]
	after, err := e.cpu()
	if err != nil {
		return e2ePhase{}, err
	}
	if prof != nil {
		e.notes = append(e.notes, prof.wait()...)
	}
	f := e.figures(name, p, s, start, published, after.minus(before))
	f.SubRSSBytes = peak
	if len(lags) > 0 {
		lag := us(percentile(lags, 0.99))
		f.SendLagP99US = &lag
	}
	if f.Lost > 0 {
		res.addError(fmt.Errorf("%s: %d of %d published messages never reached the app (nothing new for %v)", name, f.Lost, f.Published, drainIdle))
	}
	return f, nil
}

// figures computes a phase's rates, latencies and CPU per 1,000 messages.
func (e *psEnv) figures(name string, p *publisher, s *sink, start, published time.Duration, cpu cpuDelta) e2ePhase {
	unique, dups, lat, last := s.snapshot()
	f := e2ePhase{Load: name, Published: int(p.accepted()), Delivered: unique, Duplicates: dups,
		Lost:  max(0, int(p.accepted())-unique),
		P50US: us(percentile(lat, 0.50)), P90US: us(percentile(lat, 0.90)), P99US: us(percentile(lat, 0.99)),
		LoadgenCPUMSPer1k: perOpUS(cpu.self, unique)}
	if published > 0 {
		f.PublishPerSec = float64(f.Published) / published.Seconds()
	}
	if d := last - start; d > 0 {
		f.DeliveredPerSec = float64(unique) / d.Seconds()
	}
	f.PubCPUMSPer1k = perOpUS(cpu.pub, f.Published)
	f.SubCPUMSPer1k = perOpUS(cpu.sub, unique)
	if e.kind.shared {
		// One sidecar did both: its CPU per message delivered, twice.
		f.PubCPUMSPer1k = f.SubCPUMSPer1k
	}
	return f
}

// drain waits until want messages have reached the app, or until nothing
// new has come for drainIdle.
func (e *psEnv) drain(ctx context.Context, s *sink, want int64) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	last, since := -1, time.Now()
	for {
		u, _ := s.counts()
		if int64(u) >= want {
			return
		}
		if u != last {
			last, since = u, time.Now()
		} else if time.Since(since) > drainIdle {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// durability publishes -pubsub-durable-n messages as fast as -concurrency
// workers can while the subscriber's sidecar is killed with SIGKILL once,
// when the app has received half of them, and started again at once.
// Killing on a delivery count, not a publish count, makes sure the sidecar
// is in the middle of delivering: messages it leased but had not
// acknowledged must come back.
func (e *psEnv) durability(ctx context.Context, res *pubsubResult) (durabilityResult, error) {
	n := e.cfg.durableN
	p, s := e.newPhase(e.topics.durable)
	start := e.app.now()
	restarted := make(chan restart, 1)
	go func() { restarted <- e.killAt(ctx, p, s, n/2) }()
	ph := drive(ctx, n, e.cfg.concurrency, p.publish, randomKey)
	published := e.app.now() - start
	res.addErrorLog("durability publish", &ph.errs)
	r := <-restarted
	if r.err != nil {
		return durabilityResult{}, fmt.Errorf("durability: %w", r.err)
	}
	e.drain(ctx, s, p.accepted())
	unique, dups, _, last := s.snapshot()
	d := durabilityResult{Messages: n, Published: int(p.accepted()), KilledAtPublished: r.published,
		KilledAtDelivered: r.delivered, RestartMS: ms(r.took), Delivered: unique, Duplicates: dups,
		Lost: max(0, int(p.accepted())-unique)}
	if published > 0 {
		d.PublishPerSec = float64(d.Published) / published.Seconds()
	}
	if span := last - start; span > 0 {
		d.Seconds = span.Seconds()
		d.DeliveredPerSec = float64(unique) / span.Seconds()
	}
	if d.Lost > 0 {
		res.addError(fmt.Errorf("durability: %d of %d published messages lost across kill -9", d.Lost, d.Published))
	}
	return d, nil
}

// restart is what killAt did: how far publishing and delivery were when
// the kill came, and how long the sidecar took to be ready again.
type restart struct {
	published, delivered int
	took                 time.Duration
	err                  error
}

// killAt waits until the app has received n messages of s, then kills the
// subscriber's sidecar with SIGKILL and starts it again. It gives up after
// drainIdle without progress, so a stalled delivery cannot hang it.
func (e *psEnv) killAt(ctx context.Context, p *publisher, s *sink, n int) restart {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	last, since := -1, time.Now()
	for {
		u, _ := s.counts()
		if u >= n {
			break
		}
		if u != last {
			last, since = u, time.Now()
		} else if time.Since(since) > drainIdle {
			return restart{err: fmt.Errorf("only %d messages delivered, none for %v, before the kill at %d", u, drainIdle, n)}
		}
		select {
		case <-ctx.Done():
			return restart{err: ctx.Err()}
		case <-tick.C:
		}
	}
	u, _ := s.counts()
	r := restart{published: int(p.accepted()), delivered: u}
	t0 := time.Now()
	if err := e.sub.kill(); err != nil {
		r.err = err
		return r
	}
	sub, err := startReady(ctx, e.cfg.bin, e.subOpts)
	if err != nil {
		// close must not stop the dead one again.
		e.sub = nil
		r.err = fmt.Errorf("restart the subscriber sidecar: %w", err)
		return r
	}
	e.sub = sub
	r.took = time.Since(t0)
	return r
}

// cpuDelta is CPU time used by the publishing sidecar, the subscribing one
// (the same for in-memory) and loadgen with the app.
type cpuDelta struct{ pub, sub, self time.Duration }

func (c cpuDelta) minus(o cpuDelta) cpuDelta {
	return cpuDelta{pub: c.pub - o.pub, sub: c.sub - o.sub, self: c.self - o.self}
}

func (e *psEnv) cpu() (cpuDelta, error) {
	var c cpuDelta
	var err error
	if c.pub, err = procCPU(e.pub.pid()); err != nil {
		return c, fmt.Errorf("publisher sidecar: %w", err)
	}
	if c.sub, err = procCPU(e.sub.pid()); err != nil {
		return c, fmt.Errorf("subscriber sidecar: %w", err)
	}
	c.self, err = selfCPU()
	return c, err
}

// startProfiles fetches CPU profiles of the sidecars for d during a load
// (nil when profiling is off or d is 0).
func (e *psEnv) startProfiles(ctx context.Context, load string, d time.Duration) *cpuProfiles {
	if !e.profiling || d <= 0 {
		return nil
	}
	prefix := filepath.Join(e.cfg.pubsubProfileDir, "pubsub-"+e.kind.name+"-"+fileSafe(load))
	if e.kind.shared {
		return startProfiles(ctx, []profileTarget{{prefix + ".pprof", e.sub}}, d)
	}
	return startProfiles(ctx, []profileTarget{{prefix + "-pub.pprof", e.pub}, {prefix + "-sub.pprof", e.sub}}, d)
}

// fileSafe keeps the first word of a load name: "open", "max", "bulk".
func fileSafe(load string) string {
	for i, r := range load {
		if r == ' ' {
			return load[:i]
		}
	}
	return load
}
