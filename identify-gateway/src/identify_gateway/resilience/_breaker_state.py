"""The shared half of `EngineBreaker`: its Redis scripts, and the mirror pybreaker uses as storage.

Redis layout (one breaker): a hash `<prefix><name>` with `state` (pybreaker's names: closed, open,
half-open), `fail_count`, `success_count`, `opened_at` (Redis clock, seconds), and when forced
open `forced`, `forced_until` (Unix time, no field = no end) and `reason`; plus the probe token
`<prefix><name>:probe` (`SET NX PX`, taken only through CLAIM_LUA).

`opened_at` also names the open period: a failed probe re-opens the circuit with a new one, so a
caller that decided to probe on an older view of the state cannot claim the next period's probe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pybreaker

STATES = (pybreaker.STATE_CLOSED, pybreaker.STATE_HALF_OPEN, pybreaker.STATE_OPEN)

# KEYS[1] the state hash. Returns the hash and Redis's clock (seconds, microseconds).
LOAD_LUA = """
return {redis.call('HGETALL', KEYS[1]), redis.call('TIME')}
"""

# KEYS[1] the state hash, KEYS[2] the probe token. ARGV[1] fail_max, ARGV[2] the probe token to
# release ('' for none), ARGV[3..] the operations pybreaker performed on the mirror, in order.
FLUSH_LUA = """
local key, probe = KEYS[1], KEYS[2]
local fail_max = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function state() return redis.call('HGET', key, 'state') or 'closed' end
local function enter(new)
  redis.call('HSET', key, 'state', new)
  if new == 'open' then
    redis.call('HSET', key, 'opened_at', string.format('%.6f', now))
  else
    redis.call('HDEL', key, 'forced', 'forced_until', 'reason')
  end
end
for i = 3, #ARGV do
  local op = ARGV[i]
  if op == 'incr' then
    local n = redis.call('HINCRBY', key, 'fail_count', 1)
    if state() == 'closed' and n >= fail_max then enter('open') end
  elseif op == 'reset' then
    redis.call('HSET', key, 'fail_count', 0)
  elseif op == 'incr_success' then
    redis.call('HINCRBY', key, 'success_count', 1)
  elseif op == 'reset_success' then
    redis.call('HSET', key, 'success_count', 0)
  else
    local new, expected = string.match(op, '^state:([%a%-]+):([%a%-]+)$')
    if new and state() == expected and new ~= expected then enter(new) end
  end
end
if ARGV[2] ~= '' and redis.call('GET', probe) == ARGV[2] then redis.call('DEL', probe) end
return {redis.call('HGETALL', key), t}
"""

# KEYS[1] the state hash, KEYS[2] the probe token. ARGV[1] the token, ARGV[2] its lifetime (ms),
# ARGV[3] the state and ARGV[4] the raw opened_at ('' for none) the caller decided on. The probe is
# claimed only if the shared state is still that one: between a caller's read and its claim, the
# previous probe may have failed (open again, a new period) and released its token. Returns 1 or 0.
CLAIM_LUA = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local opened_at = redis.call('HGET', KEYS[1], 'opened_at') or ''
if state ~= ARGV[3] or opened_at ~= ARGV[4] then return 0 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""

# Operator / quota actions, unconditional. FORCE: ARGV[1] forced_until ('' = no end), ARGV[2] reason.
FORCE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', string.format('%.6f', now), 'forced', '1', 'reason', ARGV[2])
if ARGV[1] == '' then redis.call('HDEL', KEYS[1], 'forced_until') else redis.call('HSET', KEYS[1], 'forced_until', ARGV[1]) end
redis.call('DEL', KEYS[2])
return {redis.call('HGETALL', KEYS[1]), t}
"""
RESET_LUA = """
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'state', 'closed', 'fail_count', 0, 'success_count', 0)
return {redis.call('HGETALL', KEYS[1]), redis.call('TIME')}
"""


@dataclass(frozen=True)
class SharedState:
    """The hash as a load or flush script answered it, with times converted to the local clock."""

    state: str
    period: str  # `opened_at` exactly as stored ('' for none): which open period this state belongs to
    fail_count: int
    success_count: int
    opened_at: float | None  # local Unix time
    forced: bool
    forced_until: float | None
    reason: str | None

    @classmethod
    def parse(cls, raw: list[Any]) -> SharedState:
        pairs, clock = raw
        fields = {_text(pairs[i]): _text(pairs[i + 1]) for i in range(0, len(pairs), 2)}
        offset = time.time() - (int(clock[0]) + int(clock[1]) / 1e6)  # local clock minus Redis's
        state = fields.get("state") or pybreaker.STATE_CLOSED
        return cls(
            state=state if state in STATES else pybreaker.STATE_CLOSED,
            period=fields.get("opened_at") or "",
            fail_count=int(fields.get("fail_count") or 0),
            success_count=int(fields.get("success_count") or 0),
            opened_at=float(fields["opened_at"]) + offset if fields.get("opened_at") else None,
            forced=fields.get("forced") == "1",
            forced_until=float(fields["forced_until"]) if fields.get("forced_until") else None,
            reason=fields.get("reason") or None,
        )


class MirrorStorage(pybreaker.CircuitBreakerStorage):
    """pybreaker's (synchronous) storage, over a local copy of the shared state.

    Reads come from the copy; writes change the copy at once and are queued as operations for the
    next flush to Redis. `recording = False` while the copy adopts the shared state.
    """

    def __init__(self) -> None:
        super().__init__("redis-mirror")
        self._state = pybreaker.STATE_CLOSED
        self._counter = 0
        self._success_counter = 0
        self._opened_at: datetime | None = None
        self.ops: list[str] = []
        self.recording = True

    def _op(self, op: str) -> None:
        if self.recording:
            self.ops.append(op)

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, state: str) -> None:
        self._op(f"state:{state}:{self._state}")
        self._state = state

    def increment_counter(self) -> None:
        self._counter += 1
        self._op("incr")

    def reset_counter(self) -> None:
        self._counter = 0
        self._op("reset")

    def increment_success_counter(self) -> None:
        self._success_counter += 1
        self._op("incr_success")

    def reset_success_counter(self) -> None:
        self._success_counter = 0
        self._op("reset_success")

    @property
    def counter(self) -> int:
        return self._counter

    @property
    def success_counter(self) -> int:
        return self._success_counter

    @property
    def opened_at(self) -> datetime | None:
        return self._opened_at

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        self._opened_at = value  # Redis stamps its own clock when the state op opens the circuit

    def take_ops(self) -> list[str]:
        ops, self.ops = self.ops, []
        return ops


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
