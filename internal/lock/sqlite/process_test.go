package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/testutil"
)

// Environment of the child processes of TestAcrossProcesses.
const (
	envDB      = "OUTRIGGER_LOCKTEST_DB"
	envCounter = "OUTRIGGER_LOCKTEST_COUNTER"
	envOwner   = "OUTRIGGER_LOCKTEST_OWNER"
)

// TestAcrossProcesses runs sidecar-like processes on one SQLite file. Each
// uses the lock to guard a read-modify-write of a plain counter file; if
// two ever held the lock together, increments would be lost (or a reader
// would see a half-written file), so the final count must equal the sum
// of the acquisitions the processes report.
func TestAcrossProcesses(t *testing.T) {
	const procs = 3
	dir := t.TempDir()
	counter := filepath.Join(dir, "counter")
	if err := os.WriteFile(counter, []byte("0"), 0o600); err != nil {
		t.Fatal(err)
	}
	outs := testutil.RunTestProcesses(t, procs, "TestLockProcessHelper", func(i int) []string {
		return []string{envDB + "=" + filepath.Join(dir, "locks.db"), envCounter + "=" + counter, envOwner + "=process-" + strconv.Itoa(i)}
	})
	total := 0
	for i := range procs {
		n, err := acquisitions(outs[i])
		if err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
		total += n
	}
	got, err := readCounter(counter)
	if err != nil {
		t.Fatal(err)
	}
	if got != total {
		t.Fatalf("counter = %d, but the processes acquired the lock %d times: exclusion was broken", got, total)
	}
	if total < 10 {
		t.Fatalf("only %d acquisitions across %d processes", total, procs)
	}
	t.Logf("%d acquisitions across %d processes", total, procs)
}

func acquisitions(out string) (int, error) {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "acquisitions="); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("no acquisitions line in the output")
}

func readCounter(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, fmt.Errorf("counter file holds %q: %w", b, err)
	}
	return n, nil
}

// TestLockProcessHelper is the child of TestAcrossProcesses; on its own it
// does nothing.
func TestLockProcessHelper(t *testing.T) {
	db, counter, owner := os.Getenv(envDB), os.Getenv(envCounter), os.Getenv(envOwner)
	if db == "" {
		t.Skip("child process of TestAcrossProcesses")
	}
	s := openStore(t, map[string]string{"connectionString": db})
	ctx := context.Background()
	n := 0
	for stop := time.Now().Add(time.Second); time.Now().Before(stop); {
		ok, err := s.TryLock(ctx, "lock||app||shared", owner, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		v, err := readCounter(counter)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // widen the window a second holder would hit
		if err := os.WriteFile(counter, []byte(strconv.Itoa(v+1)), 0o600); err != nil {
			t.Fatal(err)
		}
		n++
		if st, err := s.Unlock(ctx, "lock||app||shared", owner); err != nil || st != lock.UnlockSuccess {
			t.Fatalf("Unlock = %v, %v", st, err)
		}
	}
	fmt.Printf("acquisitions=%d\n", n)
}
