"""The modules setup.py compiles with mypyc: what they may import, that an install with a C
compiler runs them compiled, and that compiled they answer what their Python source does (the
in-process store's parity: tests/test_quota_stores.py runs every case on both)."""

import ast
import importlib
import itertools
import os
import shutil
import sys
import sysconfig
from types import ModuleType
from typing import Any

import pytest

from app.policy import prompt_chars
from tests.compiled import COMPILED, ROOT, from_source, module_name


@pytest.mark.parametrize("path", COMPILED)
def test_a_compiled_module_imports_only_the_standard_library_and_the_others(path: str) -> None:
    # The build runs in an isolated environment with mypy and none of the gateway's
    # dependencies: an import of one fails the install (setup.py).
    imported: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    ours = {module_name(p) for p in COMPILED}
    outside = {
        name
        for name in imported
        if name not in ours and name.partition(".")[0] not in sys.stdlib_module_names
    }
    assert not outside, f"{path} imports {outside}"


def test_an_install_with_a_c_compiler_runs_them_compiled() -> None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    expected = (
        ".so" if shutil.which(compiler) and not os.environ.get("AI_GATEWAY_PURE_PYTHON") else ".py"
    )
    for path in COMPILED:
        module = importlib.import_module(module_name(path))
        assert str(module.__file__).endswith(expected), module.__file__


NEED = "app/quotas/need.py"
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
BODIES: list[dict[str, Any]] = [
    {"model": "vendor/a", "messages": MESSAGES, "max_tokens": 100},
    {"model": "vendor/a", "messages": MESSAGES, "max_tokens": 50, "max_completion_tokens": 300},
    {"model": "vendor/a", "messages": MESSAGES, "max_completion_tokens": 7},
    {"model": "vendor/a", "messages": MESSAGES, "max_tokens": True},  # a bool is no bound
    {"model": "vendor/a", "messages": MESSAGES, "max_tokens": -3},
    {"model": "vendor/b:free", "messages": MESSAGES, "reasoning": {"max_tokens": 64}},
    {"model": "vendor/b?x=1", "messages": MESSAGES, "reasoning": {"max_tokens": "64"}},
    {"model": "vendor/unlisted", "messages": MESSAGES, "max_tokens": 10},
    {"model": 3, "messages": []},
    {"model": "vendor/a", "input": "embed these words"},
    {"messages": "not a list"},
]
CATALOG = [
    {"id": "vendor/a", "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
    {"id": "vendor/b", "pricing": {"prompt": "0.00001", "completion": "nan", "request": "0.01"}},
    {"id": "vendor/c", "pricing": {"prompt": -1, "completion": None}},
    {"id": 7, "pricing": {}},
]


def _needs(module: ModuleType, prices: list[Any]) -> Any:
    # `prices` holds what the catalog gives now: its last element, None for none yet.
    return module.Needs(lambda: prices[-1], prompt_chars, 1000)


def test_the_need_is_the_same_compiled_and_from_source() -> None:
    compiled, source = importlib.import_module(module_name(NEED)), from_source(NEED)
    assert compiled is not source
    # Each module has its own Price class, so the prices compare as they read.
    assert repr(compiled.build_prices(CATALOG)) == repr(source.build_prices(CATALOG))
    answers = []
    for module in (compiled, source):
        prices: list[Any] = [None]
        needs = _needs(module, prices)
        found = [needs.need_now(BODIES[0], None, True, True, 1000.0)]  # no prices yet
        prices.append(module.build_prices(CATALOG))
        for body, chars, (tokens, usd) in itertools.product(
            BODIES, (None, 12), itertools.product((False, True), repeat=2)
        ):
            found.append(needs.need_now(body, chars, tokens, usd, 1000.0))
            found.append(needs.tokens(body, chars))
        # New prices: the old ones serve for PRICES_RECHECK_S, then the new ones.
        prices.append(module.build_prices(CATALOG[:1]))
        found.append(needs.need_now(BODIES[7], None, True, True, 1000.5))
        found.append(needs.need_now(BODIES[7], None, True, True, 1001.0))
        answers.append(found)
    assert answers[0] == answers[1]
    assert answers[0][0] is None
    assert answers[0][-2] != answers[0][-1]  # the dearest price changed with the catalog


FASTPATH = "app/quotas/fastpath.py"
SHOWN: list[tuple[Any, ...]] = [
    ("rpm", 30.0, 29.0, 2.0),
    ("rpm", 30, 0, 0.5),  # ints, as a Standing from the Redis store may hold them
    ("concurrent", 4.0, 3.0, 0.0),
    ("tokens_per_day", 200000.0, 199873.0, 41234.2),
    ("usd_per_day", 0.5, 0.4876543219, 41234.9),
    ("usd_per_month", 5.0, -0.1, 1.0),
]


def test_the_headers_and_the_charge_are_the_same_compiled_and_from_source() -> None:
    compiled, source = importlib.import_module(module_name(FASTPATH)), from_source(FASTPATH)
    for shown in SHOWN:
        assert compiled.limit_headers(shown) == source.limit_headers(shown), shown
    assert compiled.limit_headers(SHOWN[4]) == [
        (b"x-ratelimit-limit", b"0.5"),
        (b"x-ratelimit-remaining", b"0.487654"),
        (b"x-ratelimit-reset", b"41235"),
    ]
    need = (500, 0.25)
    for reported in itertools.product((None, 7), (None, 11), (None, 0.0, 0.125), (False, True)):
        assert compiled.charged(need, *reported) == source.charged(need, *reported), reported
