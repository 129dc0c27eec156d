"""Limits per caller, admitted before the upstream call and settled after it.

limits.py     what is limited, the need of one call, a decision, UTC periods
memory.py     the in-process store (one process)
redis_store.py the Redis store: one atomic script per admission and per settlement
need.py       a call's worst case: tokens and USD, at given prices
estimate.py   the need at the model catalog's prices, fetched when there are none
fastpath.py   the hooks' per-call work: admission with the defaults in-process, settlement, headers
hook.py       the pipeline's admission and record hooks, the 429s
service.py    the defaults from settings, the quotas for the app's lifespan

limits.py, memory.py, need.py and fastpath.py run on every call: setup.py compiles them with
mypyc where there is a C compiler (pyproject.toml's [tool.ai-gateway] `compiled`), so they
import only the standard library and each other.
"""
