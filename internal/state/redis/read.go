package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/state"
)

// Get reads one item, its ETag and, when it expires, ttlExpireTime.
func (s *Store) Get(ctx context.Context, req state.GetRequest) (state.GetResponse, error) {
	cmd := runScript(ctx, s.client, getScript, []string{req.Key})
	resp, err := decodeGet(cmd, time.Now())
	if err != nil {
		return state.GetResponse{}, fmt.Errorf("redis store: get %s: %w", req.Key, err)
	}
	return resp, nil
}

// BulkGet reads many items in one round trip. Per-key failures are reported
// in the item's Error.
func (s *Store) BulkGet(ctx context.Context, reqs []state.GetRequest) ([]state.BulkItem, error) {
	calls := make([]scriptCall, len(reqs))
	for i, r := range reqs {
		calls[i] = scriptCall{keys: []string{r.Key}}
	}
	runPipelined(ctx, s.client, getScript, calls)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	items := make([]state.BulkItem, len(reqs))
	for i, c := range calls {
		items[i].Key = reqs[i].Key
		resp, err := decodeGet(c.cmd, now)
		if err != nil {
			items[i].Error = err.Error()
			continue
		}
		items[i].GetResponse = resp
	}
	return items, nil
}

// decodeGet turns getScript's reply into a response.
func decodeGet(cmd *goredis.Cmd, now time.Time) (state.GetResponse, error) {
	v, err := cmd.Result()
	if err != nil {
		return state.GetResponse{}, err
	}
	reply, ok := v.([]any)
	if !ok || (len(reply) != 0 && len(reply) != 4) {
		return state.GetResponse{}, fmt.Errorf("unexpected script reply %T", v)
	}
	if len(reply) == 0 {
		return state.GetResponse{}, nil
	}
	kind, _ := reply[0].(string)
	data, hasData := bulk(reply[1])
	version, hasVersion := bulk(reply[2])
	switch kind {
	case "hash":
		if !hasData || !hasVersion {
			return state.GetResponse{}, errors.New("required hash field 'data' or 'version' was not found")
		}
	case "string":
		// Legacy value written with SET: no ETag.
	default:
		return state.GetResponse{}, fmt.Errorf("key holds a Redis %s, not a state item", kind)
	}
	resp := state.GetResponse{Found: true, Data: data, ETag: string(version)}
	if pttl, _ := reply[3].(int64); pttl > 0 {
		exp := now.Add(time.Duration(pttl) * time.Millisecond).UTC()
		resp.Metadata = map[string]string{state.MetaTTLExpireTime: exp.Format(time.RFC3339)}
	}
	return resp, nil
}

// bulk reads a bulk-string element. A missing value arrives as nil (RESP2)
// or false (RESP3, where a Lua false is a boolean).
func bulk(v any) ([]byte, bool) {
	s, ok := v.(string)
	if !ok {
		return nil, false
	}
	return []byte(s), true
}
