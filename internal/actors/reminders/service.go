package reminders

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/outrigger/outrigger/internal/actors/schedule"
	"github.com/outrigger/outrigger/internal/state"
)

// ErrNotFound and ErrExists are returned by Get/Create; the API maps them to
// ERR_ACTOR_REMINDER_NOT_FOUND and ERR_ACTOR_REMINDER_ALREADY_EXISTS.
var (
	ErrNotFound = errors.New("actor reminder not found")
	ErrExists   = errors.New("actor reminder already exists")
)

// Defaults for the tunables of Config.
const (
	DefaultFlushInterval = time.Second
	DefaultSyncInterval  = 2 * time.Second
	DefaultRetryInterval = time.Second
	DefaultMaxRetries    = 3
	// DefaultMaxInFlight keeps reminder firings (512) plus timer firings
	// (512) within the app channel's 1024 idle connections per host. With
	// 4096, a sidecar that fell behind had thousands of firings in flight,
	// each surplus one dialing and closing its own connection to the app,
	// which only made it fall further behind: in the loadgen reminder
	// load it fired 10-12k/s at about 110 µs of CPU each, against the
	// offered 20k/s at about 60 µs with 512. 512 firings in flight still
	// carry 15,000 firings/s to an app answering within 30 ms.
	DefaultMaxInFlight = 512
)

// Reminder is one reminder as registered.
type Reminder struct {
	ActorType string
	ActorID   string
	Name      string
	// Data is the registered data as raw JSON, nil when none.
	Data    []byte
	DueTime string
	Period  string
	TTL     string
	// ExpirationTime is the resolved ttl, zero when none.
	ExpirationTime time.Time
	// Due is, when handed to Fire, the due time being fired.
	Due time.Time
}

// Key returns "<type>||<id>||<name>", how Dapr names a reminder in messages.
func (r Reminder) Key() string { return r.ActorType + "||" + r.ActorID + "||" + r.Name }

// CreateRequest registers a reminder.
type CreateRequest struct {
	ActorType string
	ActorID   string
	Name      string
	DueTime   string
	Period    string
	TTL       string
	// Data is raw JSON, nil for none.
	Data []byte
	// Overwrite nil means true: replace an existing reminder of that name.
	Overwrite *bool
}

// Config wires a Service.
type Config struct {
	// Store is the actor state store (actorStateStore: "true"); only
	// Get/Set/Delete with ETags and, when offered, Multi are used.
	Store state.Store
	// AppID is this app's ID (logged; reminders are keyed by actor type).
	AppID string
	// IsLocal reports whether placement gives the actor to this sidecar.
	IsLocal func(ctx context.Context, actorType, actorID string) (bool, error)
	// Fire activates the actor and delivers the reminder; cancel=true
	// deletes the reminder.
	Fire func(ctx context.Context, r Reminder) (cancel bool, err error)
	// HostedTypes lists the actor types this sidecar hosts; only their
	// reminders are loaded and fired. Called on every sync.
	HostedTypes func() []string
	Log         *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time

	// FlushInterval is how often firing progress is written back; zero is
	// DefaultFlushInterval.
	FlushInterval time.Duration
	// SyncInterval is how often the hosted types' version keys are polled
	// for reminders created or deleted through other sidecars; zero is
	// DefaultSyncInterval.
	SyncInterval time.Duration
	// RetryInterval and MaxRetries: a failed firing is retried MaxRetries
	// times, RetryInterval apart, then the reminder moves to its next due
	// time. Zero is the default; MaxRetries < 0 disables retries.
	RetryInterval time.Duration
	MaxRetries    int
	// MaxInFlight bounds concurrent firings; zero is DefaultMaxInFlight.
	MaxInFlight int
}

func (c *Config) setDefaults() {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HostedTypes == nil {
		c.HostedTypes = func() []string { return nil }
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
}

// entry is a reminder this sidecar owns (or just stopped owning and has
// not flushed yet). Fields other than item.Due are guarded by Service.mu.
type entry struct {
	actorType string
	rem       storedReminder // definition and progress (Last, Fired)
	sched     schedule.Schedule
	item      *schedule.Item[*entry]
	part      *partState
	attempts  int  // failed attempts at the current due time
	running   bool // a firing is in progress
	dirty     bool // progress not yet written back
	done      bool // finished (cancelled, exhausted): remove from the store
	removed   bool // no longer ours (deleted, replaced, moved away)
}

type partKey struct {
	actorType string
	p         int
}

// partState is this sidecar's view of one partition.
type partState struct {
	key partKey
	// mu serialises this sidecar's read-modify-writes and reconciliations
	// of the partition; other sidecars are kept out by ETags.
	mu sync.Mutex
	// Guarded by Service.mu:
	entries map[string]*entry // by actorID||name
	etag    string            // ETag last reconciled against; staleETag after our own writes
	dirty   bool              // has entries with unflushed progress
	writes  uint64            // count of this sidecar's writes to the partition
}

// staleETag marks a partition this sidecar wrote since it last reconciled
// it; no store hands out this ETag, so the next sync looks at it again.
const staleETag = "\x00stale"

// typeState is a hosted actor type whose reminders are loaded.
type typeState struct {
	version string // ETag of the version key at the last sync
	full    bool   // re-check every reminder's owner on the next sync
}

// Service stores reminders and fires those of the actors this sidecar owns.
type Service struct {
	cfg Config

	mu      sync.Mutex
	types   map[string]*typeState
	parts   map[partKey]*partState
	queue   schedule.Queue[*entry]
	firing  int // entries popped from queue whose firing has not finished
	wake    chan struct{}
	resync  chan struct{}
	running bool
}

// New returns a Service; call Run to load and fire reminders.
func New(cfg Config) *Service {
	cfg.setDefaults()
	return &Service{
		cfg:    cfg,
		types:  map[string]*typeState{},
		parts:  map[partKey]*partState{},
		wake:   make(chan struct{}, 1),
		resync: make(chan struct{}, 1),
	}
}

// Run loads the reminders of the hosted types and fires them until ctx
// ends; then it waits for firings in progress and writes back their
// progress.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("reminders service already running")
	}
	s.running = true
	s.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.fireLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		s.syncLoop(ctx)
	}()
	wg.Wait()

	// Firings have returned; record what they did so the next owner does
	// not repeat them.
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	s.flush(flushCtx)
	return nil
}

// part returns the state of a partition, creating it.
func (s *Service) part(actorType string, p int) *partState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.partLocked(actorType, p)
}

func (s *Service) partLocked(actorType string, p int) *partState {
	k := partKey{actorType, p}
	ps := s.parts[k]
	if ps == nil {
		ps = &partState{key: k, entries: map[string]*entry{}}
		s.parts[k] = ps
	}
	return ps
}

func (s *Service) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (r storedReminder) toReminder(actorType string) Reminder {
	return Reminder{
		ActorType:      actorType,
		ActorID:        r.ActorID,
		Name:           r.Name,
		Data:           r.data(),
		DueTime:        r.DueTime,
		Period:         r.Period,
		TTL:            r.TTL,
		ExpirationTime: r.Expires,
	}
}
