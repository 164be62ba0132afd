#!/usr/bin/env bash
# The deploy steps, written once: GitHub Actions (.github/workflows/) and CDK Pipelines (stacks/pipeline/) both run
# this, after scripts/setup.sh.
#
#   bash scripts/deploy_steps.sh diff|deploy|destroy|smoke ENV
#
# Context comes from cdk.json, then CDK_CONTEXT (space-separated key=value pairs, for every environment), then,
# for prod only, CDK_CONTEXT_PROD (prod refuses plain HTTP, so its certificate_arn goes there).
set -euo pipefail
cd "$(dirname "$0")/.."
export CDK_DISABLE_CLI_TELEMETRY=true

if [ $# -ne 2 ]; then
  echo "usage: bash scripts/deploy_steps.sh diff|deploy|destroy|smoke ENV" >&2
  exit 64
fi
action=$1
env=$2
pairs="${CDK_CONTEXT:-}"
if [ "$env" = prod ]; then pairs="$pairs ${CDK_CONTEXT_PROD:-}"; fi
read -r -a items <<< "$pairs"
context=(-c "env=$env")
for pair in "${items[@]}"; do context+=(-c "$pair"); done
# A preview (pr-<n>) deploys through a bootstrap of its own, whose roles carry the preview boundary, and its
# stacks' roles get the same boundary: nothing a pull request's code runs as reaches another environment
# (stacks/ci_roles/, docs/ci.md). The names are stacks/ci_roles/names.py's.
if [[ "$env" == pr-* ]]; then
  context+=(-c "@aws-cdk/core:bootstrapQualifier=lettapr" -c "permissions_boundary=letta-preview-boundary")
fi

case "$action" in
  # Template method: the deployed templates are only read (no change set), so a read-only role is enough.
  diff) npx cdk diff --method template "${context[@]}" ;;
  # Concurrency: the reader stack and the service stack both wait only for the data stack; the CLI deploys them
  # side by side instead of one after the other (the CLI's default is 1; docs/deploy-time.md).
  deploy) npx cdk deploy --all --concurrency 3 --require-approval never "${context[@]}" ;;
  destroy) npx cdk destroy --all --force "${context[@]}" ;;
  # The walkthrough's agent through the deployed API, then its rows in Aurora through the Data API.
  smoke) .venv/bin/python scripts/smoke_test.py --env "$env" ;;
  *)
    echo "deploy_steps.sh: unknown step '$action' (diff, deploy, destroy or smoke)" >&2
    exit 64
    ;;
esac
