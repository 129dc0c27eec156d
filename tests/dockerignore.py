"""`.dockerignore` read as Docker reads it, and the build context it leaves, for tests that have
no Docker engine to ask.

The rules followed: one pattern a line, `#` starts a comment line, a leading `/` is dropped;
`*` and `?` match within one path segment, `**` any number of segments; a pattern that matches a
folder matches everything in it; `!` lets back in what an earlier pattern left out, and the last
pattern that matches a path decides.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

WILDCARDS = "*?["


@dataclass(frozen=True)
class Pattern:
    source: str
    regex: re.Pattern[str]
    keep: bool  # a `!` pattern


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def parse(text: str) -> list[Pattern]:
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        body = line[1:].strip() if keep else line
        body = body.lstrip("/").rstrip("/")
        patterns.append(Pattern(body, _regex(body), keep))
    return patterns


def excluded(patterns: list[Pattern], path: str) -> bool:
    """Whether the file or folder `path` (relative, `/`-separated) stays out of the context."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    out = False
    for pattern in patterns:
        if any(pattern.regex.fullmatch(prefix) for prefix in prefixes):
            out = not pattern.keep
    return out


def _may_keep_inside(patterns: list[Pattern], folder: str) -> bool:
    """Whether a `!` pattern could let back in something under the excluded `folder`."""
    return any(
        p.keep and (p.source[:1] in WILDCARDS or p.source.startswith(folder + "/"))
        for p in patterns
    )


def context_files(root: Path, patterns: list[Pattern]) -> list[str]:
    """Every file of the working tree under `root` that a build would send. Excluded folders
    are not walked (.venv alone holds tens of thousands of files)."""
    found = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        dirs[:] = [
            d
            for d in dirs
            if not excluded(patterns, prefix + d) or _may_keep_inside(patterns, prefix + d)
        ]
        found += [prefix + f for f in files if not excluded(patterns, prefix + f)]
    return sorted(found)
