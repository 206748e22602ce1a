// Package state defines the contract every state store implements, the
// optional capabilities a store may add, and the error kinds the API layer
// maps to Dapr's error codes.
//
// Keys reaching a Store are already prefixed by the key scheme (see keys.go):
// stores never see or strip the `appid||` part themselves.
package state

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/outrigger/outrigger/internal/state/query"
)

// Feature is a capability name advertised in the metadata API, spelled as Dapr
// spells it.
type Feature string

const (
	FeatureETag             Feature = "ETAG"
	FeatureTransactional    Feature = "TRANSACTIONAL"
	FeatureQueryAPI         Feature = "QUERY_API"
	FeatureTTL              Feature = "TTL"
	FeatureDeleteWithPrefix Feature = "DELETE_WITH_PREFIX"
	FeatureKeysLike         Feature = "KEYS_LIKE"
	// FeatureActor is derived (ETAG+TRANSACTIONAL), never returned by a store.
	FeatureActor Feature = "ACTOR"
)

// Concurrency and consistency options, with Dapr's wire spelling.
const (
	FirstWrite = "first-write"
	LastWrite  = "last-write"
	Eventual   = "eventual"
	Strong     = "strong"
)

// Options are the per-request concurrency/consistency settings.
type Options struct {
	Concurrency string // "", FirstWrite or LastWrite
	Consistency string // "", Eventual or Strong
}

// Well-known request and response metadata keys.
const (
	MetaTTLInSeconds  = "ttlInSeconds"
	MetaContentType   = "contentType"
	MetaTTLExpireTime = "ttlExpireTime"
)

// Store is the minimal state store. Implementations must be safe for
// concurrent use.
type Store interface {
	// Init connects and prepares the backend. It is called once, with the
	// component's metadata (string values, secrets resolved).
	Init(ctx context.Context, md Metadata) error
	// Features lists the capabilities this instance supports.
	Features() []Feature
	// Get returns the item, or a response with Found=false when missing.
	Get(ctx context.Context, req GetRequest) (GetResponse, error)
	Set(ctx context.Context, req SetRequest) error
	Delete(ctx context.Context, req DeleteRequest) error
	// Close releases connections and stops background work.
	Close() error
}

// Metadata is a component's configuration: its name and its spec.metadata
// values as strings.
type Metadata struct {
	Name       string
	Properties map[string]string
}

// GetRequest reads one key.
type GetRequest struct {
	Key      string
	Metadata map[string]string
	Options  Options
}

// GetResponse is one item. Data is returned byte-exact as it was stored.
type GetResponse struct {
	Found    bool
	Data     []byte
	ETag     string // "" when the store has none
	Metadata map[string]string
}

// SetRequest writes one key.
type SetRequest struct {
	Key string
	// Value is the bytes to store, returned byte-exact by Get.
	Value []byte
	// Binary marks a value that is opaque bytes rather than JSON (a gRPC save
	// without contentType application/json). Stores with a JSON column keep
	// such values in Dapr's binary form so the query API skips them.
	Binary bool
	// ETag, when non-nil, makes the write conditional on the stored ETag.
	ETag     *string
	Metadata map[string]string
	Options  Options
}

// DeleteRequest removes one key.
type DeleteRequest struct {
	Key      string
	ETag     *string
	Metadata map[string]string
	Options  Options
}

// OperationType of a transaction step, with Dapr's wire spelling.
type OperationType string

const (
	OpUpsert OperationType = "upsert"
	OpDelete OperationType = "delete"
)

// Operation is one step of a transaction: exactly one of Set or Delete is
// used, according to Type.
type Operation struct {
	Type   OperationType
	Set    SetRequest
	Delete DeleteRequest
}

// Key returns the key the operation touches.
func (o Operation) Key() string {
	if o.Type == OpDelete {
		return o.Delete.Key
	}
	return o.Set.Key
}

// TransactionRequest is an ordered list of operations applied atomically.
type TransactionRequest struct {
	Operations []Operation
	Metadata   map[string]string
}

// Transactional stores apply a TransactionRequest all-or-nothing: if any
// step fails (including an ETag mismatch) nothing is written.
type Transactional interface {
	Multi(ctx context.Context, req TransactionRequest) error
}

// TransactionLimiter is implemented by transactional stores that cap the
// number of operations per transaction. 0 means no limit.
type TransactionLimiter interface {
	MaxOperations() int
}

// BulkItem is one result of a bulk get.
type BulkItem struct {
	Key string
	GetResponse
	Error string
}

// BulkGetter stores read many keys in one round trip. Stores without it are
// read key by key (in parallel) by the building block.
type BulkGetter interface {
	BulkGet(ctx context.Context, reqs []GetRequest) ([]BulkItem, error)
}

// BulkSetter and BulkDeleter stores write many keys in one round trip. The
// writes need not be atomic (use Multi for that).
type BulkSetter interface {
	BulkSet(ctx context.Context, reqs []SetRequest) error
}

type BulkDeleter interface {
	BulkDelete(ctx context.Context, reqs []DeleteRequest) error
}

// QueryRequest carries a parsed alpha1 query. KeyPrefix restricts results to
// keys of this app (e.g. "orders||"); an empty prefix means every key.
type QueryRequest struct {
	Query     *query.Query
	KeyPrefix string
	Metadata  map[string]string
}

// QueryItem is one query result; Key still has its prefix.
type QueryItem struct {
	Key  string
	Data []byte
	ETag string
}

// QueryResponse is one page of results and the token for the next page.
type QueryResponse struct {
	Results  []QueryItem
	Token    string
	Metadata map[string]string
}

// Querier stores implement the alpha1 query API.
type Querier interface {
	Query(ctx context.Context, req QueryRequest) (QueryResponse, error)
}

// Pinger stores can report backend reachability (used by outbound health).
type Pinger interface {
	Ping(ctx context.Context) error
}

// maxTTLSeconds keeps a TTL representable as a time.Duration.
const maxTTLSeconds = math.MaxInt64 / int64(time.Second)

// TTLFromMetadata parses metadata ttlInSeconds. It returns (0, false, nil)
// when absent, and (0, false, nil) for a negative value, which Dapr treats as
// "never expire".
func TTLFromMetadata(md map[string]string) (time.Duration, bool, error) {
	v, ok := md[MetaTTLInSeconds]
	if !ok || v == "" {
		return 0, false, nil
	}
	n, err := parseInt(v)
	if err != nil {
		return 0, false, &InvalidRequestError{Msg: "incorrect value for metadata '" + MetaTTLInSeconds + "': " + err.Error()}
	}
	if n < 0 {
		return 0, false, nil
	}
	if n > maxTTLSeconds {
		return 0, false, &InvalidRequestError{Msg: fmt.Sprintf("incorrect value for metadata '%s': %d seconds is too large (at most %d)", MetaTTLInSeconds, n, int64(maxTTLSeconds))}
	}
	return time.Duration(n) * time.Second, true, nil
}

// HasFeature reports whether f is among fs.
func HasFeature(fs []Feature, f Feature) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

// Concurrency rules every store follows (the conformance suite checks them):
//   - a non-empty ETag makes Set/Delete conditional: a stale ETag, or an ETag
//     for a missing key, fails with ETagMismatch; one the store cannot parse
//     fails with ETagInvalid. This holds for both concurrency modes.
//   - without an ETag, Set with FirstWrite only inserts: it fails with
//     ETagMismatch when the key exists. Otherwise Set overwrites.
//   - without an ETag, Delete is unconditional and deleting a missing key
//     succeeds.

// HasETag reports whether p carries a usable (non-empty) ETag.
func HasETag(p *string) bool { return p != nil && *p != "" }

// KeysLiker stores list stored keys matching a SQL LIKE pattern (`%` and
// `_` wildcards, `\` escapes), a page at a time (KEYS_LIKE). Actors and
// workflows use it to find their keys.
type KeysLiker interface {
	KeysLike(ctx context.Context, pattern, token string, pageSize int) (keys []string, next string, err error)
}

// PrefixDeleter stores delete every key under a prefix (DELETE_WITH_PREFIX).
type PrefixDeleter interface {
	DeleteWithPrefix(ctx context.Context, prefix string) (int64, error)
}
