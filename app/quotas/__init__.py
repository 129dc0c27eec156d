"""Limits per caller, admitted before the upstream call and settled after it.

limits.py     what is limited (settings), the need of one call, a decision, UTC periods
memory.py     the in-process store (one process)
redis_store.py the Redis store: one atomic script per admission and per settlement
estimate.py   a call's worst case: tokens and USD, priced from the model catalog
hook.py       the pipeline's admission and record hooks, the 429s and the headers
service.py    the quotas for the app's lifespan
"""
