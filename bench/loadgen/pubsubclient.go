package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// bulkEntries is how many messages one bulk publish carries.
const bulkEntries = 100

// publisher sends one phase's messages to one topic through a sidecar's
// HTTP publish API. Sequence numbers start at 0 and are never reused, so
// the app can tell duplicates and the lost ones apart.
type publisher struct {
	client *http.Client
	url    string // single publish
	bulk   string // bulk publish
	base   time.Time
	phase  int
	seq    atomic.Int64 // next sequence number
	ok     atomic.Int64 // messages the sidecar accepted
}

func newPublisher(client *http.Client, port int, topic string, base time.Time, phase int) *publisher {
	host := "http://127.0.0.1:" + strconv.Itoa(port)
	return &publisher{client: client, base: base, phase: phase,
		url:  host + "/v1.0/publish/" + pubsubName + "/" + topic,
		bulk: host + "/v1.0-alpha1/publish/bulk/" + pubsubName + "/" + topic}
}

// accepted is how many messages were published successfully.
func (p *publisher) accepted() int64 { return p.ok.Load() }

// issued is how many sequence numbers were handed out.
func (p *publisher) issued() int64 { return p.seq.Load() }

// publish sends the next message: a JSON object, so the CloudEvent's data
// is the object itself. The send time is taken last, right before the
// request goes out.
func (p *publisher) publish(ctx context.Context, _ int) error {
	n := p.seq.Add(1) - 1
	body := appendMsg(make([]byte, 0, 64), psMsg{P: p.phase, N: n, T: int64(time.Since(p.base))})
	if err := p.post(ctx, p.url, body); err != nil {
		return err
	}
	p.ok.Add(1)
	return nil
}

// publishBulk sends the next bulkEntries messages in one bulk publish.
func (p *publisher) publishBulk(ctx context.Context, _ int) error {
	n0 := p.seq.Add(bulkEntries) - bulkEntries
	t := int64(time.Since(p.base))
	body := make([]byte, 0, bulkEntries*96)
	body = append(body, '[')
	for i := range int64(bulkEntries) {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"entryId":"`...)
		body = strconv.AppendInt(body, n0+i, 10)
		body = append(body, `","contentType":"application/json","event":`...)
		body = appendMsg(body, psMsg{P: p.phase, N: n0 + i, T: t})
		body = append(body, '}')
	}
	body = append(body, ']')
	if err := p.post(ctx, p.bulk, body); err != nil {
		return err
	}
	p.ok.Add(bulkEntries)
	return nil
}

// post expects 204: published.
func (p *publisher) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("publish request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", req.URL.Path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return fmt.Errorf("POST %s: read answer: %w", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("POST %s: status %d, want 204: %.200s", req.URL.Path, resp.StatusCode, answer)
	}
	return nil
}

// appendMsg writes m as compact JSON without reflection: loadgen's CPU
// competes with the sidecars'.
func appendMsg(b []byte, m psMsg) []byte {
	b = append(b, `{"p":`...)
	b = strconv.AppendInt(b, int64(m.P), 10)
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, m.N, 10)
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, m.T, 10)
	return append(b, '}')
}
