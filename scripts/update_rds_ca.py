#!/usr/bin/env python3
"""Refresh the RDS root certificates the Letta tasks trust for Aurora (stacks/service/rds_ca/).

    .venv/bin/python scripts/update_rds_ca.py            # download AWS's global bundle, check it, rewrite the files
    .venv/bin/python scripts/update_rds_ca.py --from F   # the same from a bundle file downloaded by other means
    .venv/bin/python scripts/update_rds_ca.py --check    # check the committed bundle only (no network)

AWS publishes every region's RDS certificate authorities in one file, GLOBAL_BUNDLE_URL. What is kept from it, and
checked before anything is written (`check_roots`): each certificate whose common name is a production region's
`Amazon RDS <region> Root CA <RSA2048|RSA4096|ECC384> G1`, self-signed with a valid self-signature and valid today.
Expired roots (the 2019 generation) and AWS's Beta/Preview roots are left out; a certificate that claims a kept name
but fails its self-signature, or two different certificates under one name, stop the update with one line. Synth
then puts the roots of the stack's region into the task definition (stacks/service/rds_ca.py); deploying the
changed files is a new task definition revision, nothing else.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import re
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

ROOT = Path(__file__).resolve().parents[1]
BUNDLE_DIR = ROOT / "stacks" / "service" / "rds_ca"
BUNDLE = BUNDLE_DIR / "rds-roots.pem"
README = BUNDLE_DIR / "README.md"
GLOBAL_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
ROOT_CN = re.compile(r"^Amazon RDS (?P<region>[a-z]{2}(?:-[a-z]+)+-\d) Root CA (?P<kind>RSA2048|RSA4096|ECC384) G1$")
# A bundle smaller than this has lost regions (the committed copy holds 27 regions' roots, AWS's own held 32 in
# 2026): refuse it rather than quietly drop a region's trust.
MIN_ROOTS = 80


class BundleProblem(ValueError):
    """Why a bundle cannot be used, in one line."""


@dataclass(frozen=True)
class Root:
    """One kept root certificate."""

    cn: str
    region: str
    not_after: datetime.date
    sha256: str
    """SHA-256 of the certificate's DER bytes, hex."""
    pem: str


def _cn(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def check_roots(pem: bytes, *, now: datetime.datetime, min_roots: int = MIN_ROOTS) -> list[Root]:
    """The bundle's production RDS root certificates, sorted by common name; BundleProblem (one line) when the bundle
    holds no certificate, fewer than `min_roots` roots, a root-named certificate that is not a valid self-signed
    certificate, or two different certificates under one name. Expired and not-yet-valid roots are left out."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as error:
        raise BundleProblem(f"not a PEM certificate bundle: {error}") from None
    kept: dict[str, Root] = {}
    for cert in certs:
        name = _cn(cert)
        match = ROOT_CN.match(name)
        if not match:
            continue  # Beta/Preview roots, anything else: not a production region's root
        if cert.issuer != cert.subject:
            raise BundleProblem(f"{name!r} is not self-signed (issuer {cert.issuer.rfc4514_string()})")
        try:
            cert.verify_directly_issued_by(cert)
        except Exception as error:  # InvalidSignature, or a signature algorithm that is not a root's
            raise BundleProblem(f"{name!r} has no valid self-signature ({type(error).__name__})") from None
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            continue  # expired (or not yet valid): it can anchor no chain today
        der = cert.public_bytes(serialization.Encoding.DER)
        root = Root(
            cn=name,
            region=match["region"],
            not_after=cert.not_valid_after_utc.date(),
            sha256=hashlib.sha256(der).hexdigest(),
            pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        )
        if name in kept and kept[name].sha256 != root.sha256:
            raise BundleProblem(f"two different certificates named {name!r}")
        kept[name] = root
    if len(kept) < min_roots:
        raise BundleProblem(f"{len(kept)} valid RDS root certificates, fewer than the {min_roots} expected")
    return sorted(kept.values(), key=lambda r: r.cn)


def render_bundle(roots: Sequence[Root], *, source: str, retrieved: str) -> str:
    """The committed PEM file: a header, then each root under a `# <common name>` line that synth selects by."""
    lines = [
        "# Amazon RDS root certificate authorities, one production region's RSA2048, RSA4096 and ECC384 G1 roots each.",
        f"# Source: {source}, retrieved {retrieved}; rewritten by scripts/update_rds_ca.py, which checked every root.",
        "# Text outside BEGIN/END blocks is ignored by PEM readers: the file is a CA bundle as it stands.",
    ]
    for root in roots:
        lines += ["", f"# {root.cn}", f"# SHA-256 {root.sha256}, valid until {root.not_after}", root.pem.rstrip("\n")]
    return "\n".join(lines) + "\n"


def render_readme(roots: Sequence[Root], *, source: str, retrieved: str, provenance: str) -> str:
    """README.md beside the bundle: where it comes from, how it is refreshed, every root's SHA-256."""
    regions = sorted({r.region for r in roots})
    rows = "\n".join(f"| {r.cn} | {r.not_after} | `{r.sha256}` |" for r in roots)
    return f"""# RDS root certificates (`rds-roots.pem`)

What the Letta tasks trust for Aurora's TLS certificate (docs/network.md, "Verified TLS to Aurora"). Synth puts the
roots of the stack's region into the task definition; the container's supervisor writes them to a file for
`PGSSLROOTCERT`.

- Source: {source} (AWS's global RDS bundle), retrieved {retrieved}.
- {provenance}
- Kept: {len(roots)} roots of {len(regions)} regions, each a self-signed `Amazon RDS <region> Root CA <kind> G1`
  with a valid self-signature, valid on the day of retrieval. Left out: expired roots and AWS's Beta/Preview roots.
- Refresh: `.venv/bin/python scripts/update_rds_ca.py` (downloads the source, checks the same properties, rewrites
  this README and the bundle); review the diff of the table below, commit, deploy (a new task definition revision).

Generated by scripts/update_rds_ca.py: do not edit by hand.

| Root | Valid until | SHA-256 of the DER certificate |
| --- | --- | --- |
{rows}
"""


def committed_provenance() -> tuple[str, str, str]:
    """(source, retrieved, provenance) as the committed README states them, so `--check` can re-render it."""
    text = README.read_text(encoding="utf-8")
    source = re.search(r"^- Source: (\S+) ", text, re.M)
    retrieved = re.search(r"retrieved (\d{4}-\d{2}-\d{2})\.$", text, re.M)
    provenance = re.search(r"^- (?!Source|Kept|Refresh)(.+)$", text, re.M)
    if not (source and retrieved and provenance):
        raise BundleProblem(f"{README} does not state its source, date and provenance")
    return source[1], retrieved[1], provenance[1]


def download(url: str = GLOBAL_BUNDLE_URL, timeout: float = 30.0) -> bytes:
    """The bundle as AWS serves it (HTTPS, verified against the system's trust store)."""
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--from", dest="from_file", type=Path, help="a downloaded copy of the global bundle")
    group.add_argument("--check", action="store_true", help="check the committed bundle and README, write nothing")
    args = parser.parse_args(argv)
    now = datetime.datetime.now(datetime.UTC)
    try:
        if args.check:
            roots = check_roots(BUNDLE.read_bytes(), now=now)
            source, retrieved, provenance = committed_provenance()
            if BUNDLE.read_text(encoding="utf-8") != render_bundle(roots, source=source, retrieved=retrieved):
                raise BundleProblem(f"{BUNDLE.name} differs from its checked roots (edited by hand, or expired roots)")
            if README.read_text(encoding="utf-8") != render_readme(
                roots, source=source, retrieved=retrieved, provenance=provenance
            ):
                raise BundleProblem(f"{README.name} is stale: run scripts/update_rds_ca.py --from {BUNDLE}")
            print(
                f"{BUNDLE.relative_to(ROOT)}: {len(roots)} roots, {len({r.region for r in roots})} regions, all valid"
            )
            return 0
        pem = args.from_file.read_bytes() if args.from_file else download()
        roots = check_roots(pem, now=now)
    except (BundleProblem, OSError) as error:
        print(f"update_rds_ca: {error}", file=sys.stderr)
        return 1
    source = str(args.from_file) if args.from_file else GLOBAL_BUNDLE_URL
    retrieved = now.date().isoformat()
    provenance = f"Downloaded by scripts/update_rds_ca.py from {source}."
    BUNDLE.write_text(render_bundle(roots, source=GLOBAL_BUNDLE_URL, retrieved=retrieved), encoding="utf-8")
    README.write_text(
        render_readme(roots, source=GLOBAL_BUNDLE_URL, retrieved=retrieved, provenance=provenance), encoding="utf-8"
    )
    print(f"wrote {BUNDLE.relative_to(ROOT)}: {len(roots)} roots, {len({r.region for r in roots})} regions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
