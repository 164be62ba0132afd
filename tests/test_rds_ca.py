"""The committed RDS roots (stacks/service/rds_ca/) and their update path (scripts/update_rds_ca.py), offline: the
checking function runs on the committed file, and refuses forged, foreign or too few roots (certificates made here).
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scripts import update_rds_ca
from scripts.update_rds_ca import BundleProblem, check_roots
from stacks.aws_rules import DATA_API_REGIONS
from stacks.service.db_tls import BUNDLE, region_roots, roots_by_region

NOW = datetime.datetime.now(datetime.UTC)
US_EAST_1 = "Amazon RDS us-east-1 Root CA RSA2048 G1"


def cert(
    cn: str, *, issuer: str | None = None, signer: ec.EllipticCurvePrivateKey | None = None, days: int = 30
) -> str:
    """A certificate named `cn` (self-signed unless `issuer`/`signer` say otherwise), valid `days` from now (negative:
    expired)."""
    key = ec.generate_private_key(ec.SECP384R1())
    start = NOW - datetime.timedelta(days=400)
    built = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, issuer or cn)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(NOW + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(signer or key, hashes.SHA384())
    )
    return built.public_bytes(serialization.Encoding.PEM).decode()


def test_the_committed_bundle_passes_its_checks_and_its_readme_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert update_rds_ca.main(["--check"]) == 0
    print(capsys.readouterr().out)
    roots = check_roots(BUNDLE.read_bytes(), now=NOW)
    assert len(roots) == 81
    assert len({r.region for r in roots}) == 27


def test_each_regions_roots_are_the_three_certificates_named_for_it() -> None:
    # Synth selects by the `# <common name>` line above each certificate: it must name the certificate below it.
    regions = roots_by_region()
    assert len(regions) == 27
    for region, pem in regions.items():
        names = sorted(
            c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
            for c in x509.load_pem_x509_certificates(pem.encode())
        )
        assert names == [f"Amazon RDS {region} Root CA {kind} G1" for kind in ("ECC384", "RSA2048", "RSA4096")]
    # The regions the config admits but the bundle lacks are exactly those the config refuses with verification.
    missing = sorted(r for r in DATA_API_REGIONS if region_roots(r) is None)
    newer = ["ap-east-2", "ap-southeast-5", "ap-southeast-7", "ca-west-1", "il-central-1", "mx-central-1"]
    assert missing == sorted([*newer, "cn-north-1", "cn-northwest-1", "us-gov-east-1", "us-gov-west-1"])


def test_the_bundle_header_lines_state_each_roots_sha256() -> None:
    text = BUNDLE.read_text()
    for root in check_roots(BUNDLE.read_bytes(), now=NOW):
        assert f"# {root.cn}\n# SHA-256 {root.sha256}, valid until {root.not_after}\n{root.pem}" in text


def test_expired_beta_and_foreign_certificates_are_left_out() -> None:
    bundle = "".join(
        [
            cert(US_EAST_1),
            cert("Amazon RDS eu-west-1 Root CA RSA4096 G1", days=-1),  # expired
            cert("Amazon RDS Beta us-east-1 Root CA RSA2048 G1"),
            cert("Amazon RDS us-east-1 Root CA"),  # the 2019 generation's name
            cert("Some Other Root"),
        ]
    )
    assert [r.cn for r in check_roots(bundle.encode(), now=NOW, min_roots=1)] == [US_EAST_1]


@pytest.mark.parametrize(
    ("bundle", "says"),
    [
        (lambda: cert(US_EAST_1, signer=ec.generate_private_key(ec.SECP384R1())), "has no valid self-signature"),
        (lambda: cert(US_EAST_1, issuer="Amazon RDS us-east-1 Subordinate CA"), "is not self-signed"),
        (lambda: cert(US_EAST_1) + cert(US_EAST_1), "two different certificates named"),
        (lambda: "not a bundle", "not a PEM certificate bundle"),
        (lambda: cert(US_EAST_1), "1 valid RDS root certificates, fewer than the 80 expected"),
    ],
    ids=["forged-signature", "not-self-signed", "two-under-one-name", "garbage", "too-few"],
)
def test_a_bundle_that_fails_a_check_is_refused_in_one_line(bundle: object, says: str) -> None:
    with pytest.raises(BundleProblem) as raised:
        check_roots(bundle().encode(), now=NOW)  # type: ignore[operator]
    assert says in str(raised.value) and "\n" not in str(raised.value)


def test_the_update_writes_nothing_when_the_download_fails_its_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = BUNDLE.read_bytes()
    bad = tmp_path / "global-bundle.pem"
    bad.write_text(cert(US_EAST_1, signer=ec.generate_private_key(ec.SECP384R1())))
    assert update_rds_ca.main(["--from", str(bad)]) == 1
    assert re.fullmatch(
        r"update_rds_ca: 'Amazon RDS us-east-1 Root CA RSA2048 G1' has no valid .*\n", capsys.readouterr().err
    )
    assert BUNDLE.read_bytes() == before


def test_the_update_rewrites_both_files_so_that_its_own_check_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The update path end to end, offline: `--from` a downloaded copy (here the committed bundle) into a copy of
    # the folder, then `--check` on what it wrote.
    monkeypatch.setattr(update_rds_ca, "BUNDLE", tmp_path / "rds-roots.pem")
    monkeypatch.setattr(update_rds_ca, "README", tmp_path / "README.md")
    monkeypatch.setattr(update_rds_ca, "ROOT", tmp_path)
    assert update_rds_ca.main(["--from", str(BUNDLE)]) == 0
    written = (tmp_path / "rds-roots.pem").read_text()
    assert written.split("\n", 2)[2] == BUNDLE.read_text().split("\n", 2)[2]  # the same roots; only the date differs
    assert f"retrieved {NOW.date().isoformat()}" in (tmp_path / "README.md").read_text()
    assert update_rds_ca.main(["--check"]) == 0
