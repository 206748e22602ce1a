// Package cron is the bindings.cron input binding: it triggers the app on
// a schedule. Schedules follow robfig/cron: five or six fields (seconds
// first when six), descriptors such as @every 10s or @daily, and an
// optional CRON_TZ=<zone> prefix.
package cron

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/outrigger/outrigger/internal/bindings"
)

func init() {
	bindings.Inputs.Register("bindings.cron", func() bindings.Input { return New() })
}

var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Binding is the cron input binding.
type Binding struct {
	name     string
	schedule string
	log      *slog.Logger

	mu      sync.Mutex
	closed  bool
	closeCh chan struct{}
	wg      sync.WaitGroup
}

// New returns an uninitialised binding.
func New() *Binding {
	return &Binding{log: slog.Default().With("component", "bindings.cron"), closeCh: make(chan struct{})}
}

// Init checks the schedule.
func (b *Binding) Init(_ context.Context, md bindings.Metadata) error {
	s, ok := bindings.Prop(md.Properties, "schedule")
	if !ok {
		return errors.New("cron binding: metadata schedule is required")
	}
	if _, err := parser.Parse(s); err != nil {
		return fmt.Errorf("cron binding: invalid schedule format '%s': %w", s, err)
	}
	b.name, b.schedule = md.Name, s
	b.log = b.log.With("name", md.Name)
	return nil
}

// Read starts firing events until ctx is cancelled or the binding is
// closed; it may be called again after an earlier ctx ended (the app
// paused and resumed). Each event has no body and the metadata timeZone
// (the scheduler's location) and readTimeUTC.
func (b *Binding) Read(ctx context.Context, handler bindings.EventHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("cron binding: binding is closed")
	}
	c := cron.New(cron.WithParser(parser))
	_, err := c.AddFunc(b.schedule, func() {
		ev := &bindings.Event{Metadata: map[string]string{
			"timeZone":    c.Location().String(),
			"readTimeUTC": time.Now().UTC().String(),
		}}
		if _, err := handler(ctx, ev); err != nil {
			// A missed tick is not redelivered: the next one comes anyway.
			b.log.Debug("the app did not accept a cron event", "error", err)
		}
	})
	if err != nil {
		return fmt.Errorf("cron binding: scheduling %s: %w", b.schedule, err)
	}
	c.Start()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		select {
		case <-ctx.Done():
		case <-b.closeCh:
		}
		<-c.Stop().Done() // waits for a running event
	}()
	return nil
}

// Close stops every schedule and waits for running events.
func (b *Binding) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.closeCh)
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}
