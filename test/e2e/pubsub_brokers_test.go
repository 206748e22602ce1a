package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/outrigger/outrigger/internal/testutil"
)

// brokerKind is a broker the e2e tests can run against: its component
// type, how to prepare it for one test (returning the component metadata
// every sidecar of that test shares) and how to remove the test's topics.
type brokerKind struct {
	name    string
	typ     string
	setup   func(t *testing.T, prefix string) map[string]string
	cleanup func(t *testing.T, prefix string, topics []string)
}

const (
	redisAddr  = "127.0.0.1:6379"
	rabbitAddr = "127.0.0.1:5672"
	natsAddr   = "127.0.0.1:4222"
	mqttAddr   = "127.0.0.1:1883"
)

// Redis redelivers unacknowledged messages after processingTimeout; short
// values keep retry tests fast.
var redisBroker = &brokerKind{
	name: "redis",
	typ:  "pubsub.redis",
	setup: func(t *testing.T, _ string) map[string]string {
		testutil.RequireService(t, "Redis", redisAddr)
		return map[string]string{"redisHost": redisAddr, "redeliverInterval": "200ms", "processingTimeout": "1s"}
	},
	cleanup: func(t *testing.T, _ string, topics []string) {
		if len(topics) == 0 {
			return
		}
		c := goredis.NewClient(&goredis.Options{Addr: redisAddr})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Del(ctx, topics...).Err(); err != nil {
			t.Logf("deleting streams %v: %v", topics, err)
		}
	},
}

// sqliteBroker shares one database file between the test's sidecars.
var sqliteBroker = &brokerKind{
	name: "sqlite",
	typ:  "pubsub.sqlite",
	setup: func(t *testing.T, _ string) map[string]string {
		return map[string]string{
			"connectionString":  filepath.Join(t.TempDir(), "pubsub.db"),
			"visibilityTimeout": "1s",
		}
	},
}

// rabbitBroker: the exchanges (one per topic) are deleted afterwards; the
// queues are auto-deleted with their consumers.
var rabbitBroker = &brokerKind{
	name: "rabbitmq",
	typ:  "pubsub.rabbitmq",
	setup: func(t *testing.T, _ string) map[string]string {
		testutil.RequireService(t, "RabbitMQ", rabbitAddr)
		return map[string]string{"connectionString": "amqp://guest:guest@" + rabbitAddr}
	},
	cleanup: func(t *testing.T, _ string, topics []string) {
		conn, err := amqp.Dial("amqp://guest:guest@" + rabbitAddr)
		if err != nil {
			t.Logf("cleaning up exchanges: %v", err)
			return
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Logf("cleaning up exchanges: %v", err)
			return
		}
		for _, tp := range topics {
			if err := ch.ExchangeDelete(tp, false, false); err != nil {
				t.Logf("deleting exchange %s: %v", tp, err)
				return
			}
		}
	},
}

// jetstreamBroker: Dapr's component needs a stream capturing the topics;
// each test gets one (memory storage) for its prefix.
var jetstreamBroker = &brokerKind{
	name: "jetstream",
	typ:  "pubsub.jetstream",
	setup: func(t *testing.T, prefix string) map[string]string {
		testutil.RequireService(t, "NATS with JetStream", natsAddr)
		nc, err := nats.Connect("nats://" + natsAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cfg := jetstream.StreamConfig{Name: prefix, Subjects: []string{prefix + ".>"}, Storage: jetstream.MemoryStorage}
		if _, err := js.CreateStream(ctx, cfg); err != nil {
			t.Fatalf("creating stream %s: %v", prefix, err)
		}
		return map[string]string{"natsURL": "nats://" + natsAddr, "streamName": prefix}
	},
	cleanup: func(t *testing.T, prefix string, _ []string) {
		nc, err := nats.Connect("nats://" + natsAddr)
		if err != nil {
			t.Logf("deleting stream %s: %v", prefix, err)
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, prefix); err != nil {
			t.Logf("deleting stream %s: %v", prefix, err)
		}
	},
}

// mqttBroker uses clean sessions so no session outlives the test.
var mqttBroker = &brokerKind{
	name: "mqtt3",
	typ:  "pubsub.mqtt3",
	setup: func(t *testing.T, _ string) map[string]string {
		testutil.RequireService(t, "an MQTT broker (mosquitto)", mqttAddr)
		return map[string]string{"url": "tcp://" + mqttAddr, "cleanSession": "true"}
	},
}

// memoryBroker is in-process: only one sidecar can use a given instance.
var memoryBroker = &brokerKind{
	name:  "in-memory",
	typ:   "pubsub.in-memory",
	setup: func(*testing.T, string) map[string]string { return nil },
}

// kafkaBroker runs an in-process fake Kafka cluster per test.
var kafkaBroker = &brokerKind{
	name: "kafka",
	typ:  "pubsub.kafka",
	setup: func(t *testing.T, _ string) map[string]string {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(2))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return map[string]string{"brokers": c.ListenAddrs()[0], "authType": "none", "initialOffset": "oldest"}
	},
}

// durableBroker is the broker for the durability test: the embedded SQLite
// broker when the binary has it, else Redis.
func durableBroker() *brokerKind {
	if brokerRegistered(sqliteBroker.typ) {
		return sqliteBroker
	}
	return redisBroker
}
