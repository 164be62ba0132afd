"""Names the CI roles stack, the workflows and scripts/deploy_steps.sh share (no CDK import: the scripts read it)."""

from __future__ import annotations

STACK_NAME = "letta-ci-roles"
# The CDK's default bootstrap qualifier: dev and prod deploy through its cdk-hnb659fds-* roles.
DEFAULT_QUALIFIER = "hnb659fds"
# Previews deploy through a bootstrap of their own (`cdk bootstrap --qualifier lettapr`), whose roles all carry the
# boundary below: nothing a pull request's code runs as can assume the default qualifier's roles.
PREVIEW_QUALIFIER = "lettapr"
PREVIEW_BOUNDARY = "letta-preview-boundary"
# Environments a preview deploys: stacks letta-pr-<n>-data/-service, resources tagged letta:env=pr-<n>.
PREVIEW_ENV_PREFIX = "pr-"
GITHUB_ISSUER = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
