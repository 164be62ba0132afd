#!/usr/bin/env bash
# Installs the pinned toolchain and synthesizes, nothing else: the Python venv (.venv), the CDK CLI and Node 22
# (node_modules), then a synth of both profiles into cdk.out/dev and cdk.out/prod, which also runs the config
# checks, the AWS Solutions checks and CDK's template validation (any of them stops it). Every CI job that
# touches AWS runs exactly this; the local rehearsal is its own command (scripts/rehearse.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CDK_DISABLE_CLI_TELEMETRY=true

step() { printf '\n==> %s\n' "$*"; }

step "Python venv (.venv) with requirements-dev.txt"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# The project's own packages (stacks, scripts), editable: every script then imports them from any folder.
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -e .

step "checkov in its own venv (.venv-scan) with requirements-scan.txt"
[ -x .venv-scan/bin/python ] || python3 -m venv .venv-scan
.venv-scan/bin/pip install --quiet --disable-pip-version-check -r requirements-scan.txt

step "CDK CLI and Node 22 from package-lock.json (node_modules)"
npm ci --no-audit --no-fund --loglevel=error

# npx puts node_modules/.bin first on PATH, so the CLI and the app's jsii both run on the pinned Node 22.
for profile in dev prod; do
  step "cdk synth, profile $profile -> cdk.out/$profile"
  start=$(date +%s%N)
  # prod refuses plain HTTP without a certificate: this synth says so knowingly, to have prod's templates.
  extra=()
  [ "$profile" = prod ] && extra=(-c allow_plain_http=true)
  npx cdk synth --quiet -c "env=$profile" "${extra[@]}" -o "cdk.out/$profile"
  echo "synthesized in $(( ($(date +%s%N) - start) / 1000000 )) ms:" cdk.out/"$profile"/*.template.json
done
