package state_test

import (
	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/memory"
	"github.com/outrigger/outrigger/internal/state/mysql"
	"github.com/outrigger/outrigger/internal/state/postgres"
	"github.com/outrigger/outrigger/internal/state/redis"
	"github.com/outrigger/outrigger/internal/state/sqlite"
)

// Compile-time checks that stores advertising KEYS_LIKE / DELETE_WITH_PREFIX
// implement the matching interfaces.
var (
	_ state.KeysLiker     = memory.New().(state.KeysLiker)
	_ state.PrefixDeleter = memory.New().(state.PrefixDeleter)
	_ state.KeysLiker     = redis.New().(state.KeysLiker)
	_ state.KeysLiker     = postgres.NewV1().(state.KeysLiker)
	_ state.KeysLiker     = postgres.NewV2().(state.KeysLiker)
	_ state.KeysLiker     = sqlite.New()
	_ state.KeysLiker     = mysql.New()
)
