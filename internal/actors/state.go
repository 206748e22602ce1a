package actors

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/outrigger/outrigger/internal/state"
)

// keySeparator joins the parts of an actor state key, as Dapr stores it.
const keySeparator = "||"

// StateKey is the stored key of an actor's state entry:
// appid||type||id||key.
func StateKey(appID, actorType, actorID, key string) string {
	return appID + keySeparator + actorType + keySeparator + actorID + keySeparator + key
}

// StateOperation is one step of an actor state transaction.
type StateOperation struct {
	// Type is "upsert" or "delete".
	Type  string
	Key   string
	Value []byte
	// Metadata may carry ttlInSeconds (upsert only).
	Metadata map[string]string
}

// GetState reads one key of an actor's state. The actor need not be
// active; a missing key is a response with Found false.
func (r *Runtime) GetState(ctx context.Context, actorType, actorID, key string) (state.GetResponse, error) {
	s := r.cfg.StateStore
	if s == nil {
		return state.GetResponse{}, ErrNoStateStore
	}
	return s.Store.Get(ctx, state.GetRequest{Key: StateKey(r.cfg.AppID, actorType, actorID, key)})
}

// ExecuteStateTransaction applies upserts and deletes to an actor's state
// atomically. The actor must be hosted by this sidecar.
func (r *Runtime) ExecuteStateTransaction(ctx context.Context, actorType, actorID string, ops []StateOperation) error {
	s := r.cfg.StateStore
	if s == nil {
		return ErrNoStateStore
	}
	local, err := r.IsLocal(ctx, actorType, actorID)
	if err != nil {
		return err
	}
	if !local {
		return ErrNotLocal
	}
	req := state.TransactionRequest{Operations: make([]state.Operation, 0, len(ops))}
	for _, op := range ops {
		key := StateKey(r.cfg.AppID, actorType, actorID, op.Key)
		switch state.OperationType(op.Type) {
		case state.OpUpsert:
			if _, ok := op.Metadata[state.MetaTTLInSeconds]; ok && !r.cfg.StateTTL {
				return ErrStateTTLDisabled
			}
			req.Operations = append(req.Operations, state.Operation{Type: state.OpUpsert, Set: state.SetRequest{
				Key: key, Value: op.Value, Binary: !json.Valid(op.Value), Metadata: op.Metadata,
			}})
		case state.OpDelete:
			req.Operations = append(req.Operations, state.Operation{Type: state.OpDelete, Delete: state.DeleteRequest{Key: key, Metadata: op.Metadata}})
		default:
			return &ErrUnsupportedOperation{Operation: op.Type}
		}
	}
	if len(req.Operations) == 0 {
		return nil
	}
	tx, ok := s.Store.(state.Transactional)
	if !ok {
		return errors.New("the actor state store " + s.Name + " does not support transactions")
	}
	return tx.Multi(ctx, req)
}
