"""The LiteLLM proxy as baseline (d): one worker, a model list pointing at the mock.

LiteLLM lives in its own virtualenv (bench/.venv-litellm, made by bench/litellm.sh) so none of
its many dependencies reach the gateway's. It speaks the OpenAI API under /v1, so it is sent the
upstream request kinds as they are. Its model cost map is read from the package, not fetched:
the network here reaches only package registries.
"""

import os
from pathlib import Path

from bench.procs import Server, free_port, launch
from bench.scenarios import UPSTREAM_KEY

CONFIG = """\
model_list:
  - model_name: mock/text
    litellm_params:
      model: openai/mock/text
      api_base: {base}
      api_key: {key}
  - model_name: openai/text-embedding-3-small
    litellm_params:
      model: openai/openai/text-embedding-3-small
      api_base: {base}
      api_key: {key}
litellm_settings:
  telemetry: false
  drop_params: true
general_settings:
  master_key: {master}
"""
# LiteLLM refuses to start without a master key; it is then checked on every request, as the
# gateway checks its JWT.
MASTER_KEY = "sk-bench-litellm-0123456789"
STARTUP_TIMEOUT_S = 120.0  # imports alone take many seconds on one core


def version(venv: Path) -> str:
    for meta in sorted((venv / "lib").glob("python3*/site-packages/litellm-*.dist-info")):
        return meta.name.removeprefix("litellm-").removesuffix(".dist-info")
    return "unknown"


def start_litellm(workdir: Path, venv: Path, mock: Server) -> Server:
    binary = venv.resolve() / "bin" / "litellm"  # the server runs in a scratch directory
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: run bench/litellm.sh")
    root = workdir / "litellm"
    root.mkdir()
    config = root / "config.yaml"
    config.write_text(CONFIG.format(base=f"{mock.url}/api/v1", key=UPSTREAM_KEY, master=MASTER_KEY))
    port = free_port()
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
    }
    cmd = [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--num_workers", "1"]
    return launch(
        "litellm", cmd, port, root / "litellm.log", "/health/liveliness", env, STARTUP_TIMEOUT_S
    )
