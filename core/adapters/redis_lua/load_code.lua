-- Fill the cache from MySQL without overwriting fresher state written meanwhile.
-- KEYS: 1 code, 2 campaign hash, 3 per-user hash
-- ARGV: 1 code value, 2 status, 3 from_ms, 4 until_ms|'', 5 products ',A,B,'|'', 6 per-user limit,
--       7 user_id|'' , 8 user's used count from MySQL, 9 reward conditions ('' = everyone)
redis.call('SET', KEYS[1], ARGV[1], 'NX')
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'status', ARGV[2], 'from', ARGV[3], 'until', ARGV[4],
             'products', ARGV[5], 'pul', ARGV[6], 'elig', ARGV[9])
end
if ARGV[7] ~= '' then redis.call('HSETNX', KEYS[3], ARGV[7], ARGV[8]) end
return 1
