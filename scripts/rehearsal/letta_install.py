"""Build once, and verify, the cached virtual environment that runs the pinned Letta server.

1. Fetch the ``letta`` **sdist** from PyPI and check its SHA-256: the sdist, not the wheel, carries the
   server's ``uv.lock``, its alembic migrations and the image's start script.
2. Check that the committed pins (``letta-<version>-requirements.txt`` beside this file) were generated from
   exactly that ``uv.lock`` (the pins' header records its SHA-256).
3. Create ``<cache>/letta-venv-<version>/`` with the running Python (3.11 to 3.13) and install the pins with
   ``pip install --require-hashes --no-deps``: every distribution pinned by version and hash, nothing resolved.
4. Write a marker with the pins' hash, last: a later call whose pins match returns at once; an interrupted
   build has no marker and is redone.

The cache defaults to ``${XDG_CACHE_HOME:-~/.cache}/letta-aurora-cdk`` (``LETTA_REHEARSAL_CACHE`` moves it),
outside the work tree, so a fresh clone on the same machine (CI) reuses the 1.1 GB venv.

    python -m scripts.rehearsal.letta_install [--force]          # build or verify, print the venv path
    python -m scripts.rehearsal.letta_install --regenerate-requirements   # maintainers: pins from uv.lock
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stacks.letta_contract import START_SCRIPT
from stacks.letta_contract import VERSION as LETTA_VERSION

SDIST_NAME = f"letta-{LETTA_VERSION}.tar.gz"
SDIST_SHA256 = "363e26989e552c859ce2e7961d484acee6fccfc1e7b16e8f644b1ae1ccd754a3"
"""SHA-256 of the sdist as published on PyPI (the trust anchor for the lock)."""
WHEEL_SHA256 = "2d200cd13212c9232650c7efa16c0a4682ce5e89af8a0e53f3fbd09fc34091d3"
"""SHA-256 of the wheel on PyPI (the lock describes the project itself as source)."""
REQUIREMENTS_FILE = Path(__file__).resolve().with_name(f"letta-{LETTA_VERSION}-requirements.txt")
EXTRAS = ("server", "postgres", "redis")
"""Extras of the lock the rehearsal needs: the HTTP server, the PostgreSQL drivers, and the Redis client (the
image syncs all extras; without `redis`, Letta silently falls back to its no-op client: no locks, no resumable
streams)."""
EXCLUDED = {"psycopg2": "source-only (needs pg_config and a compiler); Letta uses asyncpg and pg8000"}
UV_PIN = "uv==0.13.9"
"""The ``uv`` that exports the lock (only when regenerating the pins)."""
SUPPORTED_PYTHONS = ((3, 11), (3, 12), (3, 13))
INSTALL_TIMEOUT = 1800.0

Log = Callable[[str], None]


class LettaInstallError(RuntimeError):
    """The Letta venv could not be built or verified; the message is one line saying why."""


@dataclass(frozen=True)
class LettaVenv:
    """Paths inside a built Letta venv."""

    root: Path

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin_dir / "python"

    @property
    def marker(self) -> Path:
        return self.root / ".rehearsal-install.json"


def default_cache_dir() -> Path:
    """``$LETTA_REHEARSAL_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/letta-aurora-cdk``."""
    if os.environ.get("LETTA_REHEARSAL_CACHE"):
        return Path(os.environ["LETTA_REHEARSAL_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "letta-aurora-cdk"


def venv_dir(cache_dir: Path | None = None) -> Path:
    return (cache_dir or default_cache_dir()) / f"letta-venv-{LETTA_VERSION}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_sdist(cache_dir: Path | None = None, *, log: Log = print) -> Path:
    """``<cache>/letta-<version>.tar.gz``, downloaded first if needed, its SHA-256 checked. PyPI's Simple API
    first (one small request); on failure (a mirror-only machine) ``pip download``, which honours pip's config."""
    cache = cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / SDIST_NAME
    if target.exists() and sha256_file(target) == SDIST_SHA256:
        return target
    log(f"letta-install: fetching {SDIST_NAME} from PyPI")
    try:
        index = urllib.request.Request(
            "https://pypi.org/simple/letta/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        with urllib.request.urlopen(index, timeout=60) as answer:
            url = next(f["url"] for f in json.load(answer)["files"] if f["filename"] == SDIST_NAME)
        with urllib.request.urlopen(url, timeout=300) as answer, target.open("wb") as out:
            shutil.copyfileobj(answer, out)
    except Exception as exc:  # any failure: the slower route that honours pip's configuration
        log(f"letta-install: PyPI download failed ({exc}); trying pip download")
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--dest", str(cache)]
        subprocess.run([*pip, f"letta=={LETTA_VERSION}"], capture_output=True, timeout=900, check=False)
    if not target.exists() or sha256_file(target) != SDIST_SHA256:
        target.unlink(missing_ok=True)
        raise LettaInstallError(f"could not fetch {SDIST_NAME} with SHA-256 {SDIST_SHA256}")
    return target


def extract_from_sdist(sdist: Path, dest: Path, names: tuple[str, ...]) -> None:
    """Extract the entries ``names`` (files or folders, paths relative to the sdist's top) into ``dest``."""
    prefix = f"letta-{LETTA_VERSION}/"
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist, "r:gz") as tar:
        members, found = [], set()
        for member in tar.getmembers():
            rel = member.name.removeprefix(prefix)
            top = next((name for name in names if rel == name or rel.startswith(name + "/")), None)
            if member.name.startswith(prefix) and top is not None:
                member.name = rel
                members.append(member)
                found.add(top)
        if set(names) - found:
            raise LettaInstallError(f"{sdist.name} lacks {', '.join(sorted(set(names) - found))}")
        tar.extractall(dest, members=members, filter="data")


def lay_out_app(venv: LettaVenv, app_dir: Path, cache_dir: Path | None = None) -> Path:
    """Lay out the image's `/app` in `app_dir`: Letta's own start script at its place (`letta/server/startup.sh`,
    byte for byte from the sdist) and, beside it, `alembic.ini` and `alembic/`, where the script runs
    `alembic upgrade head`. `letta/` holds no `__init__.py`, so alembic's `prepend_sys_path = .` cannot shadow
    the installed package. Returns the start script."""
    start = app_dir / START_SCRIPT
    if not start.is_file():
        extract_from_sdist(fetch_sdist(cache_dir), app_dir, (START_SCRIPT.removeprefix("./"), "alembic", "alembic.ini"))
    start.chmod(0o755)
    return start


def _marker_matches(venv: LettaVenv, requirements_sha: str) -> bool:
    with contextlib.suppress(OSError, ValueError):
        marker = json.loads(venv.marker.read_text(encoding="utf-8"))
        return marker.get("requirements_sha256") == requirements_sha and (venv.bin_dir / "letta").exists()
    return False


def ensure_letta_venv(
    cache_dir: Path | None = None, *, python: Path | None = None, force: bool = False, log: Log = print
) -> LettaVenv:
    """The cached Letta venv, built first when missing, stale or ``force``; LettaInstallError (one line)."""
    cache = cache_dir or default_cache_dir()
    venv = LettaVenv(venv_dir(cache))
    requirements_sha = sha256_file(REQUIREMENTS_FILE)
    if not force and _marker_matches(venv, requirements_sha):
        return venv
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / f"letta-venv-{LETTA_VERSION}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a second caller waits, then finds it built
        if force or not _marker_matches(venv, requirements_sha):
            _build(venv, cache, requirements_sha, python or Path(sys.executable), log)
    return venv


def _build(venv: LettaVenv, cache: Path, requirements_sha: str, python: Path, log: Log) -> None:
    started = time.monotonic()
    probe = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True)
    version = tuple(map(int, probe.stdout.split()))
    if version not in SUPPORTED_PYTHONS:
        raise LettaInstallError(f"Letta {LETTA_VERSION} needs Python 3.11-3.13; {python} is {version}: pass --python")
    sdist = fetch_sdist(cache, log=log)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        extract_from_sdist(sdist, Path(tmp), ("uv.lock",))
        lock_sha = sha256_file(Path(tmp) / "uv.lock")
    if f"# uv.lock sha256: {lock_sha}\n" not in REQUIREMENTS_FILE.read_text(encoding="utf-8"):
        raise LettaInstallError(f"{REQUIREMENTS_FILE.name} is not from the sdist's uv.lock: --regenerate-requirements")
    shutil.rmtree(venv.root, ignore_errors=True)
    log(f"letta-install: creating {venv.root}; pip install of the hash-pinned lock, a few minutes the first time")
    subprocess.run([python, "-m", "venv", venv.root], check=True, timeout=300)
    log_path = cache / f"letta-venv-{LETTA_VERSION}-install.log"
    pip = [venv.python, "-m", "pip", "install", "--require-hashes", "--no-deps", "--disable-pip-version-check"]
    for command in ([*pip, "-r", REQUIREMENTS_FILE], [venv.python, "-m", "pip", "check"]):
        with log_path.open("a") as out:
            try:
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise LettaInstallError(f"{command[3]} took over {INSTALL_TIMEOUT:.0f} s (log: {log_path})") from None
        if done.returncode != 0:
            lines = log_path.read_text(errors="replace").splitlines()
            first = next((line for line in lines if line.startswith("ERROR")), lines[-1] if lines else "no output")
            raise LettaInstallError(f"pip {command[3]} failed: {first} (log: {log_path})")
    seconds = round(time.monotonic() - started, 1)
    marker = {"letta_version": LETTA_VERSION, "requirements_sha256": requirements_sha, "seconds": seconds}
    venv.marker.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    log(f"letta-install: ready in {seconds} s: {venv.root}")


def regenerate_requirements(cache_dir: Path | None = None, *, log: Log = print) -> Path:
    """Rewrite :data:`REQUIREMENTS_FILE` from the sdist's ``uv.lock`` with ``uv export`` (deterministic for a
    given lock and uv; installs uv into a scratch venv in the cache)."""
    cache = cache_dir or default_cache_dir()
    sdist = fetch_sdist(cache, log=log)
    uv = cache / "uv-venv" / "bin" / "uv"
    if not uv.exists():
        subprocess.run([sys.executable, "-m", "venv", cache / "uv-venv"], check=True, timeout=300)
        subprocess.run([uv.with_name("python"), "-m", "pip", "install", "-q", UV_PIN], check=True, timeout=600)
    flags = "--frozen --no-dev --no-emit-project --no-annotate --no-header " + " ".join(f"--extra {e}" for e in EXTRAS)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        extract_from_sdist(sdist, Path(tmp), ("uv.lock", "pyproject.toml"))
        lock_sha = sha256_file(Path(tmp) / "uv.lock")
        env = {**os.environ, "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never", "UV_OFFLINE": "1"}
        run = {"cwd": tmp, "capture_output": True, "text": True, "check": True, "timeout": 300, "env": env}
        exported = subprocess.run([uv, "export", *flags.split(), "--format", "requirements-txt"], **run).stdout
        uv_version = subprocess.run([uv, "--version"], **run).stdout.strip()
    blocks = re.split(r"\n(?=\S)", exported.strip())
    kept = [b for b in blocks if b.split("==", 1)[0].strip() not in EXCLUDED]
    if len(blocks) - len(kept) != len(EXCLUDED):
        raise LettaInstallError(f"expected to drop {sorted(EXCLUDED)} from the export; the lock changed")
    header = [
        f"# Pinned dependencies of the Letta {LETTA_VERSION} server for the local rehearsal.",
        "# GENERATED: do not edit by hand.",
        "#",
        f"# Source: the uv.lock inside the letta {LETTA_VERSION} sdist on PyPI (what the letta/letta",
        "# image installs with `uv sync --frozen`), exported for the extras the rehearsal needs.",
        f"# sdist sha256: {SDIST_SHA256}",
        f"# uv.lock sha256: {lock_sha}",
        "# Generated by: python -m scripts.rehearsal.letta_install --regenerate-requirements",
        f"#   which runs ({uv_version}) in the extracted sdist:",
        f"#   uv export {flags}",
        *[f"# Left out: {name}: {why}" for name, why in sorted(EXCLUDED.items())],
        f"# Added: letta=={LETTA_VERSION} itself (the lock has it as the editable project),",
        "#   pinned to the wheel on PyPI.",
        "# Install: pip install --require-hashes --no-deps -r <this file> (it is the full closure).",
        "",
    ]
    pin = f"letta=={LETTA_VERSION} \\\n    --hash=sha256:{WHEEL_SHA256}"
    REQUIREMENTS_FILE.write_text("\n".join(header) + "\n".join(kept) + "\n" + pin + "\n", encoding="utf-8")
    log(f"letta-install: wrote {REQUIREMENTS_FILE} ({len(kept) + 1} pinned distributions)")
    return REQUIREMENTS_FILE


def main(argv: list[str] | None = None) -> int:
    """Build or verify the venv (or regenerate the pins); print the venv path."""
    parser = argparse.ArgumentParser(description="Build or verify the cached, pinned Letta server venv.")
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"cache folder (default: {default_cache_dir()})")
    parser.add_argument("--python", type=Path, default=None, help="base interpreter (default: this one)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the marker matches")
    parser.add_argument("--regenerate-requirements", action="store_true", help="rewrite the pins from uv.lock")
    args = parser.parse_args(argv)
    try:
        if args.regenerate_requirements:
            regenerate_requirements(args.cache_dir)
            return 0
        venv = ensure_letta_venv(args.cache_dir, python=args.python, force=args.force)
    except (LettaInstallError, subprocess.SubprocessError, OSError) as exc:
        print(f"letta-install: ERROR: {exc}", file=sys.stderr)
        return 1
    print(f"letta-install: OK: {venv.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
