"""The fenced blocks of the project's READMEs, read from the files themselves, for the tests that run them as
written (tests/walkthrough/).

The convention, in README.md, protocol/README.md and deploy/README.md: a fenced block in `bash`, `console`
or `python` is a command example, and a test runs it literally. A block that cannot run as a test (it needs
docker or kubernetes, or installs packages) has `<!-- not run: REASON -->` on the line before its fence; the
reason is required. In a `console` block, a line starting with `$ ` is a command and the lines up to the
next command are what it prints. Blocks in other languages (or none) are not commands."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DOCUMENTED",
    "PACT_HOST",
    "README",
    "ROOT",
    "RUNNABLE",
    "WALKTHROUGH",
    "Block",
    "background_commands",
    "blocks",
    "console_session",
    "section",
    "walkthrough_blocks",
]

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
#: The READMEs whose command examples run as tests.
DOCUMENTED = (README, ROOT / "protocol" / "README.md", ROOT / "deploy" / "README.md")
RUNNABLE = frozenset({"bash", "console", "python"})
#: The heading of README.md's walkthrough, whose shell blocks tests/walkthrough/test_walkthrough.py runs.
WALKTHROUGH = "Five-minute walkthrough"
#: The heading of README.md's standalone PACT host section (tests/walkthrough/test_pact_host.py).
PACT_HOST = "One company's PACT host"

_FENCE = re.compile(r"^```(\S*)\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_NOT_RUN = re.compile(r"^<!--\s*not run:\s*(.*?)\s*-->$")


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block: where it is, its language, its text, the headings above it, and why it is not run
    (None: it is run)."""

    path: Path
    line: int  # of the opening fence, from 1
    language: str
    text: str
    headings: tuple[str, ...]  # the enclosing headings, outermost first
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    headings: list[tuple[int, str]] = []
    index = 0
    while index < len(lines):
        heading = _HEADING.match(lines[index])
        fence = _FENCE.match(lines[index])
        if heading is not None:
            level = len(heading.group(1))
            headings = [h for h in headings if h[0] < level] + [(level, heading.group(2))]
        elif fence is not None:
            end = next(
                (n for n in range(index + 1, len(lines)) if lines[n].strip() == "```"),
                None,
            )
            if end is None:
                raise ValueError(f"{path}:{index + 1}: a fence that is never closed")
            before = next((lines[n].strip() for n in range(index - 1, -1, -1) if lines[n].strip()), "")
            marker = _NOT_RUN.match(before)
            found.append(
                Block(
                    path=path,
                    line=index + 1,
                    language=fence.group(1),
                    text="\n".join(lines[index + 1 : end]) + "\n",
                    headings=tuple(h[1] for h in headings),
                    not_run=marker.group(1) if marker is not None else None,
                )
            )
            index = end
        index += 1
    return found


def section(path: Path, heading: str) -> list[Block]:
    """The blocks under the heading that starts with `heading` (its subsections included)."""
    return [b for b in blocks(path) if any(h.startswith(heading) for h in b.headings)]


def walkthrough_blocks(heading: str = WALKTHROUGH) -> list[Block]:
    """The shell blocks of a README.md section run as a whole (default: the walkthrough), in order."""
    return [b for b in section(README, heading) if b.language == "bash"]


def console_session(block: Block) -> list[tuple[str, str]]:
    """(command, what it prints) for each `$ ` line of a console block."""
    session: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            session.append((line[2:], []))
        elif session:
            session[-1][1].append(line)
        else:
            raise ValueError(f"{block.where}: output before the first `$ ` command")
    return [(command, "".join(f"{line}\n" for line in shown)) for command, shown in session]


def background_commands(block: Block) -> int:
    """How many commands of a shell block run in the background (end with a single `&`)."""
    return sum(1 for line in block.text.splitlines() if re.search(r"(?<!&)&\s*(#.*)?$", line))
