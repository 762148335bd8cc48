-- One agent API request, decided and (for a heartbeat) written in one round trip.
-- Every key belongs to one deployment (hash tag ra:{<deployment id>}), see astro_ui/keys.py.
--
-- KEYS: 1 conf, 2 token entry, 3 agents, 4 seen, 5 hb, 6 dirty marker, 7 stats, 8 guesses,
--       9 test runs waiting for an agent (a hash, empty almost always)
-- ARGV: 1 now (unix seconds), 2 ranges version the caller checked the address against,
--       3 "1" when that check let the address in, 4 a token refusal decided without Redis
--       ("" when the token is well formed), 5 agent name, 6 a body refusal ("" when valid),
--       7 the heartbeat record without its closing brace, 8 guesses allowed per address,
--       9 seconds the guesses are remembered, 10 seconds the dirty marker lives,
--       11 the agent's queues as a JSON array
--
-- Answers, first element first:
--   {"miss", what, cached}        conf | token | agent: fill it from the database and call again
--   {"stale", ranges, version}    the ranges changed: check the address again and call again
--   {"refused", code, token, ttl, counted}  refused with this error code; counted=0: the
--                                 deployment is unknown, the caller counts it in ra:stats:refused
--   {"ok", agent, token, announce, runs} written; announce=1: add the deployment to ra:dirty;
--                                 runs: the waiting test runs aimed at this agent or one of its
--                                 queues (id, entry, ...); the caller checks cordon and slots
-- New answer fields go at the end, so callers that do not know them keep working.

local conf = redis.call("HMGET", KEYS[1], "enabled", "rv", "exists")
if not conf[1] or not conf[2] or not conf[3] then
  return {"miss", "conf", false}
end
if conf[2] ~= ARGV[2] then
  return {"stale", redis.call("HGET", KEYS[1], "ranges") or "[]", conf[2]}
end
local counted = conf[3] == "1"

local function refuse(code, token, ttl)
  if counted then
    redis.call("HINCRBY", KEYS[7], "refused:" .. code, 1)
  end
  return {"refused", code, token or false, ttl or 0, counted and 1 or 0}
end

if ARGV[3] ~= "1" then
  return refuse("ip_not_allowed")
end
if ARGV[4] ~= "" then
  return refuse(ARGV[4])
end

local token = redis.call("GET", KEYS[2])
local live = token and token ~= "stale" and token ~= "{}"
local entry = live and cjson.decode(token)
if not live or entry.wrong then
  -- Guessing is throttled per address; a token already known to be valid never is.
  local guesses = tonumber(redis.call("GET", KEYS[8]) or "0")
  if guesses >= tonumber(ARGV[8]) then
    return refuse("too_many_attempts", false, redis.call("TTL", KEYS[8]))
  end
  if not token or token == "stale" then
    return {"miss", "token", token or false}
  end
  if redis.call("INCR", KEYS[8]) == 1 then
    redis.call("EXPIRE", KEYS[8], ARGV[9])
  end
  if token == "{}" then
    return refuse("token_unknown")
  end
  return refuse("token_wrong_deployment", token)
end
if entry.revoked then
  return refuse("token_revoked", token)
end
if entry.exp ~= nil and entry.exp ~= cjson.null and entry.exp <= tonumber(ARGV[1]) then
  return refuse("token_expired", token)
end
if conf[1] ~= "1" then
  return refuse("remote_execution_disabled", token)
end
if ARGV[6] ~= "" then
  return refuse(ARGV[6], token)
end

local agent = redis.call("HGET", KEYS[3], ARGV[5])
if not agent then
  return {"miss", "agent", token}
end
local id = string.match(agent, '"id": ?"([^"]+)"')
redis.call("ZADD", KEYS[4], ARGV[1], id)
redis.call("HSET", KEYS[5], id, ARGV[7] .. ',"token_id":"' .. entry.id .. '"}')
local announce = redis.call("SET", KEYS[6], "1", "NX", "EX", ARGV[10]) and 1 or 0
if counted then
  redis.call("HINCRBY", KEYS[7], "heartbeats", 1)
end
-- Test runs waiting (almost never): only those this agent may take go back, so runs waiting for
-- other agents cost the caller nothing.
local runs = {}
if redis.call("HLEN", KEYS[9]) > 0 then
  local serves = {}
  for _, queue in ipairs(cjson.decode(ARGV[11])) do
    serves[queue] = true
  end
  local waiting = redis.call("HGETALL", KEYS[9])
  for i = 1, #waiting, 2 do
    local run = cjson.decode(waiting[i + 1])
    local target = run.agent ~= cjson.null and run.agent or nil
    if target == id or (target == nil and serves[run.queue]) then
      runs[#runs + 1] = waiting[i]
      runs[#runs + 1] = waiting[i + 1]
    end
  end
end
return {"ok", agent, token, announce, runs}
