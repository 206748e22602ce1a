package placement

import (
	"sync"

	v1pb "github.com/dapr/dapr/pkg/proto/placement/v1"
)

// outboxSize bounds the orders queued for one sidecar. A round queues at
// most three, so a full outbox means the sidecar stopped reading.
const outboxSize = 16

// conn is one sidecar's ReportDaprStatus stream. The namespace loop queues
// orders without blocking; the stream's handler goroutine sends them.
type conn struct {
	id   uint64
	addr string // the peer's network address, for logs
	out  chan *v1pb.PlacementOrder

	once sync.Once
	done chan struct{}
	err  error // why the conn was closed; set before done is closed
}

func newConn(id uint64, addr string) *conn {
	return &conn{id: id, addr: addr, out: make(chan *v1pb.PlacementOrder, outboxSize), done: make(chan struct{})}
}

// send queues an order; false means the outbox is full or the conn closed.
func (c *conn) send(o *v1pb.PlacementOrder) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.out <- o:
		return true
	default:
		return false
	}
}

// close ends the conn with err, which the handler returns to the sidecar.
// Only the first call counts.
func (c *conn) close(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.done)
	})
}
