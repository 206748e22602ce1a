// Package builtin links every component implementation shipped in the
// outrigger binary. Each implementation registers itself with its building
// block's registry when its package is imported, like database/sql drivers;
// this file is the one list of what the binary contains.
package builtin

import (
	_ "github.com/outrigger/outrigger/internal/bindings/cron"
	_ "github.com/outrigger/outrigger/internal/bindings/http"
	_ "github.com/outrigger/outrigger/internal/bindings/kafka"
	_ "github.com/outrigger/outrigger/internal/bindings/localstorage"
	_ "github.com/outrigger/outrigger/internal/bindings/mqtt"
	_ "github.com/outrigger/outrigger/internal/bindings/mysql"
	_ "github.com/outrigger/outrigger/internal/bindings/postgres"
	_ "github.com/outrigger/outrigger/internal/bindings/rabbitmq"
	_ "github.com/outrigger/outrigger/internal/bindings/redis"
	_ "github.com/outrigger/outrigger/internal/bindings/smtp"
	_ "github.com/outrigger/outrigger/internal/configuration/postgres"
	_ "github.com/outrigger/outrigger/internal/configuration/redis"
	_ "github.com/outrigger/outrigger/internal/crypto/jwks"
	_ "github.com/outrigger/outrigger/internal/crypto/localstorage"
	_ "github.com/outrigger/outrigger/internal/lock/redis"
	_ "github.com/outrigger/outrigger/internal/lock/sqlite"
	_ "github.com/outrigger/outrigger/internal/nameresolution/kubernetes"
	_ "github.com/outrigger/outrigger/internal/nameresolution/mdns"
	_ "github.com/outrigger/outrigger/internal/nameresolution/sqlite"
	_ "github.com/outrigger/outrigger/internal/nameresolution/static"
	_ "github.com/outrigger/outrigger/internal/pubsub/jetstream"
	_ "github.com/outrigger/outrigger/internal/pubsub/kafka"
	_ "github.com/outrigger/outrigger/internal/pubsub/memory"
	_ "github.com/outrigger/outrigger/internal/pubsub/mqtt"
	_ "github.com/outrigger/outrigger/internal/pubsub/rabbitmq"
	_ "github.com/outrigger/outrigger/internal/pubsub/redis"
	_ "github.com/outrigger/outrigger/internal/pubsub/sqlite"
	_ "github.com/outrigger/outrigger/internal/secretstores/localenv"
	_ "github.com/outrigger/outrigger/internal/secretstores/kubernetes"
	_ "github.com/outrigger/outrigger/internal/secretstores/localfile"
	_ "github.com/outrigger/outrigger/internal/state/memory"
	_ "github.com/outrigger/outrigger/internal/state/mysql"
	_ "github.com/outrigger/outrigger/internal/state/postgres"
	_ "github.com/outrigger/outrigger/internal/state/redis"
	_ "github.com/outrigger/outrigger/internal/state/sqlite"
)
