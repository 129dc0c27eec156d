"""Which legacy client is calling, where the legacy shapes and the Python SDK's disagree.

The InsForge Python SDK (`insforge` 0.1.0 on PyPI, `client.ai.*`) validates some answers against
its own pydantic models, which differ from the legacy backend's answers: the model list grouped
by modality, `images[].image_url.url`, `credits`. It names itself in every request's
`User-Agent: InsForge-Python/<version>`; those callers get its shapes, everyone else the legacy
ones. This is the only place that decides.
"""

from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

PYTHON_SDK_AGENT = "InsForge-Python/"


def is_python_sdk(user_agent: str | None) -> bool:
    return user_agent is not None and user_agent.startswith(PYTHON_SDK_AGENT)


async def python_sdk_caller(request: Request) -> bool:
    return is_python_sdk(request.headers.get("user-agent"))


PythonSdkDep = Annotated[bool, Depends(python_sdk_caller)]
