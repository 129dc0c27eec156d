"""The Dockerfile's instructions, read for tests that cannot build the image: what it copies
from the build context, the pip commands its RUN lines give, and a folder laid out as the
image's WORKDIR would be (the context, less .dockerignore, copied by its COPY lines)."""

import json
import shlex
import shutil
from pathlib import Path

from tests.dockerignore import context_files, parse

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def instructions(name: str) -> list[str]:
    """The arguments of every `name` instruction, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [line.split(None, 1)[1] for line in lines if line.startswith(name + " ")]


def copies() -> list[tuple[list[str], str]]:
    """Each COPY's sources (in the build context) and destination (in WORKDIR)."""
    found = []
    for args in instructions("COPY"):
        words = args.split()
        assert not any(w.startswith("--from") for w in words), "a stage copy: read by hand"
        found.append(([w for w in words[:-1] if not w.startswith("--")], words[-1]))
    return found


def pip_commands() -> list[list[str]]:
    """The arguments of each `pip …` command in the RUN lines, in order."""
    found = []
    for args in instructions("RUN"):
        for command in args.split("&&"):
            words = shlex.split(command)
            if words and words[0] == "pip":
                found.append(words[1:])
    return found


def start_command() -> list[str]:
    command = json.loads(instructions("CMD")[-1])
    assert isinstance(command, list)
    return [str(word) for word in command]


def lay_out_workdir(target: Path) -> None:
    """`target` as WORKDIR is after the COPY lines: only what the context lets through. A
    source that the context lacks fails here, as it fails the build."""
    sent = context_files(ROOT, parse((ROOT / ".dockerignore").read_text()))
    for sources, destination in copies():
        for source in sources:
            copied = 0
            for relative in sent:
                if relative == source:  # a file: into a folder (ends in /) or to that name
                    into_folder = destination.endswith("/")
                    dest = target / destination / source if into_folder else target / destination
                elif relative.startswith(source + "/"):  # a folder: its contents
                    dest = target / destination / relative[len(source) + 1 :]
                else:
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / relative, dest)
                copied += 1
            assert copied, f"COPY {source}: not in the build context (.dockerignore?)"
