package kafka

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// fakeCluster is franz-go's in-process Kafka (kfake): no real broker runs
// in these tests. Its listeners are wrapped so that sever can cut every
// client connection, as a broker restart or network failure would, while
// the cluster keeps its data.
type fakeCluster struct {
	*kfake.Cluster

	mu    sync.Mutex
	conns []net.Conn
}

// newFakeCluster starts a one-broker cluster that creates topics on first
// use with 4 partitions.
func newFakeCluster(t *testing.T, opts ...kfake.Opt) *fakeCluster {
	t.Helper()
	return startCluster(t, append([]kfake.Opt{kfake.AllowAutoTopicCreation()}, opts...)...)
}

// startCluster starts a cluster that creates no topic on its own.
func startCluster(t *testing.T, opts ...kfake.Opt) *fakeCluster {
	t.Helper()
	fc := &fakeCluster{}
	opts = append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(4),
		kfake.ListenFn(fc.listen),
	}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start fake Kafka cluster: %v", err)
	}
	fc.Cluster = c
	t.Cleanup(c.Close)
	return fc
}

func (fc *fakeCluster) brokers() string { return strings.Join(fc.ListenAddrs(), ",") }

func (fc *fakeCluster) listen(network, addr string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	return trackingListener{Listener: ln, fc: fc}, nil
}

// sever closes every client connection accepted so far.
func (fc *fakeCluster) sever() {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, c := range fc.conns {
		c.Close()
	}
	fc.conns = nil
}

type trackingListener struct {
	net.Listener
	fc *fakeCluster
}

func (l trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.fc.mu.Lock()
		l.fc.conns = append(l.fc.conns, c)
		l.fc.mu.Unlock()
	}
	return c, err
}
