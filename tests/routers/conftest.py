"""Every route test starts with an empty mock journal and scenario queue."""

import pytest

from mock_openrouter.testing import MockControl


@pytest.fixture(autouse=True)
def _fresh_mock(journal: MockControl) -> None:
    """Depending on `journal` resets the mock before each test."""
