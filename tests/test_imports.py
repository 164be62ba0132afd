"""The project's modules import each other in one direction only: a walk of every import in stacks/, scripts/
and app.py finds no cycle (a cycle once hid behind an import inside a function), and the Lambda's zip (its
handler and the `stacks/pgsql` modules it imports) runs on its own, holding nothing it does not run."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from stacks.pgvector import lambda_asset

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ("stacks", "scripts")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_files() -> list[Path]:
    files = [ROOT / "app.py"]
    for package in PACKAGES:
        files += sorted((ROOT / package).rglob("*.py"))
    return [f for f in files if "__pycache__" not in f.parts]


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports, at any depth of its code (function bodies included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            # The deepest project module the import names (`from stacks import config` names stacks.config).
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    files = project_files()
    known = {module_name(f) for f in files}
    return {module_name(f): imports_of(f, known) for f in files}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm), i.e. every import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_walk_sees_the_project() -> None:
    edges = graph()
    assert "stacks.composition" in edges["app"]
    assert "stacks.stage" in edges["stacks.composition"]
    # It would see a cycle: two modules importing each other are one group.
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_no_module_imports_in_a_circle() -> None:
    assert cycles(graph()) == []


def test_the_lambda_zip_imports_only_the_standard_library_boto3_and_itself() -> None:
    files = lambda_asset.shipped_files()
    shipped = {module_name(f) for f in files}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                allowed = top in sys.stdlib_module_names or top in ("boto3", "botocore") or name in shipped
                assert allowed, f"{path.relative_to(ROOT)} imports {name}, which the Lambda zip does not hold"


def test_the_lambda_zip_runs_on_its_own_and_holds_only_what_the_handler_imports(tmp_path: Path) -> None:
    """The zip's files, staged as the construct stages them, imported in a fresh interpreter that sees them
    before the project: the handler loads from them alone, and every file shipped is one it loads."""
    lambda_asset.stage(tmp_path)
    shipped = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.py"))
    probe = (
        "import json, sys; sys.path.insert(0, '.'); import stacks.pgvector.handler; "
        "files = [getattr(m, '__file__', None) or '' for m in list(sys.modules.values())]; "
        "print(json.dumps(sorted(f for f in files if f.startswith(sys.argv[1]) or f.startswith(sys.argv[2]))))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(tmp_path), str(ROOT / "stacks")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert not [f for f in loaded if f.startswith(str(ROOT))], "the handler reached past its zip into stacks/"
    assert sorted(str(Path(f).relative_to(tmp_path)) for f in loaded) == shipped
    assert "stacks/pgvector/handler.py" in shipped and "stacks/pgsql/bootstrap.py" in shipped
    assert "stacks/pgsql/psycopg_executor.py" not in shipped
