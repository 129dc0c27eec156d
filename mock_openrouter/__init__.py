"""A mock OpenRouter, run as its own process, for the gateway's tests, dev mode and benchmarks.

Scenarios are chosen by the model name (``mock/<scenario>?<params>``; `api.py`), and
``/__mock/*`` is its control plane (journal, queue, config).
``python -m mock_openrouter --port 0`` prints
``mock-openrouter listening on http://127.0.0.1:<port>``; ``start_mock()`` does that for you.
"""

from .process import MockProcess, start_mock

__version__ = "0.1.0"

__all__ = ["MockProcess", "__version__", "start_mock"]
