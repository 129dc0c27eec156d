"""The Redis store: the limits of every process that shares REDIS_URL.

Each admission and each settlement is one Lua script, run atomically by Redis in one round
trip (EVALSHA). The algorithm is the in-process store's (app/quotas/memory.py), line for line;
the tests run every case on both. A principal's three keys share a hash tag (`{id}`), so the
scripts also run on a Redis Cluster. Values come back as strings: Redis would truncate Lua's
numbers to integers.
"""

from redis.asyncio import Redis

from app.quotas.limits import KINDS, Decision, Limits, Need, Standing, periods

# Every key lives a little over a month: the monthly spend must outlast its month's last day.
KEY_TTL_S = 40 * 24 * 3600

_COMMON = """
local acct, held, exp = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[1])
local day, month = ARGV[2], ARGV[3]
local function release(id)
  local h = redis.call('HGET', held, id)
  if not h then return end
  local tok, usd = string.match(h, '^(%S+) (%S+)')
  redis.call('HDEL', held, id)
  redis.call('ZREM', exp, id)
  redis.call('HINCRBY', acct, 'held_tokens', 0 - tonumber(tok))
  redis.call('HINCRBYFLOAT', acct, 'held_usd', 0 - tonumber(usd))
end
local function roll()
  local f = redis.call('HMGET', acct, 'day', 'month')
  if f[1] ~= day then redis.call('HSET', acct, 'day', day, 'day_tokens', 0, 'day_usd', 0) end
  if f[2] ~= month then redis.call('HSET', acct, 'month', month, 'month_usd', 0) end
end
local function num(field)
  return tonumber(redis.call('HGET', acct, field) or '0') or 0
end
"""

ADMIT = (
    _COMMON
    + """
local conc, rpm, tokd, usdd, usdm = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]),
  tonumber(ARGV[7]), tonumber(ARGV[8])
local need_tok, need_usd = tonumber(ARGV[9]), tonumber(ARGV[10])
local id, expires_s = ARGV[11], tonumber(ARGV[12])
local to_day, to_month = tonumber(ARGV[13]), tonumber(ARGV[14])
local window, eps = 60, 1e-9
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', exp, '-inf', now)) do release(gone) end
roll()
local held_tok = num('held_tokens')
local held_usd = math.max(0, num('held_usd'))
local out = {}
local function stand(kind, limit, left, reset)
  table.insert(out, {kind, tostring(limit), tostring(left), tostring(reset)})
end
local function refuse(kind, limit, left, reset)
  return {'0', kind, tostring(limit), tostring(left), tostring(reset)}
end
if conc >= 0 then
  local left = conc - redis.call('ZCARD', exp) - 1
  if left < 0 then return refuse('concurrent', conc, 0, 1) end
  stand('concurrent', conc, left, 0)
end
local tat = num('tat')
local new_tat = tat
if rpm == 0 then return refuse('rpm', 0, 0, window) end
if rpm > 0 then
  local interval = window / rpm
  new_tat = math.max(tat, now) + interval
  local wait = new_tat - now - window
  if wait > eps then return refuse('rpm', rpm, 0, wait) end
  stand('rpm', rpm, math.floor((window - (new_tat - now)) / interval + eps), new_tat - now)
end
if tokd >= 0 then
  local spent = num('day_tokens')
  local used = spent + held_tok + need_tok
  if used > tokd then
    return refuse('tokens_per_day', tokd, math.max(0, tokd - spent - held_tok), to_day)
  end
  stand('tokens_per_day', tokd, tokd - used, to_day)
end
local usd_limits = {
  {'usd_per_day', usdd, 'day_usd', to_day}, {'usd_per_month', usdm, 'month_usd', to_month}
}
for _, lim in ipairs(usd_limits) do
  if lim[2] >= 0 then
    local spent = num(lim[3])
    local used = spent + held_usd + need_usd
    if used > lim[2] + eps then
      return refuse(lim[1], lim[2], math.max(0, lim[2] - spent - held_usd), lim[4])
    end
    stand(lim[1], lim[2], lim[2] - used, lim[4])
  end
end
if rpm > 0 then redis.call('HSET', acct, 'tat', tostring(new_tat)) end
redis.call('HSET', held, id, tostring(need_tok) .. ' ' .. tostring(need_usd))
redis.call('ZADD', exp, now + expires_s, id)
redis.call('HINCRBY', acct, 'held_tokens', need_tok)
redis.call('HINCRBYFLOAT', acct, 'held_usd', need_usd)
for _, k in ipairs(KEYS) do redis.call('EXPIRE', k, ARGV[15]) end
local function share(s)
  local limit = tonumber(s[2])
  if limit > 0 then return tonumber(s[3]) / limit end
  return 0
end
local best = nil
for _, s in ipairs(out) do
  if best == nil or share(s) < share(best) then best = s end
end
if best == nil then return {'1'} end
return {'1', best[1], best[2], best[3], best[4]}
"""
)

STANDING = (
    _COMMON
    + """
local conc, rpm, tokd, usdd, usdm = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]),
  tonumber(ARGV[7]), tonumber(ARGV[8])
local to_day, to_month = tonumber(ARGV[9]), tonumber(ARGV[10])
local window, eps = 60, 1e-9
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', exp, '-inf', now)) do release(gone) end
roll()
local held_usd = math.max(0, num('held_usd'))
local out = {}
local function stand(kind, limit, left, reset)
  table.insert(out, kind)
  table.insert(out, tostring(limit))
  table.insert(out, tostring(left))
  table.insert(out, tostring(reset))
end
if conc >= 0 then stand('concurrent', conc, conc - redis.call('ZCARD', exp), 0) end
if rpm == 0 then stand('rpm', 0, 0, window) end
if rpm > 0 then
  local ahead = math.max(0, num('tat') - now)
  stand('rpm', rpm, math.floor((window - ahead) / (window / rpm) + eps), ahead)
end
if tokd >= 0 then
  stand('tokens_per_day', tokd, tokd - num('day_tokens') - num('held_tokens'), to_day)
end
if usdd >= 0 then stand('usd_per_day', usdd, usdd - num('day_usd') - held_usd, to_day) end
if usdm >= 0 then stand('usd_per_month', usdm, usdm - num('month_usd') - held_usd, to_month) end
return out
"""
)

SETTLE = (
    _COMMON
    + """
local id, tokens, usd = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
release(id)
roll()
redis.call('HINCRBY', acct, 'day_tokens', tokens)
redis.call('HINCRBYFLOAT', acct, 'day_usd', usd)
redis.call('HINCRBYFLOAT', acct, 'month_usd', usd)
for _, k in ipairs(KEYS) do redis.call('EXPIRE', k, ARGV[7]) end
return 1
"""
)


def _keys(key: str) -> list[str]:
    tag = "{" + key.replace("}", "") + "}"
    return [f"aigw:q:{tag}:account", f"aigw:q:{tag}:held", f"aigw:q:{tag}:expiry"]


def _off(value: float | None) -> float:
    """The scripts' "no limit" is -1: 0 is a limit (an admin's "no calls at all")."""
    return -1 if value is None else value


class RedisStore:
    def __init__(self, client: Redis) -> None:
        self.client = client
        self._admit = client.register_script(ADMIT)
        self._settle = client.register_script(SETTLE)
        self._standing = client.register_script(STANDING)

    async def admit(
        self, key: str, limits: Limits, need: Need, reservation: str, now: float, expires_s: float
    ) -> Decision:
        p = periods(now)
        args: list[str | float] = [now, p.day, p.month, *(_off(v) for v in limits.values())]
        args += [need[0], need[1], reservation, expires_s, p.to_day_end_s, p.to_month_end_s]
        args.append(KEY_TTL_S)
        answer = await self._admit(keys=_keys(key), args=args)
        fields = [a.decode() if isinstance(a, bytes) else str(a) for a in answer]
        if len(fields) == 1:
            return Decision(True, None)
        kind = next(k for k in KINDS if k == fields[1])
        standing = Standing(kind, float(fields[2]), float(fields[3]), float(fields[4]))
        return Decision(fields[0] == "1", standing)

    async def standing(self, key: str, limits: Limits, now: float) -> list[Standing]:
        p = periods(now)
        args: list[str | float] = [now, p.day, p.month, *(_off(v) for v in limits.values())]
        args += [p.to_day_end_s, p.to_month_end_s]
        answer = await self._standing(keys=_keys(key), args=args)
        fields = [a.decode() if isinstance(a, bytes) else str(a) for a in answer]
        out = []
        for i in range(0, len(fields), 4):
            kind = next(k for k in KINDS if k == fields[i])
            out.append(Standing(kind, *(float(f) for f in fields[i + 1 : i + 4])))
        return out

    async def settle(self, key: str, reservation: str, tokens: int, usd: float, now: float) -> None:
        p = periods(now)
        args: list[str | float] = [now, p.day, p.month, reservation, tokens, usd, KEY_TTL_S]
        await self._settle(keys=_keys(key), args=args)
