package memory

import (
	"testing"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/statetest"
)

func TestConformance(t *testing.T) {
	statetest.Run(t, statetest.Config{
		New:                New,
		Metadata:           state.Metadata{Name: "statestore"},
		TTLExpireTimeInGet: true,
	})
}
