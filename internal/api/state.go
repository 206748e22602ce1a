package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/query"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
)

// ContentTypeJSON marks a gRPC state value as JSON (metadata contentType).
const ContentTypeJSON = "application/json"

// defaultBulkParallelism bounds concurrent reads for bulk get on stores
// without a native bulk read.
const defaultBulkParallelism = 100

// store looks up a state store by name, with Dapr's two lookup errors.
func (c *Core) store(name string) (*state.Component, error) {
	stores := c.comps().stores
	if len(stores) == 0 {
		return nil, apierr.StateStoreNotConfigured(name)
	}
	s, ok := stores[name]
	if !ok {
		return nil, apierr.StateStoreNotFound(name, c.appID)
	}
	return s, nil
}

// storedKey validates a user key and returns it with the store's prefix.
func storedKey(s *state.Component, key string) (string, error) {
	if err := state.ValidateKey(key); err != nil {
		return "", apierr.StateIllegalKey(s.Name, key)
	}
	return s.Keys.Stored(key), nil
}

func optionsFromProto(o *commonv1.StateOptions) state.Options {
	var out state.Options
	if o == nil {
		return out
	}
	switch o.GetConcurrency() {
	case commonv1.StateOptions_CONCURRENCY_FIRST_WRITE:
		out.Concurrency = state.FirstWrite
	case commonv1.StateOptions_CONCURRENCY_LAST_WRITE:
		out.Concurrency = state.LastWrite
	}
	out.Consistency = consistencyFromProto(o.GetConsistency())
	return out
}

func consistencyFromProto(c commonv1.StateOptions_StateConsistency) string {
	switch c {
	case commonv1.StateOptions_CONSISTENCY_EVENTUAL:
		return state.Eventual
	case commonv1.StateOptions_CONSISTENCY_STRONG:
		return state.Strong
	}
	return ""
}

func etagFromProto(e *commonv1.Etag) *string {
	if e == nil {
		return nil
	}
	v := e.GetValue()
	return &v
}

// writeStatus picks the HTTP status and gRPC code for a failed write:
// stale ETag → 409/Aborted, unparsable ETag or bad input → 400/InvalidArgument.
func writeStatus(err error) (int, codes.Code) {
	if e, ok := state.AsETagError(err); ok {
		if e.Kind == state.ETagInvalid {
			return http.StatusBadRequest, codes.InvalidArgument
		}
		return http.StatusConflict, codes.Aborted
	}
	var inv *state.InvalidRequestError
	if errors.As(err, &inv) {
		return http.StatusBadRequest, codes.InvalidArgument
	}
	return http.StatusInternalServerError, codes.Internal
}

// GetState reads one key. A missing key yields an empty response.
func (c *Core) GetState(ctx context.Context, req *runtimev1.GetStateRequest) (*runtimev1.GetStateResponse, error) {
	s, err := c.store(req.GetStoreName())
	if err != nil {
		return nil, err
	}
	key, err := storedKey(s, req.GetKey())
	if err != nil {
		return nil, err
	}
	var res state.GetResponse
	err = c.measured(s.Name, resiliency.Statestore, metrics.OpGet).Run(ctx, func(ctx context.Context) (err error) {
		res, err = s.Store.Get(ctx, state.GetRequest{Key: key, Metadata: req.GetMetadata(), Options: state.Options{Consistency: consistencyFromProto(req.GetConsistency())}})
		return err
	})
	if err != nil {
		return nil, apierr.StateGet(req.GetKey(), s.Name, err)
	}
	if !res.Found {
		return &runtimev1.GetStateResponse{}, nil
	}
	return &runtimev1.GetStateResponse{Data: res.Data, Etag: res.ETag, Metadata: res.Metadata}, nil
}

// GetBulkState reads many keys; per-key failures are reported in the items.
func (c *Core) GetBulkState(ctx context.Context, req *runtimev1.GetBulkStateRequest) (*runtimev1.GetBulkStateResponse, error) {
	s, err := c.store(req.GetStoreName())
	if err != nil {
		return nil, err
	}
	keys := req.GetKeys()
	reqs := make([]state.GetRequest, len(keys))
	for i, k := range keys {
		sk, err := storedKey(s, k)
		if err != nil {
			return nil, err
		}
		reqs[i] = state.GetRequest{Key: sk, Metadata: req.GetMetadata()}
	}
	out := &runtimev1.GetBulkStateResponse{Items: make([]*runtimev1.BulkStateItem, len(keys))}
	if len(keys) == 0 {
		return out, nil
	}
	if bg, ok := s.Store.(state.BulkGetter); ok {
		var items []state.BulkItem
		err := c.measured(s.Name, resiliency.Statestore, metrics.OpBulkGet).Run(ctx, func(ctx context.Context) (err error) {
			items, err = bg.BulkGet(ctx, reqs)
			return err
		})
		if err != nil {
			return nil, apierr.StateBulkGet(s.Name, err)
		}
		byKey := make(map[string]state.BulkItem, len(items))
		for _, it := range items {
			byKey[it.Key] = it
		}
		for i, k := range keys {
			it := byKey[reqs[i].Key]
			out.Items[i] = bulkItem(k, it.GetResponse, it.Error)
		}
		return out, nil
	}
	c.bulkGetParallel(ctx, s, keys, reqs, int(req.GetParallelism()), out.Items)
	return out, nil
}

func (c *Core) bulkGetParallel(ctx context.Context, s *state.Component, keys []string, reqs []state.GetRequest, parallelism int, out []*runtimev1.BulkStateItem) {
	if parallelism <= 0 || parallelism > defaultBulkParallelism {
		parallelism = defaultBulkParallelism
	}
	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			var res state.GetResponse
			err := c.measured(s.Name, resiliency.Statestore, metrics.OpGet).Run(ctx, func(ctx context.Context) (err error) {
				res, err = s.Store.Get(ctx, reqs[i])
				return err
			})
			errMsg := ""
			if err != nil {
				errMsg = err.Error()
			}
			out[i] = bulkItem(keys[i], res, errMsg)
		}(i)
	}
	wg.Wait()
}

func bulkItem(key string, res state.GetResponse, errMsg string) *runtimev1.BulkStateItem {
	it := &runtimev1.BulkStateItem{Key: key, Error: errMsg}
	if res.Found {
		it.Data, it.Etag, it.Metadata = res.Data, res.ETag, res.Metadata
	}
	return it
}

// SaveState writes items received over gRPC: a value is JSON only when its
// item metadata says contentType application/json, else opaque bytes.
func (c *Core) SaveState(ctx context.Context, req *runtimev1.SaveStateRequest) error {
	return c.saveState(ctx, req, false)
}

// SaveStateJSON writes items received over HTTP, whose values are JSON.
func (c *Core) SaveStateJSON(ctx context.Context, req *runtimev1.SaveStateRequest) error {
	return c.saveState(ctx, req, true)
}

func (c *Core) saveState(ctx context.Context, req *runtimev1.SaveStateRequest, jsonValues bool) error {
	s, err := c.store(req.GetStoreName())
	if err != nil {
		return err
	}
	reqs := make([]state.SetRequest, 0, len(req.GetStates()))
	for _, item := range req.GetStates() {
		sr, err := setRequest(s, item, jsonValues)
		if err != nil {
			return err
		}
		reqs = append(reqs, sr)
	}
	if len(reqs) == 0 {
		return nil
	}
	err = c.measured(s.Name, resiliency.Statestore, metrics.OpSet).Run(ctx, func(ctx context.Context) error {
		if bs, ok := s.Store.(state.BulkSetter); ok && len(reqs) > 1 {
			return bs.BulkSet(ctx, reqs)
		}
		for _, r := range reqs {
			if err := s.Store.Set(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		h, g := writeStatus(err)
		return apierr.StateSave(s.Name, err, h, g)
	}
	return nil
}

func setRequest(s *state.Component, item *commonv1.StateItem, jsonValues bool) (state.SetRequest, error) {
	if item.GetKey() == "" {
		return state.SetRequest{}, apierr.StateSaveEmptyKey()
	}
	key, err := storedKey(s, item.GetKey())
	if err != nil {
		return state.SetRequest{}, err
	}
	isJSON := jsonValues || isJSONContentType(item.GetMetadata()[state.MetaContentType])
	if isJSON && !jsonValues && !json.Valid(item.GetValue()) {
		return state.SetRequest{}, apierr.StateSave(s.Name, errors.New("value is not valid JSON but metadata contentType is application/json"), http.StatusBadRequest, codes.InvalidArgument)
	}
	return state.SetRequest{
		Key: key, Value: item.GetValue(), Binary: !isJSON,
		ETag: etagFromProto(item.GetEtag()), Metadata: item.GetMetadata(), Options: optionsFromProto(item.GetOptions()),
	}, nil
}

func isJSONContentType(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	return ct == ContentTypeJSON
}

// DeleteState removes one key.
func (c *Core) DeleteState(ctx context.Context, req *runtimev1.DeleteStateRequest) error {
	s, err := c.store(req.GetStoreName())
	if err != nil {
		return err
	}
	key, err := storedKey(s, req.GetKey())
	if err != nil {
		return err
	}
	err = c.measured(s.Name, resiliency.Statestore, metrics.OpDelete).Run(ctx, func(ctx context.Context) error {
		return s.Store.Delete(ctx, state.DeleteRequest{Key: key, ETag: etagFromProto(req.GetEtag()), Metadata: req.GetMetadata(), Options: optionsFromProto(req.GetOptions())})
	})
	if err != nil {
		h, g := writeStatus(err)
		return apierr.StateDelete(req.GetKey(), err, h, g)
	}
	return nil
}

// DeleteBulkState removes many keys (gRPC only).
func (c *Core) DeleteBulkState(ctx context.Context, req *runtimev1.DeleteBulkStateRequest) error {
	s, err := c.store(req.GetStoreName())
	if err != nil {
		return err
	}
	reqs := make([]state.DeleteRequest, 0, len(req.GetStates()))
	for _, item := range req.GetStates() {
		key, err := storedKey(s, item.GetKey())
		if err != nil {
			return err
		}
		reqs = append(reqs, state.DeleteRequest{Key: key, ETag: etagFromProto(item.GetEtag()), Metadata: item.GetMetadata(), Options: optionsFromProto(item.GetOptions())})
	}
	err = c.measured(s.Name, resiliency.Statestore, metrics.OpBulkDelete).Run(ctx, func(ctx context.Context) error {
		if bd, ok := s.Store.(state.BulkDeleter); ok && len(reqs) > 1 {
			return bd.BulkDelete(ctx, reqs)
		}
		for _, r := range reqs {
			if err := s.Store.Delete(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		h, g := writeStatus(err)
		return apierr.StateBulkDelete(s.Name, err, h, g)
	}
	return nil
}

// ExecuteStateTransaction applies operations atomically (gRPC values).
func (c *Core) ExecuteStateTransaction(ctx context.Context, req *runtimev1.ExecuteStateTransactionRequest) error {
	return c.transaction(ctx, req, false)
}

// ExecuteStateTransactionJSON applies operations atomically (HTTP, JSON values).
func (c *Core) ExecuteStateTransactionJSON(ctx context.Context, req *runtimev1.ExecuteStateTransactionRequest) error {
	return c.transaction(ctx, req, true)
}

func (c *Core) transaction(ctx context.Context, req *runtimev1.ExecuteStateTransactionRequest, jsonValues bool) error {
	s, err := c.store(req.GetStoreName())
	if err != nil {
		return err
	}
	tx, ok := s.Store.(state.Transactional)
	if !ok || !s.Has(state.FeatureTransactional) {
		return apierr.StateTransactionsNotSupported(s.Name)
	}
	ops, err := transactionOps(s, req, jsonValues)
	if err != nil {
		return err
	}
	if l, ok := s.Store.(state.TransactionLimiter); ok {
		if max := l.MaxOperations(); max > 0 && len(ops) > max {
			return apierr.StateTooManyTransactions(s.Name, len(ops), max)
		}
	}
	if len(ops) == 0 {
		return nil
	}
	return c.commit(ctx, s, tx, state.TransactionRequest{Operations: ops, Metadata: req.GetMetadata()})
}

func transactionOps(s *state.Component, req *runtimev1.ExecuteStateTransactionRequest, jsonValues bool) ([]state.Operation, error) {
	ops := make([]state.Operation, 0, len(req.GetOperations()))
	for _, o := range req.GetOperations() {
		item := o.GetRequest()
		if item == nil {
			return nil, apierr.MalformedMsg("transaction operation has no request")
		}
		item.Metadata = mergeMetadata(req.GetMetadata(), item.GetMetadata())
		switch state.OperationType(o.GetOperationType()) {
		case state.OpUpsert:
			sr, err := setRequest(s, item, jsonValues)
			if err != nil {
				return nil, err
			}
			ops = append(ops, state.Operation{Type: state.OpUpsert, Set: sr})
		case state.OpDelete:
			if item.GetKey() == "" {
				return nil, apierr.MalformedMsg(`"key" is a required field`)
			}
			key, err := storedKey(s, item.GetKey())
			if err != nil {
				return nil, err
			}
			ops = append(ops, state.Operation{Type: state.OpDelete, Delete: state.DeleteRequest{
				Key: key, ETag: etagFromProto(item.GetEtag()), Metadata: item.GetMetadata(), Options: optionsFromProto(item.GetOptions())}})
		default:
			return nil, apierr.StateOperationNotSupported(o.GetOperationType())
		}
	}
	return ops, nil
}

// mergeMetadata returns base overlaid with own (own wins), without
// modifying either map.
func mergeMetadata(base, own map[string]string) map[string]string {
	if len(base) == 0 {
		return own
	}
	out := make(map[string]string, len(base)+len(own))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

// QueryState runs an alpha1 query, restricted to this app's keys.
func (c *Core) QueryState(ctx context.Context, req *runtimev1.QueryStateRequest) (*runtimev1.QueryStateResponse, error) {
	s, err := c.store(req.GetStoreName())
	if err != nil {
		return nil, err
	}
	q, ok := s.Store.(state.Querier)
	if !ok || !s.Has(state.FeatureQueryAPI) {
		return nil, apierr.StateQueryNotSupported(s.Name)
	}
	parsed, err := query.Parse([]byte(req.GetQuery()))
	if err != nil {
		return nil, apierr.StateQuery(s.Name, err)
	}
	var res state.QueryResponse
	err = c.measured(s.Name, resiliency.Statestore, metrics.OpQuery).Run(ctx, func(ctx context.Context) (err error) {
		res, err = q.Query(ctx, state.QueryRequest{Query: parsed, KeyPrefix: s.Keys.Prefix(), Metadata: req.GetMetadata()})
		return err
	})
	if err != nil {
		return nil, apierr.StateQuery(s.Name, err)
	}
	out := &runtimev1.QueryStateResponse{Token: res.Token, Metadata: res.Metadata, Results: make([]*runtimev1.QueryStateItem, 0, len(res.Results))}
	for _, r := range res.Results {
		out.Results = append(out.Results, &runtimev1.QueryStateItem{Key: s.Keys.User(r.Key), Data: r.Data, Etag: r.ETag})
	}
	return out, nil
}
