-- Atomically check and claim codes for a run of redemption requests of ONE tenant, in order
-- (one call instead of one per request: the client packs and parses one command).
-- Every key shares the {tenant} hash tag, so the call lands in one Redis Cluster slot;
-- campaign and per-user keys are derived from the code's campaign under the same tag.
-- KEYS, 8 per request: 1 code, 2 negative-cache, 3 tenant-ready marker, 4 request,
--       5 product-hour, 6 product-day, 7 user-failures, 8 device-failures (the tenant's
--       "rl:d:" key with no device id, or '', when there is no device: under the tag, so a
--       cluster sees one slot)
-- ARGV: 1 now_ms, 2 request_ttl_ms, 3 user_fail_limit, 4 device_fail_limit,
--       5 tenant key prefix ("<p>:{t}:"), then 7 per request: product_code, user_id,
--       hour_limit, day_limit, code ('' when the code failed the offline check),
--       user tags (",a,b," or ","), channel
-- Reply: one {verdict, campaign_id, used, use_limit} per request; verdicts: CLAIMED, DUP,
--        MISS, RATE_LIMITED, NOT_FOUND, CAMPAIGN_INACTIVE, NOT_YET_VALID, EXPIRED,
--        PRODUCT_NOT_APPLICABLE, ALREADY_USED, USER_LIMIT_REACHED, NOT_ELIGIBLE
local now = tonumber(ARGV[1])
local request_ttl, user_fail_limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local device_fail_limit, prefix = tonumber(ARGV[4]), ARGV[5]
local HOUR, DAY = 3600000, 86400000
-- code statuses as stored (CodeStatus in core/codes/status.py)
local UNUSED, CLAIMED, VOIDED = '0', '1', '3'

-- a counter's current and previous window keys, and how far into the current one now is
local windows = {}
local function window_keys(base, size)
  local w = windows[base]
  if w == nil then
    local idx = math.floor(now / size)
    w = {base .. ':' .. idx, base .. ':' .. (idx - 1), (now % size) / size}
    windows[base] = w
  end
  return w[1], w[2], w[3]
end

-- Window counters are read once per call and counted here; each changed counter is
-- written back once, at the end (INCRBY its count). The call is atomic, so this is what one
-- INCR per request would leave; a run of one tenant's requests shares its product's
-- windows, so most requests read and write none.
local counts, added = {}, {}

local function counter(key)
  local n = counts[key]
  if n == nil then
    n = tonumber(redis.call('GET', key) or '0')
    counts[key] = n
  end
  return n
end

-- sliding-window counter: previous window weighted by the part of it still in range
local function estimate(base, size)
  local cur, prev, frac = window_keys(base, size)
  return counter(cur) + counter(prev) * (1 - frac)
end

local sizes = {}
local function bump(base, size)
  local cur = window_keys(base, size)
  counts[cur] = counter(cur) + 1
  if added[cur] == nil then added[cur] = 0; sizes[#sizes + 1] = {cur, size} end
  added[cur] = added[cur] + 1
end

-- a window's counter expires two window sizes after its first count: it is read until the
-- end of the next window (as "previous"), which is never later than that
local function write_counts()
  for _, entry in ipairs(sizes) do
    local key, size = entry[1], entry[2]
    local delta = added[key]
    if redis.call('INCRBY', key, delta) == delta then redis.call('PEXPIRE', key, size * 2) end
  end
end

-- a campaign's facts, read once per call
local campaigns = {}
local function campaign_facts(campaign)
  local camp = campaigns[campaign]
  if camp == nil then
    camp = redis.call('HMGET', prefix .. 'camp:' .. campaign,
                      'status', 'from', 'until', 'products', 'pul', 'elig')
    campaigns[campaign] = camp
  end
  return camp
end

-- the campaign's reward conditions ('' or absent: everyone; else ';'-separated "tag,channel",
-- an empty part being no condition): eligible when one holds (schemas.rewards.eligible)
local function eligible(conditions, tags, channel)
  if not conditions or conditions == '' then return true end
  for tag, chan in string.gmatch(conditions, '([^,;]*),([^;]*)') do
    if (tag == '' or string.find(tags, ',' .. tag .. ',', 1, true))
        and (chan == '' or chan == channel) then
      return true
    end
  end
  return false
end

local function claim(k, product, user, hour_limit, day_limit, code, tags, channel)
  local function fail(verdict, campaign)
    bump(k.user_fail, HOUR)
    if k.device_fail ~= '' then bump(k.device_fail, HOUR) end
    return {verdict, campaign or '', '0', '0'}
  end

  -- code '': the code failed the offline check (format, check character, signature). It
  -- claims nothing and is never a MISS, but it is throttled and counted as a failed attempt
  -- like any unknown code (guessing is guessing, whatever the guess looks like)
  local value = false
  if code ~= '' then
    -- the request record is "campaign|code|user|claimed_ms": enough to release a claim that
    -- never reached MySQL (compensation) and to recognise a redelivered request
    local previous = redis.call('GET', k.request)
    if previous then
      return {'DUP', string.match(previous, '^([^|]*)') or '', '0', '0'}
    end

    value = redis.call('GET', k.code)
    if not value then
      if redis.call('EXISTS', k.negative) == 0 and redis.call('EXISTS', k.ready) == 0 then
        return {'MISS', '', '0', '0'}
      end
    end
  end

  if estimate(k.user_fail, HOUR) >= user_fail_limit then return {'RATE_LIMITED', '', '0', '0'} end
  if k.device_fail ~= '' and estimate(k.device_fail, HOUR) >= device_fail_limit then
    return {'RATE_LIMITED', '', '0', '0'}
  end
  if estimate(k.hour, HOUR) >= hour_limit or estimate(k.day, DAY) >= day_limit then
    return {'RATE_LIMITED', '', '0', '0'}
  end
  bump(k.hour, HOUR)
  bump(k.day, DAY)

  if not value then return fail('NOT_FOUND') end

  -- value: campaign_id|use_limit|used|status|bound_user
  local campaign, limit_s, used_s, status, bound =
    string.match(value, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  if campaign == nil or status == VOIDED then return fail('NOT_FOUND') end
  if bound ~= '' and bound ~= user then return fail('NOT_FOUND') end

  local camp = campaign_facts(campaign)
  if not camp[1] then return {'MISS', campaign, '0', '0'} end
  if camp[1] ~= 'ACTIVE' then return fail('CAMPAIGN_INACTIVE', campaign) end
  if now < tonumber(camp[2]) then return fail('NOT_YET_VALID', campaign) end
  if camp[3] ~= '' and now >= tonumber(camp[3]) then return fail('EXPIRED', campaign) end
  if camp[4] ~= '' and not string.find(camp[4], ',' .. product .. ',', 1, true) then
    return fail('PRODUCT_NOT_APPLICABLE', campaign)
  end

  local use_limit, used = tonumber(limit_s), tonumber(used_s)
  if used >= use_limit then return fail('ALREADY_USED', campaign) end

  local pu_key = prefix .. 'pu:' .. campaign
  local mine = tonumber(redis.call('HGET', pu_key, user) or '0')
  if mine >= tonumber(camp[5]) then return fail('USER_LIMIT_REACHED', campaign) end
  -- no reward would apply: refuse before claiming (not a failed attempt, not a guess)
  if not eligible(camp[6], tags, channel) then return {'NOT_ELIGIBLE', campaign, '0', '0'} end

  used = used + 1
  local new_status = UNUSED
  if used >= use_limit then new_status = CLAIMED end
  redis.call('SET', k.code, campaign .. '|' .. limit_s .. '|' .. used .. '|' .. new_status .. '|' .. bound,
             'KEEPTTL')
  redis.call('HINCRBY', pu_key, user, 1)
  redis.call('SET', k.request, campaign .. '|' .. code .. '|' .. user .. '|' .. ARGV[1],
             'PX', request_ttl)
  return {'CLAIMED', campaign, tostring(used), limit_s}
end

local replies = {}
local no_device = prefix .. 'rl:d:'
for i = 0, #KEYS / 8 - 1 do
  local kb, ab = i * 8, 5 + i * 7
  local device_fail = KEYS[kb + 8]
  if device_fail == no_device then device_fail = '' end
  local keys = {
    code = KEYS[kb + 1], negative = KEYS[kb + 2], ready = KEYS[kb + 3], request = KEYS[kb + 4],
    hour = KEYS[kb + 5], day = KEYS[kb + 6], user_fail = KEYS[kb + 7], device_fail = device_fail,
  }
  replies[i + 1] = claim(keys, ARGV[ab + 1], ARGV[ab + 2], tonumber(ARGV[ab + 3]),
                         tonumber(ARGV[ab + 4]), ARGV[ab + 5], ARGV[ab + 6], ARGV[ab + 7])
end
write_counts()
return replies
