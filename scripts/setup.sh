#!/usr/bin/env bash
# One command from a fresh clone: the pinned toolchain (Python venv, CDK CLI, Node 22), a synth of both
# profiles (which also runs the AWS Solutions checks and CDK's template validation), then the local rehearsal:
# embedded PostgreSQL with pgvector, the same bootstrap and connection string as the cloud, the real Letta
# server, and the smoke test against it. No AWS account, no Docker, no LLM key needed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CDK_DISABLE_CLI_TELEMETRY=true

step() { printf '\n==> %s\n' "$*"; }

step "Python venv (.venv) with requirements-dev.txt"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt

step "redis-server and redis-cli (Letta's start script runs them; the two-instance rehearsal shares one)"
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  redis-server --version
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  redis-server --version
else
  echo "setup.sh: redis-server is missing: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), then rerun" >&2
  exit 1
fi

step "CDK CLI and Node 22 from package-lock.json (node_modules)"
npm ci --no-audit --no-fund --loglevel=error

# npx puts node_modules/.bin first on PATH, so the CLI and the app's jsii both run on the pinned Node 22.
for profile in dev prod; do
  step "cdk synth, profile $profile -> cdk.out/$profile"
  start=$(date +%s%N)
  npx cdk synth --quiet -c "env=$profile" -o "cdk.out/$profile"
  echo "synthesized in $(( ($(date +%s%N) - start) / 1000000 )) ms:" cdk.out/"$profile"/*.template.json
done

step "Local rehearsal: PostgreSQL 16 + pgvector, bootstrap_sql, then the Letta container command from cdk.out/dev (the first run installs Letta, ~3-5 min)"
# --offline: a labelled echo endpoint stands in for the LLM, so this needs no key and no network.
# For a real provider: `local_stack.py down --wipe`, export OPENAI_API_KEY, then `local_stack.py up`.
.venv/bin/python scripts/local_stack.py up --offline

step "Smoke test against the rehearsal: the walkthrough's agent, then its rows in PostgreSQL"
.venv/bin/python scripts/local_stack.py smoke
echo
echo "Letta keeps running: .venv/bin/python scripts/local_stack.py status | down [--wipe]"
