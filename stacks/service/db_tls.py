"""The RDS root certificates a task trusts for Aurora's TLS, read from the committed bundle at synth (no CDK import).

`rds_ca/rds-roots.pem` holds AWS's production RDS roots, each under a `# <common name>` line, checked and rewritten
by scripts/update_rds_ca.py (its README says where they come from). A region has three roots (RSA2048, RSA4096 and
ECC384 G1): whichever certificate authority the cluster uses, its chain ends at one of them. The task definition
carries only the stack's region's roots (a task definition is at most 64 KiB; the 27 regions' roots together are
about 124 KB).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

BUNDLE = Path(__file__).with_name("rds_ca") / "rds-roots.pem"
_ENTRY = re.compile(
    r"^# (?P<cn>Amazon RDS (?P<region>[a-z0-9-]+) Root CA \S+ G1)\n(?:#[^\n]*\n)*"
    r"(?P<pem>-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+?-----END CERTIFICATE-----\n)",
    re.M,
)


@cache
def roots_by_region(bundle: Path = BUNDLE) -> dict[str, str]:
    """Each region's roots as one PEM text (the certificates only, in the bundle's order), by region name."""
    found: dict[str, str] = {}
    for entry in _ENTRY.finditer(bundle.read_text(encoding="ascii")):
        found[entry["region"]] = found.get(entry["region"], "") + entry["pem"]
    return found


def region_roots(region: str) -> str | None:
    """The PEM roots for `region`, or None when the bundle has none (a region newer than the bundle, China,
    GovCloud: those partitions publish their own bundles)."""
    return roots_by_region().get(region)
