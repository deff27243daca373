-- Atomically check and claim one code for one redemption request.
-- Every key shares the {tenant} hash tag, so the call lands in one Redis Cluster slot;
-- campaign and per-user keys are derived from the code's campaign under the same tag.
-- KEYS: 1 code, 2 negative-cache, 3 tenant-ready marker, 4 request, 5 product-hour,
--       6 product-day, 7 user-failures, 8 device-failures ('' when no device)
-- ARGV: 1 now_ms, 2 product_code, 3 user_id, 4 request_ttl_ms, 5 hour_limit, 6 day_limit,
--       7 user_fail_limit, 8 device_fail_limit, 9 tenant key prefix ("<p>:{t}:"), 10 code
-- Reply: {verdict, campaign_id, used, use_limit}; verdicts: CLAIMED, DUP, MISS, RATE_LIMITED,
--        NOT_FOUND, CAMPAIGN_INACTIVE, NOT_YET_VALID, EXPIRED, PRODUCT_NOT_APPLICABLE,
--        ALREADY_USED, USER_LIMIT_REACHED
local now = tonumber(ARGV[1])
local HOUR, DAY = 3600000, 86400000

local function window_keys(base, size)
  local idx = math.floor(now / size)
  return base .. ':' .. idx, base .. ':' .. (idx - 1), (now % size) / size
end

-- sliding-window counter: previous window weighted by the part of it still in range
local function estimate(base, size)
  local cur, prev, frac = window_keys(base, size)
  local c = tonumber(redis.call('GET', cur) or '0')
  local p = tonumber(redis.call('GET', prev) or '0')
  return c + p * (1 - frac)
end

local function bump(base, size)
  local cur = window_keys(base, size)
  redis.call('INCR', cur)
  redis.call('PEXPIRE', cur, size * 2)
end

local function fail(verdict, campaign)
  bump(KEYS[7], HOUR)
  if KEYS[8] ~= '' then bump(KEYS[8], HOUR) end
  return {verdict, campaign or '', '0', '0'}
end

-- the request record is "campaign|code|user|claimed_ms": enough to release a claim that
-- never reached MySQL (compensation) and to recognise a redelivered request
local previous = redis.call('GET', KEYS[4])
if previous then
  return {'DUP', string.match(previous, '^([^|]*)') or '', '0', '0'}
end

local value = redis.call('GET', KEYS[1])
if not value then
  if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[3]) == 0 then
    return {'MISS', '', '0', '0'}
  end
end

if estimate(KEYS[7], HOUR) >= tonumber(ARGV[7]) then return {'RATE_LIMITED', '', '0', '0'} end
if KEYS[8] ~= '' and estimate(KEYS[8], HOUR) >= tonumber(ARGV[8]) then
  return {'RATE_LIMITED', '', '0', '0'}
end
if estimate(KEYS[5], HOUR) >= tonumber(ARGV[5]) or estimate(KEYS[6], DAY) >= tonumber(ARGV[6]) then
  return {'RATE_LIMITED', '', '0', '0'}
end
bump(KEYS[5], HOUR)
bump(KEYS[6], DAY)

if not value then return fail('NOT_FOUND') end

-- value: campaign_id|use_limit|used|status|bound_user
local campaign, limit_s, used_s, status, bound = string.match(value, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
if campaign == nil or status == '3' then return fail('NOT_FOUND') end
if bound ~= '' and bound ~= ARGV[3] then return fail('NOT_FOUND') end

local camp_key = ARGV[9] .. 'camp:' .. campaign
local camp = redis.call('HMGET', camp_key, 'status', 'from', 'until', 'products', 'pul')
if not camp[1] then return {'MISS', campaign, '0', '0'} end
if camp[1] ~= 'ACTIVE' then return fail('CAMPAIGN_INACTIVE', campaign) end
if now < tonumber(camp[2]) then return fail('NOT_YET_VALID', campaign) end
if camp[3] ~= '' and now >= tonumber(camp[3]) then return fail('EXPIRED', campaign) end
if camp[4] ~= '' and not string.find(camp[4], ',' .. ARGV[2] .. ',', 1, true) then
  return fail('PRODUCT_NOT_APPLICABLE', campaign)
end

local use_limit, used = tonumber(limit_s), tonumber(used_s)
if used >= use_limit then return fail('ALREADY_USED', campaign) end

local pu_key = ARGV[9] .. 'pu:' .. campaign
local mine = tonumber(redis.call('HGET', pu_key, ARGV[3]) or '0')
if mine >= tonumber(camp[5]) then return fail('USER_LIMIT_REACHED', campaign) end

used = used + 1
local new_status = '0'
if used >= use_limit then new_status = '1' end
redis.call('SET', KEYS[1], campaign .. '|' .. limit_s .. '|' .. used .. '|' .. new_status .. '|' .. bound, 'KEEPTTL')
redis.call('HINCRBY', pu_key, ARGV[3], 1)
redis.call('SET', KEYS[4], campaign .. '|' .. ARGV[10] .. '|' .. ARGV[3] .. '|' .. ARGV[1],
           'PX', tonumber(ARGV[4]))
return {'CLAIMED', campaign, tostring(used), limit_s}
