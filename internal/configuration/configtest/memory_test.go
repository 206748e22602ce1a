package configtest

import (
	"context"
	"errors"
	"testing"

	"github.com/outrigger/outrigger/internal/configuration"
)

func TestMemoryConformance(t *testing.T) {
	m := NewMemory()
	t.Cleanup(func() { _ = m.Close() })
	Run(t, Backend{
		Store: m,
		Set: func(t *testing.T, key string, it configuration.Item) {
			if err := m.Set(context.Background(), key, it); err != nil {
				t.Fatal(err)
			}
		},
		Delete: func(t *testing.T, key string) {
			if err := m.Delete(context.Background(), key); err != nil {
				t.Fatal(err)
			}
		},
		Prefix:   "mem-",
		Metadata: true,
	})
}

func TestMemoryErrAndClose(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	boom := errors.New("boom")
	m.FailWith(boom)
	if _, err := m.Get(ctx, nil, nil); !errors.Is(err, boom) {
		t.Errorf("Get error = %v, want %v", err, boom)
	}
	if _, err := m.Subscribe(ctx, nil, nil, nil); !errors.Is(err, boom) {
		t.Errorf("Subscribe error = %v, want %v", err, boom)
	}
	m.FailWith(nil)
	if _, err := m.Subscribe(ctx, nil, nil, func(context.Context, string, map[string]*configuration.Item) error { return nil }); err != nil {
		t.Fatal(err)
	}
	_ = m.Close()
	if n := m.Subscriptions(); n != 0 {
		t.Errorf("subscriptions after Close = %d, want 0", n)
	}
	if _, err := m.Subscribe(ctx, nil, nil, nil); err == nil {
		t.Error("Subscribe after Close succeeded")
	}
}
