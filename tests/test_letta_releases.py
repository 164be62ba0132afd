"""The Letta releases the rehearsal can install: each one's committed pins come from its own sdist's uv.lock (the
header records the sdist's SHA-256, which is the trust anchor), pin every distribution by hash, and end with the
release's own wheel. Nothing is installed here: letta_install.py checks the uv.lock's SHA-256 when it builds."""

from __future__ import annotations

import re

import pytest

from scripts.rehearsal import letta_install
from stacks.letta_contract import VERSION


def test_the_pinned_release_comes_first_and_an_older_one_is_there_for_the_upgrade() -> None:
    assert next(iter(letta_install.RELEASES)) == VERSION
    assert "0.16.6" in letta_install.RELEASES
    assert letta_install.RELEASES[VERSION].requirements_file == letta_install.REQUIREMENTS_FILE


@pytest.mark.parametrize("version", list(letta_install.RELEASES))
def test_the_pins_of_each_release_come_from_its_own_sdist_and_pin_everything_by_hash(version: str) -> None:
    release = letta_install.RELEASES[version]
    text = release.requirements_file.read_text(encoding="utf-8")
    assert f"# sdist sha256: {release.sdist_sha256}\n" in text
    assert re.search(r"^# uv\.lock sha256: [0-9a-f]{64}$", text, flags=re.M)
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$", text, flags=re.M)
    hashed = re.findall(r"^[A-Za-z0-9_.\-]+==\S+ \\\n(?:    --hash=sha256:[0-9a-f]{64}(?: \\\n|\n))+", text, flags=re.M)
    assert len(pins) == len(hashed) > 200
    assert pins[-1] == ("letta", version)
    assert text.rstrip().endswith(f"--hash=sha256:{release.wheel_sha256}")
    assert "psycopg2==" not in text


def test_an_unknown_release_is_refused_with_the_known_ones_named() -> None:
    with pytest.raises(letta_install.LettaInstallError, match=r"Letta 0\.16\.3 is not a release .*0\.16\.8, 0\.16\.6"):
        letta_install.release("0.16.3")
