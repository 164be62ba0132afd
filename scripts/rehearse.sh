#!/usr/bin/env bash
# The local rehearsal, after scripts/setup.sh: embedded PostgreSQL with pgvector, the same bootstrap and
# connection string as the cloud, the real Letta server started by the container's own command as synthesized
# into cdk.out/dev, an offline echo LLM, then the smoke test against it. No AWS account, no Docker, no LLM key.
# Letta keeps running: `.venv/bin/python scripts/local_stack.py status | down [--wipe]`.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "redis-server (Letta's start script runs one; the two-instance rehearsal shares one)"
bash scripts/install_redis.sh

step "Local rehearsal: PostgreSQL 16 + pgvector, bootstrap_sql, Letta (the first run installs Letta, ~3-5 min)"
# --offline: a labelled echo endpoint stands in for the LLM, so this needs no key and no network.
# For a real provider: `local_stack.py down --wipe`, export OPENAI_API_KEY, then `local_stack.py up`.
.venv/bin/python scripts/local_stack.py up --offline

step "Smoke test against the rehearsal: the walkthrough's agent, then its rows in PostgreSQL"
.venv/bin/python scripts/local_stack.py smoke
