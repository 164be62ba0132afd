"""Restore proven on real Letta data, nothing mocked but the LLM (the labelled offline echo).

In a source rehearsal: an agent with a message exchange, an archival passage, and an agent secret (a tool
environment value, which Letta 0.16.8 stores only encrypted with LETTA_ENCRYPTION_KEY: `agent_env_vars.value_enc`,
`value` left empty). Then `snapshot`, `up --restore-from --secrets-from` into a second state folder, the source
wiped, and all three read back through Letta's API from the restored server. The control: the same restored row
with a different key is unreadable (Letta's own CryptoUtils in Letta's venv), so the proof can fail.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scripts.local_stack import ECHO_EMBEDDING_HANDLE, ECHO_MODEL_HANDLE, State, app_uri
from scripts.rehearsal.letta_install import ensure_letta_venv
from scripts.rehearsal.processes import free_port
from tests.rehearsal import down_later, local_stack

pytestmark = [pytest.mark.letta, pytest.mark.postgres]
SECRET_NAME, SECRET_VALUE = "RESTORE_PROOF_TOKEN", "tool-secret-restore-proof-7Q2x"
PASSAGE = "The restore drill passage: the lighthouse keeper's cat is called Archimedes."
MESSAGE = "Please remember that the restore drill is on Thursday."


def client(state: State) -> Any:
    from letta_client import Letta

    return Letta(base_url=state.base_url, api_key=state.server_password, timeout=120, max_retries=0)


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module", name="drill")
def drill_fixture() -> Iterator[dict[str, Any]]:
    base = Path(tempfile.mkdtemp(prefix="letta-restore-"))
    base.chmod(0o755)
    source_dir, restored_dir, snap = base / "source", base / "restored", base / "snapshot"
    try:
        _ok(local_stack(source_dir, "up", "--offline", "--port", str(free_port()), "--llm-port", str(free_port())))
        source = State.load(source_dir)
        assert source is not None
        letta = client(source)
        agent = letta.agents.create(
            name="restore-drill",
            memory_blocks=[{"label": "human", "value": "An operator rehearsing a restore."}],
            model=ECHO_MODEL_HANDLE,
            embedding=ECHO_EMBEDDING_HANDLE,
            secrets={SECRET_NAME: SECRET_VALUE},
        )
        letta.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": MESSAGE}])
        letta.agents.passages.create(agent_id=agent.id, text=PASSAGE)
        snapshot = _ok(local_stack(source_dir, "snapshot", "--out", str(snap), timeout=300))
        # The source's server stops (its echo port is the one Letta stored in the data); its state stays for the copy.
        _ok(local_stack(source_dir, "down", timeout=120))
        restored = _ok(
            local_stack(
                restored_dir,
                *("up", "--port", str(free_port()), "--restore-from", str(snap), "--secrets-from", str(source_dir)),
            )
        )
        # The source is gone for good: the restored environment lives on its own copies.
        _ok(local_stack(source_dir, "down", "--wipe", timeout=120))
        yield {"agent_id": agent.id, "source": source, "snapshot": snapshot, "restored": restored, "dir": restored_dir}
    finally:
        down_later(base, (source_dir, restored_dir))


def test_the_restore_bootstraps_the_copy_and_letta_has_no_migration_left(drill: dict[str, Any]) -> None:
    out = drill["restored"].stdout
    assert "snapshot: database letta and 1 login role(s)" in drill["snapshot"].stdout
    assert "restore: 1 login role(s) and database letta from" in out
    assert "bootstrap: bootstrap_sql applied, pgvector 0.8.5" in out
    assert "letta: schema at 1c28e167b74f, 49 tables in public" in out
    restored = State.load(drill["dir"])
    assert restored is not None
    log = (drill["dir"] / "logs" / "letta-0.log").read_text(errors="replace")
    assert "Database migration completed successfully." in log
    assert "Running upgrade" not in log  # alembic found the restored schema at head: nothing to run
    # The app role logs in with the NEW environment's password (the bootstrap reset it), the copies are the source's.
    assert restored.app_password != drill["source"].app_password
    assert (restored.encryption_key, restored.server_password) == (
        drill["source"].encryption_key,
        drill["source"].server_password,
    )
    for secret in (restored.app_password, restored.encryption_key, restored.server_password):
        assert secret not in out + drill["restored"].stderr


def test_agent_messages_passage_and_encrypted_secret_read_back_from_the_restored_letta(drill: dict[str, Any]) -> None:
    restored = State.load(drill["dir"])
    assert restored is not None
    letta = client(restored)  # the source's server password still works: clients keep their token
    agent = letta.agents.retrieve(agent_id=drill["agent_id"], include=["agent.secrets"])
    secrets = {s.key: s.value for s in agent.secrets}
    messages = [m for m in letta.agents.messages.list(agent_id=agent.id, limit=50)]
    texts = json.dumps([m.model_dump(mode="json") for m in messages])
    found = letta.agents.passages.search(agent_id=agent.id, query="lighthouse cat")
    passages = [str(getattr(r, "content", "")) for r in found.results]
    print(f"\nrestored agent {agent.id} ({agent.name}); secret {SECRET_NAME} = {secrets.get(SECRET_NAME)!r}")
    print(f"restored exchange: {MESSAGE!r} -> {'Echo: ' + MESSAGE!r} present: {('Echo: ' + MESSAGE) in texts}")
    print(f"restored archival search: {passages[:1]}")
    assert agent.name == "restore-drill"
    assert secrets.get(SECRET_NAME) == SECRET_VALUE
    assert MESSAGE in texts and f"Echo: {MESSAGE}" in texts
    assert any(PASSAGE in p for p in passages)


def test_the_same_restored_row_with_a_different_key_is_unreadable(drill: dict[str, Any]) -> None:
    restored = State.load(drill["dir"])
    assert restored is not None
    with psycopg.connect(app_uri(restored)) as conn:
        value, encrypted = conn.execute(
            "SELECT value, value_enc FROM agent_environment_variables WHERE key = %s", (SECRET_NAME,)
        ).fetchone()
    assert value == "" and SECRET_VALUE not in encrypted  # stored only encrypted
    probe = (
        "import sys\nfrom letta.helpers.crypto_utils import CryptoUtils\n"
        "for key in sys.argv[2:]:\n"
        "    try: print(CryptoUtils.decrypt(sys.argv[1], master_key=key))\n"
        "    except Exception as exc: print(f'unreadable: {type(exc).__name__}')\n"
    )
    venv = ensure_letta_venv(log=lambda line: None)
    other_key = "a-different-encryption-key-than-the-sources"
    done = subprocess.run(
        [str(venv.python), "-c", probe, encrypted, restored.encryption_key, other_key],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    with_copy, with_other = done.stdout.strip().splitlines()[-2:]
    print(f"\ndecrypted with the copied key: {with_copy!r}; with a different key: {with_other!r}")
    assert with_copy == SECRET_VALUE
    assert with_other != SECRET_VALUE and with_other.startswith("unreadable")
