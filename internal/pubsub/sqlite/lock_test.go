package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/sqlitebusy"
)

// lockFile takes the write lock of the database at path from another
// connection and returns the function that releases it.
func lockFile(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		db.Close()
	}
	t.Cleanup(release)
	return release
}

// TestPublishWaitsForTheWriteLock: the write connection has no busy
// timeout of its own, so a publish meeting another process's write lock
// must wait in beginWrite and go through once the lock is released.
func TestPublishWaitsForTheWriteLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock.db")
	b := open(t, path, nil)
	release := lockFile(t, path)
	before := b.lockWaits.Load()
	done := make(chan error, 1)
	go func() {
		done <- b.Publish(context.Background(), &pubsub.PublishRequest{Topic: "t", Data: []byte("x"), ContentType: "text/plain"})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for b.lockWaits.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("the publish never met the lock")
		}
		time.Sleep(time.Millisecond)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if n := count(t, b, b.tbl.messages); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

// TestPublishGivesUpAfterBusyTimeout: busyTimeout still bounds the wait.
func TestPublishGivesUpAfterBusyTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock.db")
	b := open(t, path, map[string]string{"busyTimeout": "50ms"})
	lockFile(t, path)
	err := b.Publish(context.Background(), &pubsub.PublishRequest{Topic: "t", Data: []byte("x"), ContentType: "text/plain"})
	if !sqlitebusy.Is(err) {
		t.Fatalf("Publish with the lock held = %v, want SQLITE_BUSY", err)
	}
}

func TestLingerFor(t *testing.T) {
	pub, ack := &op{kind: opPublish}, &op{kind: opAck}
	acks := func(n int) []*op {
		out := make([]*op, n)
		for i := range out {
			out[i] = ack
		}
		return out
	}
	tests := []struct {
		name          string
		lastPublishes int
		batch         []*op
		want          time.Duration
	}{
		{"acks alone wait for more", 0, acks(3), ackLinger},
		{"a full batch of acks goes", 0, acks(ackBatch), 0},
		{"a lone publisher does not wait", 1, []*op{pub}, 0},
		{"first publish after quiet does not wait", 0, []*op{pub, ack}, 0},
		{"busy publishers: wait for the others", 4, []*op{pub, pub}, publishLinger},
		{"all of them in: go", 4, []*op{pub, pub, pub, pub}, 0},
	}
	for _, tt := range tests {
		w := &writer{lastPublishes: tt.lastPublishes}
		if got := w.lingerFor(tt.batch); got != tt.want {
			t.Errorf("%s: lingerFor = %v, want %v", tt.name, got, tt.want)
		}
	}
}
