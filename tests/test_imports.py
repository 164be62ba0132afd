"""The project's modules import each other in one direction only: a walk of every import in stacks/, scripts/
and app.py finds no cycle (a cycle once hid behind an import inside a function), and the Lambda's runtime
package imports nothing from CDK or from the rest of the project, so its zip runs on its own."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ("stacks", "scripts")
RUNTIME = ROOT / "stacks" / "pgvector" / "runtime"


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


def test_the_lambda_runtime_imports_only_itself_and_the_standard_library_or_boto3() -> None:
    for path in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                continue
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top not in ("aws_cdk", "constructs", "stacks", "scripts", "tests", "cdk_nag", "psycopg"), (
                    path,
                    name,
                )


def test_the_lambda_zip_holds_only_what_the_handler_runs() -> None:
    """Every module of the runtime folder (the Lambda's asset, zipped whole) is reached from the handler."""
    files = sorted(p for p in RUNTIME.rglob("*.py") if "__pycache__" not in p.parts)
    known = {module_name(f) for f in files}
    edges = {module_name(f): imports_of(f, known) for f in files}
    reached, todo = set(), ["stacks.pgvector.runtime.pgvector_bootstrap.handler"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo += sorted(edges.get(module, ()))
    package = "stacks.pgvector.runtime.pgvector_bootstrap"
    assert known - reached <= {package}, f"shipped but never run by the Lambda: {sorted(known - reached - {package})}"
