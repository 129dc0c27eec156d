"""The one build step pyproject.toml cannot say: the modules its `[tool.ai-gateway] compiled`
names are compiled with mypyc. They run on every call with quotas on, and compiled they cost a
third of what they do as Python (bench/README.md, the quotas stage).

Each extension is optional: without a C compiler the build warns and the package stays pure
Python, which behaves the same (tests/test_compiled.py runs both). AI_GATEWAY_PURE_PYTHON=1
skips compiling. The modules import only the standard library and each other, since the build
runs in an isolated environment that has mypy and none of the gateway's dependencies.
"""

import os
import tomllib
from typing import Any

from setuptools import setup


def extensions() -> list[Any]:  # setuptools' or distutils' Extension, as mypyc makes them
    if os.environ.get("AI_GATEWAY_PURE_PYTHON"):
        return []
    from mypyc.build import mypycify

    with open("pyproject.toml", "rb") as file:
        compiled = tomllib.load(file)["tool"]["ai-gateway"]["compiled"]
    # No config file: pyproject's [tool.mypy] loads the pydantic plugin, which the isolated
    # build does not have (the lint step checks these modules with the project's settings).
    built = mypycify(["--config-file=", "--strict", *compiled], group_name="ai_gateway_native")
    for extension in built:
        extension.optional = True
    return built


setup(ext_modules=extensions())
