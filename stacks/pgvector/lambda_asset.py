"""The bootstrap Lambda's zip: `handler.py` and exactly the project modules it imports, at their repository
paths, so the handler runs as ``stacks.pgvector.handler`` in Lambda and locally alike."""

from __future__ import annotations

import shutil
from modulefinder import ModuleFinder
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HANDLER_MODULE = "stacks.pgvector.handler"
HANDLER = f"{HANDLER_MODULE}.on_event"


def shipped_files() -> list[Path]:
    """The project files the handler imports, directly or not (package `__init__`s included).

    The standard library's ModuleFinder reads the imports without running them; searching the repository
    only, it never wanders into boto3 or the standard library, which Lambda's runtime provides.
    """
    finder = ModuleFinder(path=[str(ROOT)])
    finder.import_hook(HANDLER_MODULE)
    files = {Path(module.__file__).resolve() for module in finder.modules.values() if module.__file__}
    return sorted(file for file in files if file.is_relative_to(ROOT))


def stage(target: Path) -> None:
    """Copy the shipped files into `target` (an empty directory), keeping their paths under the repository."""
    for source in shipped_files():
        destination = target / source.relative_to(ROOT)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
