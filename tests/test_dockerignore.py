"""The image's build context: `.dockerignore` keeps secrets, environments and local data out,
and lets in everything the Dockerfile copies (tests/dockerignore.py reads it as Docker does)."""

from pathlib import Path

import pytest

from tests.dockerfile import copies
from tests.dockerignore import context_files, excluded, parse

ROOT = Path(__file__).parent.parent
PATTERNS = parse((ROOT / ".dockerignore").read_text())

# What must never reach a build: secrets, the virtualenv, local data and build output, the
# tests' Node modules, git history, benchmark results and caches, wherever they sit.
NEVER_SENT = [
    ".env",
    ".env.production",
    "app/.env",
    ".venv/bin/python",
    "data/ledger.db",
    "build/lib/app/main.py",
    "tests/clients/node_modules/@insforge/sdk/package.json",
    ".git/config",
    "bench/results/latest.json",
    ".mypy_cache/3.11/app/main.data.json",
    ".ruff_cache/CACHEDIR.TAG",
    ".pytest_cache/v/cache/lastfailed",
    ".hypothesis/examples/x",
    "app/__pycache__/main.cpython-311.pyc",
    "mock_openrouter/__pycache__/server.cpython-311.pyc",
    "ai_gateway.egg-info/PKG-INFO",
    "tests/test_packaging.py",
    "deploy/kubernetes/base/secret.yaml",
    "server.key",
]


@pytest.mark.parametrize("path", NEVER_SENT)
def test_never_sent(path: str) -> None:
    assert excluded(PATTERNS, path)


def test_everything_the_dockerfile_copies_is_sent() -> None:
    sources = [source for found, _ in copies() for source in found]
    assert sources  # the Dockerfile was read
    for source in sources:
        assert not excluded(PATTERNS, source), source
        assert (ROOT / source).exists(), source


def test_the_working_tree_sends_only_what_is_copied() -> None:
    """Walked on this tree as it is (with its .venv, data and caches): only the copied sources
    are sent, and no secret or bytecode inside them."""
    sources = {source for found, _ in copies() for source in found}
    sent = context_files(ROOT, PATTERNS)
    assert "app/main.py" in sent
    assert "requirements.lock" in sent
    assert {path.split("/")[0] for path in sent} == sources
    assert not [p for p in sent if "__pycache__" in p or p.endswith(".pyc")]
    assert not [p for p in sent if Path(p).name.startswith(".env")]


def test_a_folder_pattern_covers_its_contents() -> None:
    """The reader itself: the rules the checks above rely on."""
    rules = parse("*\n!app\n**/__pycache__\n/build/\n# a comment\n")
    assert excluded(rules, "anything")
    assert not excluded(rules, "app/deep/module.py")
    assert excluded(rules, "app/deep/__pycache__/module.pyc")
    assert excluded(rules, "build/lib/x.py")
    kept_back = parse("data\n!data/keep.txt\n")
    assert not excluded(kept_back, "data/keep.txt")
    assert excluded(kept_back, "data/other.txt")
