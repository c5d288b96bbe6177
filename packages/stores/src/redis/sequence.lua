-- Per-conversation sequence counter. KEYS[1] is a hash:
--   cur = last number handed out, max = highest number covered by a ceiling committed to MySQL,
--   ep  = the epoch the key was seeded in (bumped in MySQL whenever the Redis server changes).
-- A key from an older epoch may be a stale copy (lagging replica, old RDB): it counts as missing.
-- Nothing here ever creates a counter from nothing: only `seed`, with values read from MySQL.
--
-- ARGV[1] = op, ARGV[2] = the caller's epoch, ARGV[3] = the replication ids of the server(s) that
-- epoch was taken for (comma-separated). Replies are integer arrays, reply[1] a status:
local OK, SEED, RESERVE, BEHIND, NOOP, CHANGED = 0, 1, 2, 3, 4, 5
-- OK: done. SEED: missing or stale, seed from MySQL. RESERVE: block used up, reserve more in
-- MySQL. BEHIND: the key is from a newer epoch than the caller's, the caller must refresh it.
-- NOOP: seed/extend found nothing to do. CHANGED: this server is not the one the caller's epoch was
-- taken for; nothing was read or written.

local key = KEYS[1]
local op = ARGV[1]
local epoch = tonumber(ARGV[2])

-- The fence. A server whose data was replaced in place (a full resync from another server, then a
-- promotion) keeps its run_id and its clients' connections, but never its replication id: Redis
-- draws a new one at every promotion and every start, and a resync adopts the source's. So the id
-- the caller's epoch was taken for is checked here, on every call, before the data is trusted.
-- A replica shares its master's id, so the role is checked too: only a primary's data is trusted.
local replication = redis.call('INFO', 'replication')
local replid = string.match(replication, 'master_replid:(%x+)')
if not replid or not string.find(replication, 'role:master', 1, true) or not string.find(ARGV[3], replid, 1, true) then
  return { CHANGED }
end

local fields = redis.call('HMGET', key, 'cur', 'max', 'ep')
local cur, max, ep = tonumber(fields[1]), tonumber(fields[2]), tonumber(fields[3])
local current = cur ~= nil and max ~= nil and ep ~= nil and ep >= epoch

if current and ep > epoch then
  return { BEHIND, ep }
end

if op == 'next' then
  -- ARGV[4] = count, ARGV[5] = prefetch threshold: hint when fewer numbers than this stay reserved.
  if not current then
    -- reply[2] = 1 when the key exists from an older epoch: a conversation known before, not a new one.
    local stale = 0
    if cur ~= nil then
      stale = 1
    end
    return { SEED, stale }
  end
  local count = tonumber(ARGV[4])
  if cur + count > max then
    return { RESERVE, cur, max }
  end
  -- HINCRBY keeps the arithmetic in 64-bit integers; max < 2^53 keeps Lua's doubles exact too.
  local last = redis.call('HINCRBY', key, 'cur', count)
  local prefetch = 0
  if max - last < tonumber(ARGV[5]) then
    prefetch = 1
  end
  return { OK, last - count + 1, last, prefetch }
end

if op == 'seed' then
  -- ARGV[4] = the ceiling read from MySQL under the reservation lock (every number ever handed out
  -- is at or below it), ARGV[5] = the new ceiling just committed above it.
  if current then
    return { NOOP }
  end
  redis.call('HSET', key, 'cur', ARGV[4], 'max', ARGV[5], 'ep', ARGV[2])
  return { OK }
end

if op == 'grant' then
  -- Applies a reservation and hands its caller's numbers out in the same atomic step, so no other
  -- instance can use up the new room first (which would send the caller round again).
  -- ARGV[4] = the ceiling read from MySQL under the reservation lock (every number ever handed out
  -- is at or below it), ARGV[5] = the new ceiling just committed above it, ARGV[6] = count.
  local ceiling = tonumber(ARGV[5])
  local seeded = 0
  if current then
    if ceiling > max then
      redis.call('HSET', key, 'max', ARGV[5])
      max = ceiling
    end
  else
    redis.call('HSET', key, 'cur', ARGV[4], 'max', ARGV[5], 'ep', ARGV[2])
    cur, max, seeded = tonumber(ARGV[4]), ceiling, 1
  end
  local count = tonumber(ARGV[6])
  if cur + count > max then
    return { RESERVE, cur, max }
  end
  local last = redis.call('HINCRBY', key, 'cur', count)
  return { OK, last - count + 1, last, seeded }
end

if op == 'peek' then
  -- The raw counter, whatever its epoch (the caller judges it); SEED when there is none.
  if cur == nil or max == nil or ep == nil then
    return { SEED }
  end
  return { OK, cur, max, ep }
end

if op == 'extend' then
  -- ARGV[4] = a ceiling just committed to MySQL. Only raises max of a live key: a missing or stale
  -- key must be seeded, never half-created.
  if not current then
    return { NOOP }
  end
  if tonumber(ARGV[4]) > max then
    redis.call('HSET', key, 'max', ARGV[4])
  end
  return { OK }
end

return redis.error_reply('unknown op ' .. tostring(op))
