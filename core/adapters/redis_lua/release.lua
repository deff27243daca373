-- Undo or correct a claim after MySQL disagreed: write MySQL's view of the code and give
-- the user's per-campaign count back. Same {tenant} slot for every key.
-- KEYS: 1 code, 2 per-user hash, 3 request
-- ARGV: 1 code value from MySQL ('' deletes the entry), 2 user_id, 3 forget request (1/0)
if ARGV[1] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
if mine > 0 then redis.call('HINCRBY', KEYS[2], ARGV[2], -1) end
if ARGV[3] == '1' then redis.call('DEL', KEYS[3]) end
return 1
