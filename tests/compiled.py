"""The modules setup.py compiles with mypyc (pyproject.toml's [tool.ai-gateway] `compiled`), and
each one's Python source loaded beside it, so the tests run both: what an install with a C
compiler runs, and what one without runs."""

import importlib.util
import os
import shutil
import sys
import sysconfig
import tomllib
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
COMPILED: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ai-gateway"][
    "compiled"
]


def compiles() -> bool:
    """Whether an install here compiles them: there is a C compiler, and no one said not to."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(compiler) is not None and not os.environ.get("AI_GATEWAY_PURE_PYTHON")


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def built(path: str) -> list[Path]:
    """What the editable install built in place from `path`: its module's extension and the
    group's shared library (setup.py's `group_name`), which holds the code."""
    source = ROOT / path
    return [*source.parent.glob(source.stem + ".*.so"), *ROOT.glob("ai_gateway_native__mypyc.*.so")]


def stale() -> list[str]:
    """The compiled sources changed since they were built: the tests would run the old code."""
    return [
        path
        for path in COMPILED
        if any(so.stat().st_mtime < (ROOT / path).stat().st_mtime for so in built(path))
    ]


def from_source(path: str) -> ModuleType:
    """The module at `path` run from its Python source (under a name of its own), whatever is
    installed; what it imports from the other compiled modules is what is installed."""
    name = module_name(path) + "__source"
    found = sys.modules.get(name)
    if found is not None:
        return found
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module
