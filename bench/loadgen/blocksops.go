package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// The three loads of the blocks suite. Each checks every answer, so a
// wrong one counts as an error rather than as a fast operation.

// httpCounter sends requests and counts them.
type httpCounter struct {
	client *http.Client
	sent   atomic.Int64
}

func (h *httpCounter) requests() int64 { return h.sent.Load() }

// do sends one request and returns the status and the whole body.
func (h *httpCounter) do(ctx context.Context, method, url string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("new request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	h.sent.Add(1)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return resp.StatusCode, out, nil
}

// lockResources is how many resources the lock workers share: with 16
// workers, about four contend for each.
const lockResources = 4

// lockGiveUp bounds how long one operation retries a busy lock; locks are
// held for microseconds, so reaching it means one was never released.
const lockGiveUp = 5 * time.Second

// lockLoad: one operation is one acquire/release cycle on a random
// resource: try-lock until it succeeds (no pause: the contention is the
// point), then unlock. Every cycle has its own owner. holders is a cheap
// sanity check for two cycles holding one resource at once; the window it
// watches is short, so the real mutual-exclusion check is the e2e test.
type lockLoad struct {
	httpCounter
	lockURL, unlockURL string
	resources          [lockResources]string
	holders            [lockResources]atomic.Int32
	owners             atomic.Int64
	redisAddr          string // "" unless lock.redis: where to clean up
}

func newLockLoad(client *http.Client, port int, run string, redis bool, redisAddr string) *lockLoad {
	base := "http://127.0.0.1:" + strconv.Itoa(port) + "/v1.0-alpha1/"
	l := &lockLoad{httpCounter: httpCounter{client: client},
		lockURL: base + "lock/" + lockStoreName, unlockURL: base + "unlock/" + lockStoreName}
	for i := range l.resources {
		l.resources[i] = "bench" + run + "-r" + strconv.Itoa(i)
	}
	if redis {
		l.redisAddr = redisAddr
	}
	return l
}

func (l *lockLoad) op(ctx context.Context, _ int) error {
	r := rand.IntN(lockResources)
	res, owner := l.resources[r], "o"+strconv.FormatInt(l.owners.Add(1), 10)
	giveUp := time.Now().Add(lockGiveUp)
	for {
		ok, err := l.tryLock(ctx, res, owner)
		if err != nil {
			return err
		}
		if ok {
			break
		}
		if time.Now().After(giveUp) {
			return fmt.Errorf("lock %s not acquired within %v", res, lockGiveUp)
		}
	}
	n := l.holders[r].Add(1)
	l.holders[r].Add(-1)
	if n != 1 {
		return fmt.Errorf("%d holders of %s at once: the lock did not exclude", n, res)
	}
	return l.unlock(ctx, res, owner)
}

func (l *lockLoad) tryLock(ctx context.Context, res, owner string) (bool, error) {
	body := fmt.Appendf(nil, `{"resourceId":%q,"lockOwner":%q,"expiryInSeconds":10}`, res, owner)
	status, out, err := l.do(ctx, http.MethodPost, l.lockURL, body)
	if err != nil {
		return false, err
	}
	var r struct {
		Success *bool `json:"success"`
	}
	if status != http.StatusOK || json.Unmarshal(out, &r) != nil || r.Success == nil {
		return false, fmt.Errorf("lock: status %d, body %.200s", status, out)
	}
	return *r.Success, nil
}

func (l *lockLoad) unlock(ctx context.Context, res, owner string) error {
	body := fmt.Appendf(nil, `{"resourceId":%q,"lockOwner":%q}`, res, owner)
	status, out, err := l.do(ctx, http.MethodPost, l.unlockURL, body)
	if err != nil {
		return err
	}
	var r struct {
		Status *int `json:"status"`
	}
	if status != http.StatusOK || json.Unmarshal(out, &r) != nil || r.Status == nil || *r.Status != 0 {
		return fmt.Errorf("unlock: status %d, body %.200s, want status 0", status, out)
	}
	return nil
}

// close removes the Redis keys of the run's resources (none are left
// after a clean run; a failed one may leave some until they expire).
func (l *lockLoad) close() error {
	closeClient(l.client)
	if l.redisAddr == "" {
		return nil
	}
	keys := make([]string, 0, lockResources)
	for _, r := range l.resources {
		keys = append(keys, "lock||"+blocksAppID+"||"+r)
	}
	return redisDel(l.redisAddr, keys...)
}

// secretLoad: one operation is GET /v1.0/secrets/<store>/<key> of a random
// key of the pool; the answer must be that secret.
type secretLoad struct {
	httpCounter
	urls []string
	want [][]byte // the expected answer per key
}

// secretValueSize is the length of each secret's value.
const secretValueSize = 64

// secretValue is the value of secret i: letters and digits only, so its
// JSON needs no escaping.
func secretValue(i int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, secretValueSize)
	for j := range b {
		b[j] = alphabet[(i*31+j*7)%len(alphabet)]
	}
	return string(b)
}

// secretsFile is the local.file store's JSON: the key pool's secrets.
func secretsFile() []byte {
	m := make(map[string]string, keyPool)
	for i, k := range newPayload().keys {
		m[k] = secretValue(i)
	}
	b, _ := json.Marshal(m) // a map of strings always encodes
	return b
}

func newSecretLoad(client *http.Client, port int) *secretLoad {
	s := &secretLoad{httpCounter: httpCounter{client: client}}
	base := "http://127.0.0.1:" + strconv.Itoa(port) + "/v1.0/secrets/" + secretStoreName + "/"
	for i, k := range newPayload().keys {
		s.urls = append(s.urls, base+k)
		s.want = append(s.want, fmt.Appendf(nil, `{%q:%q}`, k, secretValue(i)))
	}
	return s
}

func (s *secretLoad) op(ctx context.Context, _ int) error {
	i := rand.IntN(len(s.urls))
	status, out, err := s.do(ctx, http.MethodGet, s.urls[i], nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK || !bytes.Equal(bytes.TrimSpace(out), s.want[i]) {
		return fmt.Errorf("get secret: status %d, body %.200s, want 200 %s", status, out, s.want[i])
	}
	return nil
}

func (s *secretLoad) close() error {
	closeClient(s.client)
	return nil
}

// bindingLoad: one operation is POST /v1.0/bindings/echo with a 100-byte
// JSON object as data; bindings.http posts it to the echo app, whose
// answer must come back as the data.
type bindingLoad struct {
	httpCounter
	url  string
	body []byte
	data []byte // the data as the sidecar re-encodes it: keys sorted
}

func newBindingLoad(client *http.Client, port int) (*bindingLoad, error) {
	raw := newPayload().values[0]
	// The API decodes data and encodes it again (as Dapr does), which
	// sorts object keys; the echo sends back those bytes.
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("binding payload: %w", err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("binding payload: %w", err)
	}
	return &bindingLoad{httpCounter: httpCounter{client: client},
		url:  "http://127.0.0.1:" + strconv.Itoa(port) + "/v1.0/bindings/" + bindingName,
		body: fmt.Appendf(nil, `{"operation":"post","data":%s}`, raw), data: data}, nil
}

func (b *bindingLoad) op(ctx context.Context, _ int) error {
	status, out, err := b.do(ctx, http.MethodPost, b.url, b.body)
	if err != nil {
		return err
	}
	if status != http.StatusOK || !bytes.Equal(out, b.data) {
		return fmt.Errorf("binding: status %d, body %.200s, want 200 and the data back", status, out)
	}
	return nil
}

func (b *bindingLoad) close() error {
	closeClient(b.client)
	return nil
}
