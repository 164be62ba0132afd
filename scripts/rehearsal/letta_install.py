"""Build once, and verify, the cached virtual environment that runs the pinned Letta server.

Each release the rehearsal can run is a row of :data:`RELEASES` (the pinned one, and older ones an upgrade
test starts from), with the SHA-256 of its sdist and wheel on PyPI and its own committed pins; per release:

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

    python -m scripts.rehearsal.letta_install [--version 0.16.6] [--force]   # build or verify, print the venv path
    python -m scripts.rehearsal.letta_install [--version V] --regenerate-requirements   # maintainers: pins from uv.lock
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


@dataclass(frozen=True)
class Release:
    """One Letta release on PyPI: its sdist's SHA-256 (the trust anchor for the lock) and its wheel's (the lock
    describes the project itself as source, so the pins add the wheel)."""

    version: str
    sdist_sha256: str
    wheel_sha256: str

    @property
    def sdist_name(self) -> str:
        return f"letta-{self.version}.tar.gz"

    @property
    def requirements_file(self) -> Path:
        return Path(__file__).resolve().with_name(f"letta-{self.version}-requirements.txt")


RELEASES = {
    release.version: release
    for release in (
        Release(
            LETTA_VERSION,
            "363e26989e552c859ce2e7961d484acee6fccfc1e7b16e8f644b1ae1ccd754a3",
            "2d200cd13212c9232650c7efa16c0a4682ce5e89af8a0e53f3fbd09fc34091d3",
        ),
        # The upgrade test's starting point: 4 migrations behind 0.16.8, two of them building an index
        # CONCURRENTLY (0.16.7 already has 0.16.8's schema; there is no 0.16.3 on PyPI).
        Release(
            "0.16.6",
            "4e0380a499799975495654c3349d70dcb1d42384498e4980c12f331f7cc2a9f6",
            "2c3e5de9736bca8582e45c4c3ae04a26b9eacc87dd29009645fd0c7613a8e89d",
        ),
    )
}
"""The releases the rehearsal can install: the pinned one first. SHA-256s as PyPI's Simple API lists them."""
SDIST_NAME = RELEASES[LETTA_VERSION].sdist_name
SDIST_SHA256 = RELEASES[LETTA_VERSION].sdist_sha256
WHEEL_SHA256 = RELEASES[LETTA_VERSION].wheel_sha256
REQUIREMENTS_FILE = RELEASES[LETTA_VERSION].requirements_file
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


def release(version: str = LETTA_VERSION) -> Release:
    """The row of :data:`RELEASES` for `version`; LettaInstallError naming the known ones otherwise."""
    if version not in RELEASES:
        raise LettaInstallError(f"Letta {version} is not a release the rehearsal knows: {', '.join(RELEASES)}")
    return RELEASES[version]


def default_cache_dir() -> Path:
    """``$LETTA_REHEARSAL_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/letta-aurora-cdk``."""
    if os.environ.get("LETTA_REHEARSAL_CACHE"):
        return Path(os.environ["LETTA_REHEARSAL_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "letta-aurora-cdk"


def venv_dir(cache_dir: Path | None = None, version: str = LETTA_VERSION) -> Path:
    return (cache_dir or default_cache_dir()) / f"letta-venv-{version}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_sdist(cache_dir: Path | None = None, *, version: str = LETTA_VERSION, log: Log = print) -> Path:
    """``<cache>/letta-<version>.tar.gz``, downloaded first if needed, its SHA-256 checked. PyPI's Simple API
    first (one small request); on failure (a mirror-only machine) ``pip download``, which honours pip's config."""
    pinned = release(version)
    cache = cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / pinned.sdist_name
    if target.exists() and sha256_file(target) == pinned.sdist_sha256:
        return target
    log(f"letta-install: fetching {pinned.sdist_name} from PyPI")
    try:
        index = urllib.request.Request(
            "https://pypi.org/simple/letta/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        with urllib.request.urlopen(index, timeout=60) as answer:
            url = next(f["url"] for f in json.load(answer)["files"] if f["filename"] == pinned.sdist_name)
        with urllib.request.urlopen(url, timeout=300) as answer, target.open("wb") as out:
            shutil.copyfileobj(answer, out)
    except Exception as exc:  # any failure: the slower route that honours pip's configuration
        log(f"letta-install: PyPI download failed ({exc}); trying pip download")
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--dest", str(cache)]
        subprocess.run([*pip, f"letta=={version}"], capture_output=True, timeout=900, check=False)
    if not target.exists() or sha256_file(target) != pinned.sdist_sha256:
        target.unlink(missing_ok=True)
        raise LettaInstallError(f"could not fetch {pinned.sdist_name} with SHA-256 {pinned.sdist_sha256}")
    return target


def extract_from_sdist(sdist: Path, dest: Path, names: tuple[str, ...]) -> None:
    """Extract the entries ``names`` (files or folders, paths relative to the sdist's top) into ``dest``."""
    prefix = sdist.name.removesuffix(".tar.gz") + "/"
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


def lay_out_app(venv: LettaVenv, app_dir: Path, cache_dir: Path | None = None, version: str = LETTA_VERSION) -> Path:
    """Lay out the image's `/app` of Letta `version` in `app_dir`: its own start script at its place
    (`letta/server/startup.sh`, byte for byte from the sdist) and, beside it, `alembic.ini` and `alembic/`, where
    the script runs `alembic upgrade head`. `letta/` holds no `__init__.py`, so alembic's `prepend_sys_path = .`
    cannot shadow the installed package. An `app_dir` laid out for another version is replaced (an upgrade
    brings its own migrations). Returns the start script."""
    start, laid_out = app_dir / START_SCRIPT, app_dir / ".letta-version"
    if not start.is_file() or not laid_out.is_file() or laid_out.read_text(encoding="utf-8") != version:
        for name in ("letta", "alembic", "alembic.ini"):
            path = app_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        sdist = fetch_sdist(cache_dir, version=version)
        extract_from_sdist(sdist, app_dir, (START_SCRIPT.removeprefix("./"), "alembic", "alembic.ini"))
        laid_out.write_text(version, encoding="utf-8")
    start.chmod(0o755)
    return start


def _marker_matches(venv: LettaVenv, requirements_sha: str) -> bool:
    with contextlib.suppress(OSError, ValueError):
        marker = json.loads(venv.marker.read_text(encoding="utf-8"))
        return marker.get("requirements_sha256") == requirements_sha and (venv.bin_dir / "letta").exists()
    return False


def ensure_letta_venv(
    cache_dir: Path | None = None,
    *,
    version: str = LETTA_VERSION,
    python: Path | None = None,
    force: bool = False,
    log: Log = print,
) -> LettaVenv:
    """The cached venv of Letta `version`, built first when missing, stale or ``force``; LettaInstallError (one
    line)."""
    pinned = release(version)
    cache = cache_dir or default_cache_dir()
    venv = LettaVenv(venv_dir(cache, version))
    requirements_sha = sha256_file(pinned.requirements_file)
    if not force and _marker_matches(venv, requirements_sha):
        return venv
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / f"letta-venv-{version}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a second caller waits, then finds it built
        if force or not _marker_matches(venv, requirements_sha):
            _build(pinned, venv, cache, requirements_sha, python or Path(sys.executable), log)
    return venv


def _build(pinned: Release, venv: LettaVenv, cache: Path, requirements_sha: str, python: Path, log: Log) -> None:
    started = time.monotonic()
    requirements = pinned.requirements_file
    probe = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True)
    version = tuple(map(int, probe.stdout.split()))
    if version not in SUPPORTED_PYTHONS:
        raise LettaInstallError(f"Letta {pinned.version} needs Python 3.11-3.13; {python} is {version}: pass --python")
    sdist = fetch_sdist(cache, version=pinned.version, log=log)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        extract_from_sdist(sdist, Path(tmp), ("uv.lock",))
        lock_sha = sha256_file(Path(tmp) / "uv.lock")
    if f"# uv.lock sha256: {lock_sha}\n" not in requirements.read_text(encoding="utf-8"):
        raise LettaInstallError(f"{requirements.name} is not from the sdist's uv.lock: --regenerate-requirements")
    shutil.rmtree(venv.root, ignore_errors=True)
    log(f"letta-install: creating {venv.root}; pip install of the hash-pinned lock, a few minutes the first time")
    subprocess.run([python, "-m", "venv", venv.root], check=True, timeout=300)
    log_path = cache / f"letta-venv-{pinned.version}-install.log"
    pip = [venv.python, "-m", "pip", "install", "--require-hashes", "--no-deps", "--disable-pip-version-check"]
    for command in ([*pip, "-r", requirements], [venv.python, "-m", "pip", "check"]):
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
    marker = {"letta_version": pinned.version, "requirements_sha256": requirements_sha, "seconds": seconds}
    venv.marker.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    log(f"letta-install: ready in {seconds} s: {venv.root}")


def regenerate_requirements(cache_dir: Path | None = None, *, version: str = LETTA_VERSION, log: Log = print) -> Path:
    """Rewrite the pins of Letta `version` from its sdist's ``uv.lock`` with ``uv export`` (deterministic for a
    given lock and uv; installs uv into a scratch venv in the cache)."""
    pinned = release(version)
    cache = cache_dir or default_cache_dir()
    sdist = fetch_sdist(cache, version=version, log=log)
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
        f"# Pinned dependencies of the Letta {version} server for the local rehearsal.",
        "# GENERATED: do not edit by hand.",
        "#",
        f"# Source: the uv.lock inside the letta {version} sdist on PyPI (what the letta/letta",
        "# image installs with `uv sync --frozen`), exported for the extras the rehearsal needs.",
        f"# sdist sha256: {pinned.sdist_sha256}",
        f"# uv.lock sha256: {lock_sha}",
        f"# Generated by: python -m scripts.rehearsal.letta_install --version {version} --regenerate-requirements",
        f"#   which runs ({uv_version}) in the extracted sdist:",
        f"#   uv export {flags}",
        *[f"# Left out: {name}: {why}" for name, why in sorted(EXCLUDED.items())],
        f"# Added: letta=={version} itself (the lock has it as the editable project),",
        "#   pinned to the wheel on PyPI.",
        "# Install: pip install --require-hashes --no-deps -r <this file> (it is the full closure).",
        "",
    ]
    pin = f"letta=={version} \\\n    --hash=sha256:{pinned.wheel_sha256}"
    target = pinned.requirements_file
    target.write_text("\n".join(header) + "\n".join(kept) + "\n" + pin + "\n", encoding="utf-8")
    log(f"letta-install: wrote {target} ({len(kept) + 1} pinned distributions)")
    return target


def main(argv: list[str] | None = None) -> int:
    """Build or verify the venv (or regenerate the pins); print the venv path."""
    parser = argparse.ArgumentParser(description="Build or verify the cached, pinned Letta server venv.")
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"cache folder (default: {default_cache_dir()})")
    parser.add_argument("--python", type=Path, default=None, help="base interpreter (default: this one)")
    parser.add_argument("--version", default=LETTA_VERSION, choices=list(RELEASES), help="Letta release")
    parser.add_argument("--force", action="store_true", help="rebuild even if the marker matches")
    parser.add_argument("--regenerate-requirements", action="store_true", help="rewrite the pins from uv.lock")
    args = parser.parse_args(argv)
    try:
        if args.regenerate_requirements:
            regenerate_requirements(args.cache_dir, version=args.version)
            return 0
        venv = ensure_letta_venv(args.cache_dir, version=args.version, python=args.python, force=args.force)
    except (LettaInstallError, subprocess.SubprocessError, OSError) as exc:
        print(f"letta-install: ERROR: {exc}", file=sys.stderr)
        return 1
    print(f"letta-install: OK: {venv.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
