package postgres

import (
	"testing"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/statetest"
)

func TestConformance(t *testing.T) {
	cases := []struct {
		name string
		v2   bool
		// JSONB re-encodes JSON values; bytea keeps them byte-exact.
		jsonNormalized bool
	}{
		{"v1", false, true},
		{"v2", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := newTestDB(t)
			statetest.Run(t, statetest.Config{
				New:                func() state.Store { return New(map[bool]string{false: "v1", true: "v2"}[c.v2]) },
				Metadata:           state.Metadata{Name: "pg-" + c.name, Properties: db.props(c.v2)},
				JSONNormalized:     c.jsonNormalized,
				TTLExpireTimeInGet: true,
				Restart:            db.restart,
			})
		})
	}
}
