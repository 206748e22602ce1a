package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"
)

// Storage layout, shared with Dapr's Redis state store: each item is a HASH
// with the value bytes in field "data" and an integer "version" that is the
// ETag. The first write makes version 1 and every write adds one. Keys that
// hold a plain string (very old Dapr data) are read as a value without ETag.
// Dapr may also leave a "first-write" field; it is kept untouched.

// getScript reads one item and its remaining lifetime in a single round trip.
// Reply: {} when missing, else {type, data, version, pttl} where data and
// version may be null.
var getScript = goredis.NewScript(`
local key = KEYS[1]
local t = redis.call('TYPE', key)['ok']
if t == 'none' then return {} end
local pttl = redis.call('PTTL', key)
if t == 'hash' then
  local f = redis.call('HMGET', key, 'data', 'version')
  return {t, f[1], f[2], pttl}
end
if t == 'string' then
  return {t, redis.call('GET', key), false, pttl}
end
return {t, false, false, pttl}
`)

// writeScript applies a list of set/delete operations atomically. KEYS[i]
// is the key of operation i; ARGV holds five fields per operation:
// kind ("set" or "del"), etag ("" = none), first ("1" = insert only),
// data, ttl (seconds: > 0 = EXPIRE, <= 0 = PERSIST).
//
// Redis does not roll back a script that fails half way, so the script first
// checks every condition against a simulated view of the keys (later
// operations see the effect of earlier ones) and only then writes. On a
// failed condition nothing is written and the reply is an error
// "ETAGMISMATCH <operation index>".
var writeScript = goredis.NewScript(`
local view = {}
local function current(key)
  local s = view[key]
  if s == nil then
    local t = redis.call('TYPE', key)['ok']
    local v = false
    if t == 'hash' then v = redis.call('HGET', key, 'version') end
    s = {exists = (t ~= 'none'), version = v}
    view[key] = s
  end
  return s
end

local versions = {}
for i, key in ipairs(KEYS) do
  local b = (i - 1) * 5
  local kind, etag, first = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local s = current(key)
  if etag ~= '' then
    if s.version ~= etag then return redis.error_reply('ETAGMISMATCH ' .. i) end
  elseif kind == 'set' and first == '1' and s.exists then
    return redis.error_reply('ETAGMISMATCH ' .. i)
  end
  if kind == 'set' then
    versions[i] = string.format('%d', (tonumber(s.version) or 0) + 1)
    view[key] = {exists = true, version = versions[i]}
  else
    view[key] = {exists = false, version = false}
  end
end

for i, key in ipairs(KEYS) do
  local b = (i - 1) * 5
  if ARGV[b + 1] == 'set' then
    local t = redis.call('TYPE', key)['ok']
    if t ~= 'none' and t ~= 'hash' then redis.call('DEL', key) end
    redis.call('HSET', key, 'data', ARGV[b + 4], 'version', versions[i])
    local ttl = ARGV[b + 5]
    if tonumber(ttl) > 0 then
      redis.call('EXPIRE', key, ttl)
    else
      redis.call('PERSIST', key)
    end
  else
    redis.call('DEL', key)
  end
end
return #KEYS
`)

// isNoScript reports a script-cache miss (after a server restart or
// SCRIPT FLUSH). Matched by prefix: the message wording varies by version.
func isNoScript(err error) bool { return goredis.HasErrorPrefix(err, "NOSCRIPT") }

// runScript calls the script by SHA and falls back to sending its source
// when the server does not have it cached.
func runScript(ctx context.Context, c goredis.Scripter, s *goredis.Script, keys []string, args ...any) *goredis.Cmd {
	cmd := s.EvalSha(ctx, c, keys, args...)
	if isNoScript(cmd.Err()) {
		return s.Eval(ctx, c, keys, args...)
	}
	return cmd
}

// scriptCall is one queued script invocation of a pipeline.
type scriptCall struct {
	keys []string
	args []any
	cmd  *goredis.Cmd
}

// runPipelined sends many invocations of one script in a single round trip.
// Calls that miss the script cache did not run, so they are retried one by
// one with the source. Errors, including transport ones, are left in each
// call's cmd.
func runPipelined(ctx context.Context, c goredis.UniversalClient, s *goredis.Script, calls []scriptCall) {
	pipe := c.Pipeline()
	for i := range calls {
		calls[i].cmd = s.EvalSha(ctx, pipe, calls[i].keys, calls[i].args...)
	}
	// Exec returns the first failed command's error; go-redis also sets it
	// on that cmd (and a transport error on all of them), read below.
	_, _ = pipe.Exec(ctx)
	for i := range calls {
		if isNoScript(calls[i].cmd.Err()) {
			calls[i].cmd = runScript(ctx, c, s, calls[i].keys, calls[i].args...)
		}
	}
}
