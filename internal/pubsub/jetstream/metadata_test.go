package jetstream

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestParseConfig(t *testing.T) {
	const url = "nats://localhost:4222"
	for _, tc := range []struct {
		name  string
		props map[string]string
		check func(t *testing.T, c config)
		err   string
	}{
		{name: "defaults", props: map[string]string{"natsURL": url}, check: func(t *testing.T, c config) {
			want := config{url: url, name: defaultName, deliverPolicy: jetstream.DeliverAllPolicy, ackPolicy: jetstream.AckExplicitPolicy}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("config = %+v, want %+v", c, want)
			}
		}},
		{name: "keys are case-insensitive", props: map[string]string{"NATSURL": url, "DurableName": "d", "QUEUEGROUPNAME": "q"}, check: func(t *testing.T, c config) {
			if c.url != url || c.durableName != "d" || c.queueGroup != "q" {
				t.Errorf("config = %+v", c)
			}
		}},
		{name: "consumer settings", props: map[string]string{
			"natsURL": url, "ackWait": "10s", "maxDeliver": "5", "backOff": "50ms, 1s, 10", "maxAckPending": "100",
			"replicas": "3", "memoryStorage": "true", "rateLimit": "1024", "heartbeat": "15", "flowControl": "yes",
			"ackPolicy": "all", "deliverPolicy": "new", "concurrency": "parallel",
		}, check: func(t *testing.T, c config) {
			if c.ackWait != 10*time.Second || c.maxDeliver != 5 || c.maxAckPending != 100 || c.replicas != 3 ||
				!c.memoryStorage || c.rateLimit != 1024 || c.heartbeat != 15*time.Second || !c.flowControl ||
				c.ackPolicy != jetstream.AckAllPolicy || c.deliverPolicy != jetstream.DeliverNewPolicy || !c.parallel {
				t.Errorf("config = %+v", c)
			}
			if want := []time.Duration{50 * time.Millisecond, time.Second, 10 * time.Second}; !reflect.DeepEqual(c.backOff, want) {
				t.Errorf("backOff = %v, want %v", c.backOff, want)
			}
		}},
		{name: "backOff in brackets", props: map[string]string{"natsURL": url, "backOff": "[1s, 2s]"}, check: func(t *testing.T, c config) {
			if !reflect.DeepEqual(c.backOff, []time.Duration{time.Second, 2 * time.Second}) {
				t.Errorf("backOff = %v", c.backOff)
			}
		}},
		{name: "startSequence implies sequence policy", props: map[string]string{"natsURL": url, "startSequence": "7"}, check: func(t *testing.T, c config) {
			cc := c.consumerConfig("t")
			if cc.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || cc.OptStartSeq != 7 || cc.OptStartTime != nil {
				t.Errorf("consumer config = %+v", cc)
			}
		}},
		{name: "startTime implies time policy", props: map[string]string{"natsURL": url, "startTime": "1630349391"}, check: func(t *testing.T, c config) {
			cc := c.consumerConfig("t")
			if cc.DeliverPolicy != jetstream.DeliverByStartTimePolicy || cc.OptStartTime == nil || cc.OptStartTime.Unix() != 1630349391 {
				t.Errorf("consumer config = %+v", cc)
			}
		}},
		{name: "start position ignored with policy all", props: map[string]string{"natsURL": url, "deliverPolicy": "all", "startSequence": "7"}, check: func(t *testing.T, c config) {
			if cc := c.consumerConfig("t"); cc.OptStartSeq != 0 {
				t.Errorf("OptStartSeq = %d with deliverPolicy all; the server would refuse it", cc.OptStartSeq)
			}
		}},
		{name: "unknown ackPolicy is explicit", props: map[string]string{"natsURL": url, "ackPolicy": "weird"}, check: func(t *testing.T, c config) {
			if c.ackPolicy != jetstream.AckExplicitPolicy {
				t.Errorf("ackPolicy = %v", c.ackPolicy)
			}
		}},
		{name: "missing url", props: map[string]string{}, err: "missing natsURL"},
		{name: "jwt without seed", props: map[string]string{"natsURL": url, "jwt": "x"}, err: "jwt and seedKey"},
		{name: "cert without key", props: map[string]string{"natsURL": url, "tls_client_cert": "x"}, err: "tls_client_cert and tls_client_key"},
		{name: "bad deliverPolicy", props: map[string]string{"natsURL": url, "deliverPolicy": "first"}, err: `invalid deliverPolicy "first"`},
		{name: "sequence without start", props: map[string]string{"natsURL": url, "deliverPolicy": "sequence"}, err: "needs startSequence"},
		{name: "bad duration", props: map[string]string{"natsURL": url, "ackWait": "soon"}, err: "invalid ackWait"},
		{name: "bad backOff", props: map[string]string{"natsURL": url, "backOff": "1s, later"}, err: "invalid backOff"},
		{name: "bad number", props: map[string]string{"natsURL": url, "maxDeliver": "five"}, err: "invalid maxDeliver"},
		{name: "bad concurrency", props: map[string]string{"natsURL": url, "concurrency": "many"}, err: "invalid concurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(tc.props)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseConfig error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			tc.check(t, c)
		})
	}
}
