package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// The kill test re-runs this test binary as a helper process, selected by
// these environment variables.
const (
	helperEnv     = "OUTRIGGER_PUBSUB_SQLITE_KILL_HELPER" // database path
	helperTopic   = "orders"
	helperGroup   = "app"
	helperTotal   = 4000
	helperVisible = "60s" // leases outlive the test: recovery must come from the heartbeat
)

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		if err := runKillHelper(path); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		return
	}
	os.Exit(m.Run())
}

// helperProps are the metadata of both processes of the kill test.
func helperProps(path string) map[string]string {
	return map[string]string{"connectionString": path, "consumerID": helperGroup, "visibilityTimeout": helperVisible}
}

// runKillHelper publishes helperTotal messages from 4 goroutines and
// subscribes to them: it acknowledges even ones and holds odd ones
// forever. It reports on stdout "pub N" after Publish returned, "ack N"
// when the handler returns nil and "hold N" when it holds N. It runs until
// killed.
func runKillHelper(path string) error {
	b := New()
	ctx := context.Background()
	if err := b.Init(ctx, pubsub.Metadata{Name: "kill", Properties: helperProps(path)}); err != nil {
		return err
	}
	var mu sync.Mutex
	report := func(what string, n int) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, "%s %d\n", what, n)
	}
	err := b.Subscribe(ctx, pubsub.SubscribeRequest{Topic: helperTopic}, func(ctx context.Context, m *pubsub.Message) error {
		n, err := strconv.Atoi(string(m.Data))
		if err != nil {
			return err
		}
		if n%2 == 0 {
			report("ack", n)
			return nil
		}
		report("hold", n)
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	const publishers = 4
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := p; n < helperTotal; n += publishers {
				if err := b.Publish(ctx, &pubsub.PublishRequest{Topic: helperTopic, Data: []byte(strconv.Itoa(n))}); err != nil {
					fmt.Fprintln(os.Stderr, "publish:", err)
					return
				}
				report("pub", n)
			}
		}()
	}
	wg.Wait()
	select {} // wait for the kill
}

// killReport is what the helper printed.
type killReport struct {
	mu     sync.Mutex
	seen   map[string]map[int]bool // "pub"/"ack"/"hold" -> numbers
	change chan struct{}
}

func (r *killReport) read(t *testing.T, sc *bufio.Scanner) {
	for sc.Scan() {
		what, num, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.Atoi(num)
		if !ok || err != nil {
			t.Errorf("helper printed %q", sc.Text())
			continue
		}
		r.mu.Lock()
		r.seen[what][n] = true
		r.mu.Unlock()
		select {
		case r.change <- struct{}{}:
		default:
		}
	}
}

func (r *killReport) count(what string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen[what])
}

// TestKillNoLoss kills a publishing and subscribing process with SIGKILL
// mid-way. A second process of the same group must then receive every
// message whose publish had returned and that the first process had not
// acknowledged — including those its handlers held when it died.
func TestKillNoLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a helper process")
	}
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	rep := &killReport{seen: map[string]map[int]bool{"pub": {}, "ack": {}, "hold": {}}, change: make(chan struct{}, 1)}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		rep.read(t, bufio.NewScanner(out))
	}()

	// Kill once it has published a good part and handled some of both kinds.
	deadline := time.After(30 * time.Second)
	for rep.count("pub") < helperTotal/4 || rep.count("ack") < 10 || rep.count("hold") < 10 {
		select {
		case <-rep.change:
		case <-readDone:
			t.Fatal("helper exited before it was killed")
		case <-deadline:
			t.Fatalf("helper too slow: %d published, %d acked, %d held", rep.count("pub"), rep.count("ack"), rep.count("hold"))
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill helper: %v", err)
	}
	<-readDone
	_ = cmd.Wait()
	killed := time.Now()

	rep.mu.Lock()
	var want []int // published and not acknowledged
	for n := range rep.seen["pub"] {
		if !rep.seen["ack"][n] {
			want = append(want, n)
		}
	}
	pubs, acks, holds := len(rep.seen["pub"]), len(rep.seen["ack"]), len(rep.seen["hold"])
	rep.mu.Unlock()
	t.Logf("helper killed after %d publishes returned, %d acknowledged, %d held", pubs, acks, holds)

	got := receiveAll(t, path, want, 30*time.Second)
	total, again := got.summary(rep)
	t.Logf("second process received all %d unacknowledged messages %s after the kill (%d deliveries in all, %d acknowledged before)",
		len(want), time.Since(killed).Round(time.Millisecond), total, again)
}

// received counts what the second process got.
type received struct {
	mu    sync.Mutex
	seen  map[int]int
	total int
}

// summary returns the deliveries so far and how many of them the helper
// had acknowledged (its acknowledgement was not committed before the kill).
func (r *received) summary(rep *killReport) (total, acked int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep.mu.Lock()
	defer rep.mu.Unlock()
	for m := range r.seen {
		if rep.seen["ack"][m] {
			acked++
		}
	}
	return r.total, acked
}

// receiveAll subscribes as the helper's group and waits until every
// number in want arrived.
func receiveAll(t *testing.T, path string, want []int, timeout time.Duration) *received {
	t.Helper()
	b := New()
	if err := b.Init(t.Context(), pubsub.Metadata{Name: "kill", Properties: helperProps(path)}); err != nil {
		t.Fatalf("Init after the kill: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	got := &received{seen: map[int]int{}}
	err := b.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: helperTopic}, func(_ context.Context, m *pubsub.Message) error {
		n, err := strconv.Atoi(string(m.Data))
		if err != nil {
			return err
		}
		got.mu.Lock()
		got.seen[n]++
		got.total++
		got.mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatalf("Subscribe after the kill: %v", err)
	}
	end := time.Now().Add(timeout)
	for {
		got.mu.Lock()
		var missing []int
		for _, n := range want {
			if got.seen[n] == 0 {
				missing = append(missing, n)
			}
		}
		got.mu.Unlock()
		if len(missing) == 0 {
			return got
		}
		if time.Now().After(end) {
			t.Fatalf("lost messages: %d of %d published and unacknowledged messages never arrived, e.g. %v",
				len(missing), len(want), missing[:min(10, len(missing))])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
