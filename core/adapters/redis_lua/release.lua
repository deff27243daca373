-- Undo or correct a claim after MySQL disagreed: write MySQL's view of the code and of the
-- user's per-campaign count (or, without it, give one back). Same {tenant} slot for all keys.
-- KEYS: 1 code, 2 per-user hash, 3 request
-- ARGV: 1 code value from MySQL ('' deletes the entry), 2 user_id, 3 forget request (1/0),
--       4 the user's count in MySQL ('' = unknown: decrement instead)
if ARGV[1] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
if ARGV[4] ~= nil and ARGV[4] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
else
  local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
  if mine > 0 then redis.call('HINCRBY', KEYS[2], ARGV[2], -1) end
end
if ARGV[3] == '1' then redis.call('DEL', KEYS[3]) end
return 1
