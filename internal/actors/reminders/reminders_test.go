package reminders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

func TestCRUD(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			ctx := context.Background()
			// Not running: CRUD works on the store alone.
			svc := New(Config{Store: sk.open(t), IsLocal: func(context.Context, string, string) (bool, error) { return true, nil }})

			mustCreate(t, svc, CreateRequest{ActorID: "a1", Name: "r1", DueTime: "1h", Period: "R5/PT10S", TTL: "2h", Data: []byte(`{"k":"v"}`)})
			mustCreate(t, svc, CreateRequest{ActorID: "a1", Name: "r0", DueTime: "1h"})
			mustCreate(t, svc, CreateRequest{ActorID: "a2", Name: "r1", DueTime: "1h", Data: []byte("not json")})

			got, err := svc.Get(ctx, "T", "a1", "r1")
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got.DueTime != "1h" || got.Period != "R5/PT10S" || got.TTL != "2h" || string(got.Data) != `{"k":"v"}` {
				t.Fatalf("Get = %+v, want the registered values", got)
			}
			if got.ExpirationTime.IsZero() {
				t.Fatal("Get: ExpirationTime not resolved")
			}
			if got, _ := svc.Get(ctx, "T", "a2", "r1"); string(got.Data) != "not json" {
				t.Fatalf("non-JSON data came back as %q", got.Data)
			}
			if _, err := svc.Get(ctx, "T", "a1", "nope"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get missing = %v, want ErrNotFound", err)
			}
			if _, err := svc.Get(ctx, "Other", "a1", "r1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get on another type = %v, want ErrNotFound", err)
			}

			list, err := svc.List(ctx, "T", "")
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if keys := reminderKeys(list); keys != "a1/r0,a1/r1,a2/r1" {
				t.Fatalf("List(type) = %s, want a1/r0,a1/r1,a2/r1", keys)
			}
			list, _ = svc.List(ctx, "T", "a1")
			if keys := reminderKeys(list); keys != "a1/r0,a1/r1" {
				t.Fatalf("List(a1) = %s, want a1/r0,a1/r1", keys)
			}

			// Overwrite defaults to true; false refuses.
			mustCreate(t, svc, CreateRequest{ActorID: "a1", Name: "r1", DueTime: "2h", Data: []byte(`2`)})
			if got, _ := svc.Get(ctx, "T", "a1", "r1"); got.DueTime != "2h" || string(got.Data) != "2" || got.Period != "" {
				t.Fatalf("after overwrite Get = %+v", got)
			}
			err = svc.Create(ctx, CreateRequest{ActorType: "T", ActorID: "a1", Name: "r1", DueTime: "3h", Overwrite: boolPtr(false)})
			if !errors.Is(err, ErrExists) {
				t.Fatalf("Create with overwrite=false = %v, want ErrExists", err)
			}
			mustCreate(t, svc, CreateRequest{ActorID: "a3", Name: "new", Overwrite: boolPtr(false), DueTime: "1h"})

			// Bad schedules fail with Dapr's wording and store nothing.
			err = svc.Create(ctx, CreateRequest{ActorType: "T", ActorID: "a9", Name: "bad", Period: "R0/PT1S"})
			if err == nil || err.Error() != "invalid reminder period: has zero repetitions" {
				t.Fatalf("Create with R0 = %v", err)
			}
			err = svc.Create(ctx, CreateRequest{ActorType: "T", ActorID: "a9", Name: "bad", TTL: "-1s"})
			if err == nil || !strings.HasPrefix(err.Error(), "reminder T||a9||bad has already expired") {
				t.Fatalf("Create with expired ttl = %v", err)
			}

			if err := svc.Delete(ctx, "T", "a1", "r1"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if err := svc.Delete(ctx, "T", "a1", "r1"); err != nil {
				t.Fatalf("Delete of a missing reminder: %v", err)
			}
			if _, err := svc.Get(ctx, "T", "a1", "r1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after Delete = %v", err)
			}

			if err := svc.DeleteByType(ctx, "T", "a2"); err != nil {
				t.Fatalf("DeleteByType(a2): %v", err)
			}
			list, _ = svc.List(ctx, "T", "")
			if keys := reminderKeys(list); keys != "a1/r0,a3/new" {
				t.Fatalf("after DeleteByType(a2) List = %s", keys)
			}
			if err := svc.DeleteByType(ctx, "T", ""); err != nil {
				t.Fatalf("DeleteByType(all): %v", err)
			}
			if list, _ = svc.List(ctx, "T", ""); len(list) != 0 {
				t.Fatalf("after DeleteByType(all) List = %s", reminderKeys(list))
			}
		})
	}
}

func reminderKeys(rs []Reminder) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ActorID+"/"+r.Name)
	}
	return strings.Join(out, ",")
}

func TestOneShotFiresOnceAndIsDeleted(t *testing.T) {
	c := newCluster(t, "A")
	a := c.startSidecar("A", openMemory(t), nil)
	mustCreate(t, a.Service, CreateRequest{ActorID: "a1", Name: "once", Data: []byte(`"hi"`)})
	eventually(t, "the reminder to be deleted after firing", func() bool {
		_, err := a.Get(context.Background(), "T", "a1", "once")
		return errors.Is(err, ErrNotFound)
	})
	time.Sleep(100 * time.Millisecond)
	fs := c.firings()
	if len(fs) != 1 {
		t.Fatalf("fired %d times, want 1", len(fs))
	}
	if string(fs[0].r.Data) != `"hi"` || fs[0].r.Due.IsZero() {
		t.Fatalf("fired %+v, want data \"hi\" and a due time", fs[0].r)
	}
}

func TestRepetitionsTTLAndCancel(t *testing.T) {
	c := newCluster(t, "A")
	c.hook = func(f firing) (bool, error) {
		return f.r.Name == "cancel" && c.count("", "cancel") >= 2, nil
	}
	a := c.startSidecar("A", openMemory(t), nil)
	mustCreate(t, a.Service, CreateRequest{ActorID: "a1", Name: "reps", Period: "R3/PT1S"})
	mustCreate(t, a.Service, CreateRequest{ActorID: "a1", Name: "ttl", Period: "100ms", TTL: "450ms"})
	mustCreate(t, a.Service, CreateRequest{ActorID: "a2", Name: "cancel", Period: "20ms"})
	ctx := context.Background()
	for _, name := range []string{"reps", "ttl"} {
		eventually(t, name+" to finish and be deleted", func() bool {
			_, err := a.Get(ctx, "T", "a1", name)
			return errors.Is(err, ErrNotFound)
		})
	}
	eventually(t, "cancel to be deleted", func() bool {
		_, err := a.Get(ctx, "T", "a2", "cancel")
		return errors.Is(err, ErrNotFound)
	})
	if n := c.count("A", "reps"); n != 3 {
		t.Errorf("R3 reminder fired %d times, want 3", n)
	}
	if n := c.count("A", "ttl"); n < 1 || n > 5 {
		t.Errorf("ttl reminder fired %d times, want 1..5", n)
	}
	if n := c.count("A", "cancel"); n != 2 {
		t.Errorf("cancelled reminder fired %d times, want 2", n)
	}
	if a.Len() != 0 {
		t.Errorf("Len() = %d, want 0", a.Len())
	}
}

func TestFailedFiringIsRetriedThenMovesOn(t *testing.T) {
	c := newCluster(t, "A")
	c.hook = func(firing) (bool, error) { return false, errors.New("app unavailable") }
	a := c.startSidecar("A", openMemory(t), nil)
	mustCreate(t, a.Service, CreateRequest{ActorID: "a1", Name: "flaky"})
	eventually(t, "the one-shot reminder to give up and be deleted", func() bool {
		_, err := a.Get(context.Background(), "T", "a1", "flaky")
		return errors.Is(err, ErrNotFound)
	})
	if n := c.count("A", "flaky"); n != 1+DefaultMaxRetries {
		t.Fatalf("fired %d times, want %d (one try and %d retries)", n, 1+DefaultMaxRetries, DefaultMaxRetries)
	}
}

func TestDeleteStopsFiring(t *testing.T) {
	c := newCluster(t, "A")
	a := c.startSidecar("A", openMemory(t), nil)
	mustCreate(t, a.Service, CreateRequest{ActorID: "a1", Name: "p", Period: "20ms"})
	eventually(t, "a few firings", func() bool { return c.count("A", "p") >= 3 })
	if err := a.Delete(context.Background(), "T", "a1", "p"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	n := c.count("A", "p")
	time.Sleep(200 * time.Millisecond)
	if got := c.count("A", "p"); got != n {
		t.Fatalf("fired %d more times after Delete", got-n)
	}
}

func TestDurableAcrossRestart(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			store := sk.open(t)
			c := newCluster(t, "A")
			a := c.startSidecar("A", store, nil)
			mustCreate(t, a.Service, CreateRequest{ActorID: "a1", Name: "reps", Period: "R3/PT1S"})
			mustCreate(t, a.Service, CreateRequest{ActorID: "a1", Name: "later", DueTime: "1500ms"})
			eventually(t, "the first firing", func() bool { return c.count("A", "reps") >= 1 })
			a.stop() // graceful: records progress
			firedBefore := c.count("A", "reps")

			rd, err := a.readPartition(context.Background(), "T", partitionOf("a1"))
			if err != nil {
				t.Fatal(err)
			}
			i := findReminder(&rd.part, "a1", "reps")
			if i < 0 || rd.part.Reminders[i].Fired != firedBefore {
				t.Fatalf("stored progress = %+v, want Fired=%d", rd.part.Reminders, firedBefore)
			}

			// A new sidecar on the same store picks up where A stopped.
			c.setOwner("B")
			b := c.startSidecar("B", store, nil)
			eventually(t, "the remaining repetitions on B", func() bool { return c.count("B", "reps") == 3-firedBefore })
			eventually(t, "the one-shot on B", func() bool { return c.count("B", "later") == 1 })
			eventually(t, "both to be deleted", func() bool {
				list, err := b.List(context.Background(), "T", "a1")
				return err == nil && len(list) == 0
			})
			if got := c.count("", "reps"); got != 3 {
				t.Fatalf("R3 reminder fired %d times across the restart, want 3", got)
			}
		})
	}
}

// TestRestartDoesNotReplayBacklog writes a reminder that last fired an hour
// ago with a 1s period: after a restart it fires once for the missed due
// times, then keeps to its period.
func TestRestartDoesNotReplayBacklog(t *testing.T) {
	store := openMemory(t)
	now := time.Now()
	part := storedPartition{Reminders: []storedReminder{{
		ActorID: "a1", Name: "old", Gen: "g1", Period: "1s",
		Start: now.Add(-2 * time.Hour), Last: now.Add(-time.Hour), Fired: 3600,
	}}}
	value, _ := json.Marshal(part)
	if err := store.Set(context.Background(), state.SetRequest{Key: partitionKey("T", partitionOf("a1")), Value: value}); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, "A")
	c.startSidecar("A", store, nil)
	eventually(t, "the catch-up firing", func() bool { return c.count("A", "old") >= 1 })
	time.Sleep(1500 * time.Millisecond)
	if n := c.count("A", "old"); n > 4 {
		t.Fatalf("fired %d times within 1.5s of the restart, want the backlog coalesced (<= 4)", n)
	}
}

func TestOwnershipSwitch(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			store := sk.open(t)
			c := newCluster(t, "A")
			c.hook = func(firing) (bool, error) {
				time.Sleep(time.Millisecond) // widen the window an overlap would need
				return false, nil
			}
			a := c.startSidecar("A", store, nil)
			b := c.startSidecar("B", store, nil)
			const n = 20
			for i := range n {
				// Half created through the sidecar that does not own them.
				via := a.Service
				if i%2 == 1 {
					via = b.Service
				}
				mustCreate(t, via, CreateRequest{ActorID: fmt.Sprintf("actor-%d", i), Name: "tick", Period: "50ms"})
			}
			eventually(t, "every reminder to fire on A", func() bool { return distinctActors(c.firings(), "A") == n })
			if got := c.count("B", ""); got != 0 {
				t.Fatalf("B fired %d times while A owned every actor", got)
			}
			checkOncePerDueTime(t, c.firings())

			// Placement moves every actor to B, as a dissemination round
			// does: the old owner sees the new table and rebalances (waiting
			// for its firings in flight) before the new owner may act on it.
			c.setOwner("")
			a.Rebalance(context.Background())
			c.setOwner("B")
			b.Rebalance(context.Background())
			eventually(t, "every reminder to fire on B", func() bool { return distinctActors(c.firings(), "B") == n })
			eventually(t, "A to stop scheduling", func() bool { return a.Len() == 0 })
			firedOnA := c.count("A", "")
			time.Sleep(200 * time.Millisecond)
			if got := c.count("A", ""); got != firedOnA {
				t.Fatalf("A fired %d times after losing the actors", got-firedOnA)
			}
			c.checkNoOverlap()
		})
	}
}

// TestHostDies stops the owner; after Rebalance its reminders fire on the
// surviving sidecar.
func TestHostDies(t *testing.T) {
	store := openMemory(t)
	c := newCluster(t, "A")
	a := c.startSidecar("A", store, nil)
	b := c.startSidecar("B", store, nil)
	mustCreate(t, a.Service, CreateRequest{ActorID: "x", Name: "p", Period: "30ms"})
	mustCreate(t, a.Service, CreateRequest{ActorID: "y", Name: "later", DueTime: "300ms"})
	eventually(t, "A to fire", func() bool { return c.count("A", "p") >= 2 })
	a.stop()
	c.setOwner("B")
	b.Rebalance(context.Background())
	eventually(t, "B to take over", func() bool { return c.count("B", "p") >= 2 && c.count("B", "later") == 1 })
	if c.count("A", "later") != 0 {
		t.Fatal("A fired a reminder after it stopped")
	}
}

func TestDeleteThroughOtherSidecar(t *testing.T) {
	store := openMemory(t)
	c := newCluster(t, "A")
	c.startSidecar("A", store, nil)
	b := c.startSidecar("B", store, nil)
	mustCreate(t, b.Service, CreateRequest{ActorID: "x", Name: "p", Period: "20ms"})
	eventually(t, "A to fire a reminder created through B", func() bool { return c.count("A", "p") >= 2 })
	if err := b.Delete(context.Background(), "T", "x", "p"); err != nil {
		t.Fatal(err)
	}
	var n int
	eventually(t, "A to stop firing", func() bool {
		m := c.count("A", "p")
		stable := m == n
		n = m
		if stable {
			time.Sleep(150 * time.Millisecond)
			return c.count("A", "p") == m
		}
		return false
	})
}

func TestConcurrentCreatesFromTwoSidecars(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			store := sk.open(t)
			var stores = []state.Store{store, store}
			if sk.name == "sqlite" {
				// Two connections to one file, as two sidecars would have.
				path := filepath.Join(t.TempDir(), "shared.db")
				stores = []state.Store{openSQLitePath(t, path), openSQLitePath(t, path)}
			}
			svcs := []*Service{
				New(Config{Store: stores[0], IsLocal: func(context.Context, string, string) (bool, error) { return false, nil }}),
				New(Config{Store: stores[1], IsLocal: func(context.Context, string, string) (bool, error) { return false, nil }}),
			}
			const per = 15
			var wg sync.WaitGroup
			errs := make(chan error, 2*per)
			for i := range 2 * per {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// One actor: every create hits the same partition.
					errs <- svcs[i%2].Create(context.Background(), CreateRequest{ActorType: "T", ActorID: "same", Name: fmt.Sprintf("r%02d", i), DueTime: "1h"})
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
			}
			list, err := svcs[0].List(context.Background(), "T", "same")
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2*per {
				t.Fatalf("List has %d reminders, want %d (a concurrent create was lost)", len(list), 2*per)
			}
		})
	}
}

func TestHostedTypesOnly(t *testing.T) {
	store := openMemory(t)
	c := newCluster(t, "A")
	a := c.startSidecar("A", store, func(cfg *Config) { cfg.HostedTypes = func() []string { return []string{"T"} } })
	mustCreate(t, a.Service, CreateRequest{ActorType: "Other", ActorID: "x", Name: "p"})
	mustCreate(t, a.Service, CreateRequest{ActorID: "x", Name: "q"})
	eventually(t, "the hosted type's reminder", func() bool { return c.count("A", "q") == 1 })
	time.Sleep(150 * time.Millisecond)
	if c.count("A", "p") != 0 {
		t.Fatal("fired a reminder of a type this sidecar does not host")
	}
	if _, err := a.Get(context.Background(), "Other", "x", "p"); err != nil {
		t.Fatalf("the unhosted type's reminder should stay stored: %v", err)
	}
}

func distinctActors(fs []firing, sidecar string) int {
	seen := map[string]bool{}
	for _, f := range fs {
		if f.sidecar == sidecar {
			seen[f.r.ActorID] = true
		}
	}
	return len(seen)
}

// checkOncePerDueTime fails when a reminder's due time was fired twice.
func checkOncePerDueTime(t *testing.T, fs []firing) {
	t.Helper()
	seen := map[string]string{}
	for _, f := range fs {
		k := f.r.Key() + "@" + f.r.Due.Format(time.RFC3339Nano)
		if other, dup := seen[k]; dup {
			t.Fatalf("due time %s fired twice (%s and %s)", k, other, f.sidecar)
		}
		seen[k] = f.sidecar
	}
}

// TestOverloadFiresEveryReminder offers far more firings than two workers
// can deliver and checks none is starved: while every worker is busy, due
// reminders wait in the queue and each worker done takes the earliest.
func TestOverloadFiresEveryReminder(t *testing.T) {
	c := newCluster(t, "A")
	c.hook = func(firing) (bool, error) {
		time.Sleep(2 * time.Millisecond) // a slow app: 1,000 firings/s at most
		return false, nil
	}
	a := c.startSidecar("A", openMemory(t), func(cfg *Config) { cfg.MaxInFlight = 2 })
	const n = 40 // every 10ms: 4,000 firings/s offered
	for i := range n {
		mustCreate(t, a.Service, CreateRequest{ActorID: fmt.Sprint("a", i), Name: "p", Period: "10ms"})
	}
	perActor := func() map[string]int {
		m := map[string]int{}
		for _, f := range c.firings() {
			m[f.r.ActorID]++
		}
		return m
	}
	eventually(t, "every overloaded reminder to fire three times", func() bool {
		m := perActor()
		for i := range n {
			if m[fmt.Sprint("a", i)] < 3 {
				return false
			}
		}
		return true
	})
	c.checkNoOverlap()
}
