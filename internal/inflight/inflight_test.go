package inflight

import "testing"

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestTracker(t *testing.T) {
	tests := []struct {
		name       string
		enter      int // admitted before Close
		leave      int // left after Close
		wantIdle   bool
		enterAfter bool // Enter after Close
	}{
		{name: "nothing in flight", wantIdle: true},
		{name: "one still in flight", enter: 1},
		{name: "all left", enter: 2, leave: 2, wantIdle: true},
		{name: "one of two left", enter: 2, leave: 1},
		{name: "closed refuses", enter: 1, leave: 1, wantIdle: true, enterAfter: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New()
			for range tt.enter {
				if !tr.Enter() {
					t.Fatal("an open tracker refused work")
				}
			}
			idle := tr.Close()
			for range tt.leave {
				tr.Leave()
			}
			if got := isClosed(idle); got != tt.wantIdle {
				t.Errorf("idle closed = %v, want %v", got, tt.wantIdle)
			}
			if tt.enterAfter && tr.Enter() {
				t.Error("a closed tracker admitted work")
			}
			if tr.Close() != idle {
				t.Error("a second Close returned another channel")
			}
		})
	}
}
