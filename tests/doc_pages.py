"""The pages a reader follows (README.md, ARCHITECTURE.md, docs/*.md) and what the tests take from them: the
command lines of their ```bash blocks (and `npx cdk …` in inline code), and their relative links."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pages() -> list[Path]:
    """Every page of the documentation, the front page first."""
    return [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class CommandLine:
    page: str  # relative to the repository
    line: str

    def __str__(self) -> str:
        return f"{self.page}: {self.line}"


def command_lines() -> list[CommandLine]:
    """Each command line of every page once (first page wins): continuation lines joined, comments and the
    leading prompt-less blanks dropped, in page order."""
    found: dict[str, CommandLine] = {}
    for path in pages():
        text = path.read_text(encoding="utf-8")
        page = str(path.relative_to(ROOT))
        lines = []
        for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
            lines += block.replace("\\\n", " ").splitlines()
        lines += re.findall(r"`(npx cdk [^`]+)`", text)
        for raw in lines:
            line = re.sub(r"\s+#.*$", "", raw).strip()  # a trailing comment (no '#' inside our commands' values)
            line = " ".join(line.split())
            if line and not line.startswith("#"):
                found.setdefault(line, CommandLine(page, line))
    return list(found.values())


def commands_starting(*prefixes: str) -> list[CommandLine]:
    return [c for c in command_lines() if c.line.startswith(prefixes)]


_LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(path: Path) -> list[str]:
    """The link and image targets of a page that point into the repository (not http(s), not mailto), code
    blocks excluded."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    targets = [a or b for a, b in _LINK.findall(text)]
    return [t for t in targets if not re.match(r"^[a-z]+:", t)]


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lowercased, punctuation other than '-' and '_' dropped, spaces
    as '-'; a repeated heading gets -1, -2, … ."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    seen: dict[str, int] = {}
    result = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result
