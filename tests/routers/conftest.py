"""Every route test starts with an empty mock journal and scenario queue."""

import pytest

from tests.conftest import Journal


@pytest.fixture(autouse=True)
def _fresh_mock(journal: Journal) -> None:
    """Depending on `journal` resets the mock before each test."""
