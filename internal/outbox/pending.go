package outbox

import (
	"sync"
	"time"
)

// settledTTL is how long a settled transaction is remembered when its
// message never reaches this sidecar (another replica of the app took it).
const settledTTL = 10 * time.Minute

// pending tracks the transactions this sidecar started: a message that
// arrives before its transaction has finished waits for the result here
// instead of polling the store blindly, and a message whose transaction
// failed is dropped at once rather than after the full marker wait.
type pending struct {
	mu        sync.Mutex
	txs       map[string]*pendingTx
	lastSweep time.Time
}

type pendingTx struct {
	settled   chan struct{} // closed once Multi has returned, whatever the outcome
	settledAt time.Time
}

func newPending() *pending { return &pending{txs: map[string]*pendingTx{}} }

// add registers a transaction about to be published and committed.
func (p *pending) add(txID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweepLocked(time.Now())
	p.txs[txID] = &pendingTx{settled: make(chan struct{})}
}

// settle records that the transaction's Multi returned.
func (p *pending) settle(txID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tx := p.txs[txID]; tx != nil && tx.settledAt.IsZero() {
		tx.settledAt = time.Now()
		close(tx.settled)
	}
}

// watch returns a channel closed when the transaction settles, or nil
// when this sidecar does not know the transaction (it never settles then).
func (p *pending) watch(txID string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tx := p.txs[txID]; tx != nil {
		return tx.settled
	}
	return nil
}

// forget drops a transaction whose message has been handled.
func (p *pending) forget(txID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.txs, txID)
}

func (p *pending) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.txs)
}

// sweepLocked drops transactions settled long ago whose message went to
// another sidecar, so the map does not grow forever. It scans at most once
// a minute.
func (p *pending) sweepLocked(now time.Time) {
	if now.Sub(p.lastSweep) < time.Minute {
		return
	}
	p.lastSweep = now
	for id, tx := range p.txs {
		if !tx.settledAt.IsZero() && now.Sub(tx.settledAt) > settledTTL {
			delete(p.txs, id)
		}
	}
}

// isClosed reports whether ch (possibly nil) is closed.
func isClosed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
