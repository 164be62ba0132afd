"""Build (once) and verify the cached virtual environment that runs the pinned Letta server.

What it does, in order, and why:

1. Fetches the ``letta==0.16.8`` **sdist** from PyPI and checks its SHA-256. The sdist, not the
   wheel, carries the server's ``uv.lock`` and its alembic migrations (``alembic/``,
   ``alembic.ini``), which the wheel lacks.
2. Checks that the committed pins, ``letta-0.16.8-requirements.txt`` beside this file, were
   generated from exactly that ``uv.lock`` (its header records the lock's SHA-256).
3. Creates ``<cache>/letta-venv-0.16.8/`` with the running Python (3.11 to 3.13, the sdist's
   ``requires-python``) and installs the pins with ``pip install --require-hashes --no-deps``:
   every one of the ~260 distributions is pinned by version and hash, so nothing is resolved and
   nothing can drift.
4. Extracts ``alembic/`` and ``alembic.ini`` into ``<venv>/migrations/``, a folder holding only
   those two, where ``alembic upgrade head`` must run (``prepend_sys_path = .``).
5. Writes a marker ``<venv>/.rehearsal-install.json`` holding the pins' hash, last. A later call
   whose pins and Python match returns at once; an interrupted build has no marker and is redone.

The cache folder defaults to ``${XDG_CACHE_HOME:-~/.cache}/letta-aurora-cdk`` and can be moved with
``LETTA_REHEARSAL_CACHE`` or ``--cache-dir``. It lives outside the work tree on purpose: CI runs in
a fresh clone in another folder on the same machine, and a work tree can be laid anew, and the
1.1 GB venv (about 3 minutes to build) is then reused instead of rebuilt.

Command line::

    python -m scripts.rehearsal.letta_install            # build or verify, print the venv path
    python -m scripts.rehearsal.letta_install --force    # rebuild
    python -m scripts.rehearsal.letta_install --regenerate-requirements   # maintainers only

Pip's own configuration applies (mirrors, ``find-links``). On this kind of machine pip's global
config also adds ``/etc/xdg/pip/constraints.txt`` (caps on torch and torchvision); neither is in
Letta's lock, so the constraint cannot conflict, and with every pin hash-locked a constraint could
only make the install fail loudly, never change a version.
"""

from __future__ import annotations

import argparse
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stacks.letta_contract import START_SCRIPT
from stacks.letta_contract import VERSION as LETTA_VERSION

SDIST_NAME = f"letta-{LETTA_VERSION}.tar.gz"
SDIST_SHA256 = "363e26989e552c859ce2e7961d484acee6fccfc1e7b16e8f644b1ae1ccd754a3"
"""SHA-256 of ``letta-0.16.8.tar.gz`` as published on PyPI (the trust anchor for the lock)."""
WHEEL_SHA256 = "2d200cd13212c9232650c7efa16c0a4682ce5e89af8a0e53f3fbd09fc34091d3"
"""SHA-256 of ``letta-0.16.8-py3-none-any.whl`` on PyPI (the lock describes the project as source)."""

REQUIREMENTS_FILE = Path(__file__).resolve().with_name(f"letta-{LETTA_VERSION}-requirements.txt")
EXTRAS = ("server", "postgres")
"""Extras of the lock that the rehearsal needs: the HTTP server and the PostgreSQL drivers."""
EXCLUDED = {"psycopg2": "source-only (needs pg_config and a compiler); Letta uses asyncpg and pg8000"}
"""Locked packages left out of the pins, with the reason written into the file's header."""
UV_PIN = "uv==0.13.9"
"""The ``uv`` used to export the lock (only when regenerating the pins)."""
SUPPORTED_PYTHONS = ((3, 11), (3, 12), (3, 13))
MARKER_NAME = ".rehearsal-install.json"
MIGRATIONS_DIRNAME = "migrations"
DEFAULT_INSTALL_TIMEOUT = 1800.0

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
    def migrations_dir(self) -> Path:
        """Folder holding only ``alembic/`` and ``alembic.ini`` from the sdist: run alembic here."""
        return self.root / MIGRATIONS_DIRNAME

    @property
    def marker(self) -> Path:
        return self.root / MARKER_NAME


def _print(message: str) -> None:
    print(message, flush=True)


def default_cache_dir() -> Path:
    """``$LETTA_REHEARSAL_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/letta-aurora-cdk``."""
    explicit = os.environ.get("LETTA_REHEARSAL_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "letta-aurora-cdk"


def venv_dir(cache_dir: Path | None = None) -> Path:
    """Where the Letta venv lives: ``<cache>/letta-venv-0.16.8``."""
    return (cache_dir or default_cache_dir()) / f"letta-venv-{LETTA_VERSION}"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def requirements_lock_hash(requirements: Path = REQUIREMENTS_FILE) -> str | None:
    """The ``uv.lock`` SHA-256 recorded in the pins' header (None when absent)."""
    match = re.search(r"^# uv\.lock sha256: ([0-9a-f]{64})$", requirements.read_text(encoding="utf-8"), re.M)
    return match.group(1) if match else None


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (serialises concurrent builds of the same venv)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- the sdist ----------------------------------------------------------------------------------


def fetch_sdist(cache_dir: Path | None = None, *, log: Log = _print) -> Path:
    """Return ``<cache>/letta-0.16.8.tar.gz``, downloading it first if needed; verifies SHA-256.

    Tries PyPI's Simple API (one small request and one download); if that fails (a mirror-only
    machine) falls back to ``pip download --no-binary :all:`` (slower: it builds the metadata),
    which honours pip's configuration.
    """
    cache = cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / SDIST_NAME
    if target.exists() and sha256_file(target) == SDIST_SHA256:
        return target
    target.unlink(missing_ok=True)
    log(f"letta-install: fetching {SDIST_NAME} from PyPI")
    try:
        _fetch_sdist_simple_api(target)
    except Exception as exc:  # any failure: try the slower route that honours pip config
        log(f"letta-install: PyPI Simple API download failed ({exc}); trying pip download")
        _fetch_sdist_pip(cache, target)
    actual = sha256_file(target)
    if actual != SDIST_SHA256:
        target.unlink(missing_ok=True)
        raise LettaInstallError(f"{SDIST_NAME} has SHA-256 {actual}, expected {SDIST_SHA256}")
    return target


def _fetch_sdist_simple_api(target: Path) -> None:
    """Download the sdist via PyPI's Simple API in its JSON form (PEP 691), as pip finds files."""
    request = urllib.request.Request(
        "https://pypi.org/simple/letta/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        index = json.load(resp)
    urls = [f["url"] for f in index.get("files", []) if f.get("filename") == SDIST_NAME]
    if not urls:
        raise LettaInstallError(f"PyPI lists no {SDIST_NAME}")
    partial = target.with_suffix(".part")
    with urllib.request.urlopen(urls[0], timeout=300) as resp, partial.open("wb") as out:
        shutil.copyfileobj(resp, out)
    partial.replace(target)


def _fetch_sdist_pip(cache: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
            tmp,
            f"letta=={LETTA_VERSION}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        downloaded = Path(tmp) / SDIST_NAME
        if proc.returncode != 0 or not downloaded.exists():
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise LettaInstallError(f"pip download of the letta sdist failed: {last[0]}")
        shutil.move(str(downloaded), target)


def extract_from_sdist(sdist: Path, dest: Path, names: tuple[str, ...]) -> None:
    """Extract the entries ``names`` (files or folders, paths relative to the sdist's top) into ``dest``."""
    prefix = f"letta-{LETTA_VERSION}/"
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist, "r:gz") as tar:
        members, found = [], set()
        for member in tar.getmembers():
            if not member.name.startswith(prefix):
                continue
            rel = member.name[len(prefix) :]
            top = next((name for name in names if rel == name or rel.startswith(name + "/")), None)
            if top is not None:
                member.name = rel
                members.append(member)
                found.add(top)
        missing = set(names) - found
        if missing:
            raise LettaInstallError(f"{sdist.name} lacks {', '.join(sorted(missing))}")
        tar.extractall(dest, members=members, filter="data")


# -- the venv -----------------------------------------------------------------------------------


def _python_version(python: Path) -> tuple[int, int]:
    out = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    return int(out[0]), int(out[1])


def _marker_matches(venv: LettaVenv, requirements_sha: str) -> bool:
    try:
        marker = json.loads(venv.marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        marker.get("requirements_sha256") == requirements_sha
        and marker.get("letta_version") == LETTA_VERSION
        and venv.python.exists()
        and (venv.bin_dir / "letta").exists()
        and (venv.migrations_dir / "alembic.ini").is_file()
    )


def ensure_letta_venv(
    cache_dir: Path | None = None,
    *,
    python: Path | None = None,
    force: bool = False,
    timeout: float = DEFAULT_INSTALL_TIMEOUT,
    log: Log = _print,
) -> LettaVenv:
    """Return the cached Letta venv, building it first when missing, stale or ``force``.

    Args:
        cache_dir: cache folder (default :func:`default_cache_dir`).
        python: interpreter to base the venv on (default: the running one); 3.11 to 3.13.
        force: rebuild even when the marker matches.
        timeout: seconds allowed for ``pip install`` before giving up.
        log: receives progress lines.

    Raises:
        LettaInstallError: with a one-line reason (and the log file to read) on any failure.
    """
    cache = cache_dir or default_cache_dir()
    venv = LettaVenv(venv_dir(cache))
    requirements_sha = sha256_file(REQUIREMENTS_FILE)
    if not force and _marker_matches(venv, requirements_sha):
        return venv
    with _file_lock(cache / f"letta-venv-{LETTA_VERSION}.lock"):
        if not force and _marker_matches(venv, requirements_sha):  # built meanwhile by another process
            return venv
        _build(venv, cache, requirements_sha, python or Path(sys.executable), timeout, log)
    return venv


def _build(venv: LettaVenv, cache: Path, requirements_sha: str, python: Path, timeout: float, log: Log) -> None:
    started = time.monotonic()
    version = _python_version(python)
    if version not in SUPPORTED_PYTHONS:
        raise LettaInstallError(
            f"Letta {LETTA_VERSION} needs Python 3.11-3.13 (requires-python <3.14,>=3.11); "
            f"{python} is {version[0]}.{version[1]}: pass --python"
        )
    sdist = fetch_sdist(cache, log=log)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        extract_from_sdist(sdist, Path(tmp), ("uv.lock",))
        lock_sha = sha256_file(Path(tmp) / "uv.lock")
    recorded = requirements_lock_hash()
    if recorded != lock_sha:
        raise LettaInstallError(
            f"{REQUIREMENTS_FILE.name} records uv.lock sha256 {recorded}, the sdist's is {lock_sha}: "
            "regenerate it with --regenerate-requirements"
        )

    if venv.root.exists():
        log(f"letta-install: removing the stale venv {venv.root}")
        shutil.rmtree(venv.root)
    log(f"letta-install: creating {venv.root} (Python {version[0]}.{version[1]})")
    subprocess.run([str(python), "-m", "venv", str(venv.root)], check=True, timeout=300)

    log_path = cache / f"letta-venv-{LETTA_VERSION}-install.log"
    cmd = [
        str(venv.python),
        "-m",
        "pip",
        "install",
        "--require-hashes",
        "--no-deps",
        "--disable-pip-version-check",
        "--no-input",
        "-r",
        str(REQUIREMENTS_FILE),
    ]
    log(f"letta-install: pip install of the hash-pinned lock, a few minutes the first time (log: {log_path})")
    _run_logged(cmd, log_path, timeout, "pip install", log)

    check = subprocess.run(
        [str(venv.python), "-m", "pip", "check"], capture_output=True, text=True, timeout=300, check=False
    )
    if check.returncode != 0:
        first = (check.stdout or check.stderr).strip().splitlines()[:1] or ["no output"]
        raise LettaInstallError(f"pip check failed in {venv.root}: {first[0]}")

    extract_from_sdist(sdist, venv.migrations_dir, ("alembic", "alembic.ini"))
    seconds = round(time.monotonic() - started, 1)
    venv.marker.write_text(
        json.dumps(
            {
                "letta_version": LETTA_VERSION,
                "requirements_sha256": requirements_sha,
                "sdist_sha256": SDIST_SHA256,
                "python": f"{version[0]}.{version[1]}",
                "seconds": seconds,
                "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    log(f"letta-install: ready in {seconds} s: {venv.root}")


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


def _run_logged(cmd: list[str], log_path: Path, timeout: float, what: str, log: Log) -> None:
    """Run ``cmd`` with output to ``log_path``, a progress line every 20 s, bounded by ``timeout``."""
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        next_note = started + 20
        while proc.poll() is None:
            now = time.monotonic()
            if now - started > timeout:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                raise LettaInstallError(f"{what} did not finish within {timeout:.0f} s (log: {log_path})")
            if now >= next_note:
                text = log_path.read_text(encoding="utf-8", errors="replace")
                seen = text.count("\nCollecting ") + text.count("\nProcessing ")
                done = "\nInstalling collected packages" in text
                phase = "installing" if done else f"{seen} packages fetched"
                log(f"letta-install: {what} running, {now - started:.0f} s, {phase}")
                next_note = now + 20
            time.sleep(0.5)
    if proc.returncode != 0:
        lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        errors = [line for line in lines if line.startswith("ERROR")] or lines[-1:] or ["no output"]
        raise LettaInstallError(f"{what} failed (exit {proc.returncode}): {errors[0]} (log: {log_path})")


# -- regenerating the pins (maintainers) --------------------------------------------------------


def regenerate_requirements(cache_dir: Path | None = None, *, log: Log = _print) -> Path:
    """Rewrite :data:`REQUIREMENTS_FILE` from the sdist's ``uv.lock`` with ``uv export``.

    Needs PyPI to install ``uv`` into a scratch venv in the cache. The result is deterministic for
    a given lock and uv version.
    """
    cache = cache_dir or default_cache_dir()
    sdist = fetch_sdist(cache, log=log)
    uv_venv = cache / "uv-venv"
    uv = uv_venv / "bin" / "uv"
    if not uv.exists():
        log(f"letta-install: installing {UV_PIN} into {uv_venv}")
        subprocess.run([sys.executable, "-m", "venv", str(uv_venv)], check=True, timeout=300)
        subprocess.run([str(uv_venv / "bin" / "python"), "-m", "pip", "install", "-q", UV_PIN], check=True, timeout=600)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        project = Path(tmp)
        extract_from_sdist(sdist, project, ("uv.lock", "pyproject.toml"))
        lock_sha = sha256_file(project / "uv.lock")
        cmd = [
            str(uv),
            "export",
            "--frozen",
            "--no-dev",
            "--no-emit-project",
            "--no-annotate",
            "--no-header",
            "--format",
            "requirements-txt",
        ]
        for extra in EXTRAS:
            cmd += ["--extra", extra]
        env = {**os.environ, "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never", "UV_OFFLINE": "1"}
        exported = subprocess.run(
            cmd, cwd=project, capture_output=True, text=True, check=True, timeout=300, env=env
        ).stdout
        uv_version = subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    blocks = re.split(r"\n(?=\S)", exported.strip())
    kept = [b for b in blocks if b.split("==", 1)[0].strip() not in EXCLUDED]
    if len(blocks) - len(kept) != len(EXCLUDED):
        raise LettaInstallError(f"expected to drop {sorted(EXCLUDED)} from the export; the lock changed")
    extras = " ".join(f"--extra {e}" for e in EXTRAS)
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
        f"#   uv export --frozen --no-dev --no-emit-project --no-annotate --no-header {extras}",
        *[f"# Left out: {name}: {why}" for name, why in sorted(EXCLUDED.items())],
        f"# Added: letta=={LETTA_VERSION} itself (the lock has it as the editable project),",
        "#   pinned to the wheel on PyPI.",
        "# Install: pip install --require-hashes --no-deps -r <this file> (it is the full closure).",
        "",
    ]
    letta_pin = f"letta=={LETTA_VERSION} \\\n    --hash=sha256:{WHEEL_SHA256}"
    REQUIREMENTS_FILE.write_text("\n".join(header) + "\n".join(kept) + "\n" + letta_pin + "\n", encoding="utf-8")
    log(f"letta-install: wrote {REQUIREMENTS_FILE} ({len(kept) + 1} pinned distributions)")
    return REQUIREMENTS_FILE


def main(argv: list[str] | None = None) -> int:
    """Command line entry: build/verify the venv (or regenerate the pins); prints the venv path."""
    parser = argparse.ArgumentParser(description="Build or verify the cached, pinned Letta server venv.")
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"cache folder (default: {default_cache_dir()})")
    parser.add_argument("--python", type=Path, default=None, help="base interpreter (default: this one)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the marker matches")
    parser.add_argument("--timeout", type=float, default=DEFAULT_INSTALL_TIMEOUT, help="pip install timeout in seconds")
    parser.add_argument(
        "--regenerate-requirements",
        action="store_true",
        help=f"rewrite {REQUIREMENTS_FILE.name} from the sdist's uv.lock (installs uv)",
    )
    args = parser.parse_args(argv)
    try:
        if args.regenerate_requirements:
            regenerate_requirements(args.cache_dir)
            return 0
        started = time.monotonic()
        venv = ensure_letta_venv(args.cache_dir, python=args.python, force=args.force, timeout=args.timeout)
    except (LettaInstallError, subprocess.SubprocessError, OSError) as exc:
        print(f"letta-install: ERROR: {exc}", file=sys.stderr)
        return 1
    print(f"letta-install: OK ({time.monotonic() - started:.1f} s): {venv.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
