"""Reading a deployed environment's CloudFormation outputs: what the operator scripts and the smoke test share.

Stacks are named ``letta-<env>-data``, ``letta-<env>-service`` and ``letta-<env>-reader`` (see ``stacks/stage.py``;
the reader stack has no output anyone reads). Every AWS failure on the way (no region, no credentials, access
denied, stack missing, output missing) becomes a ``StackOutputsError`` with a one-line message, so each script can
print it and exit with its own code.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from scripts.operator_cli import REGION_HINT
from stacks.config import check_env


class StackOutputsError(Exception):
    """A stack's outputs could not be read; the message says why in one line, without secrets."""


class StackNotFoundError(StackOutputsError):
    """The stack does not exist in this account and region."""


def stack_name(env: str, part: str) -> str:
    """``letta-<env>-<part>`` (``part`` is ``data`` or ``service``).

    Validates ``env`` with the same rule as synth (raises ``stacks.config.ConfigError``, a ValueError),
    so a typo fails here with the allowed form instead of as a confusing "stack does not exist".
    """
    return f"letta-{check_env(env)}-{part}"


def env_argument(value: str) -> str:
    """argparse type for ``--env``: an environment name the stacks accept (the synth-time rule)."""
    try:
        stack_name(value, "data")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def aws_client(service: str, region: str | None = None, **kwargs: Any) -> Any:
    """A boto3 client; the region comes from ``region``, else what botocore reads: AWS_DEFAULT_REGION or the
    profile's ``region``."""
    try:
        return boto3.client(service, region_name=region, **kwargs)
    except NoRegionError:
        raise StackOutputsError(f"no AWS region configured: {REGION_HINT}") from None


def stack_outputs(cfn_client: Any, stack_name: str) -> dict[str, str]:
    """The outputs of ``stack_name`` as ``{OutputKey: OutputValue}``.

    Raises ``StackNotFoundError`` when the stack does not exist and ``StackOutputsError`` for any other
    AWS failure (credentials, permissions, network).
    """
    try:
        response = cfn_client.describe_stacks(StackName=stack_name)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Unknown"), error.get("Message", "")
        # CloudFormation reports a missing stack as a generic ValidationError; only the message tells.
        if code == "ValidationError" and "does not exist" in message:
            raise StackNotFoundError(
                f"stack {stack_name} not found in {_region_of(cfn_client)}: is it deployed there "
                "(check --env and --region)?"
            ) from None
        raise StackOutputsError(f"cannot describe stack {stack_name}: {code}: {message}") from None
    except BotoCoreError as exc:  # no credentials, endpoint unreachable, ...
        raise StackOutputsError(f"cannot describe stack {stack_name}: {exc}") from None
    stacks = response.get("Stacks", [])
    if not stacks:
        raise StackNotFoundError(f"stack {stack_name} not found in {_region_of(cfn_client)}")
    return {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])}


def require_outputs(outputs: dict[str, str], stack_name: str, *keys: str) -> list[str]:
    """The values of ``keys`` in order; raises ``StackOutputsError`` naming every missing key.

    A stack that is still being created, or was deployed from an older version of this toolkit,
    lacks some outputs: say which instead of failing later with a KeyError.
    """
    missing = [key for key in keys if not outputs.get(key)]
    if missing:
        raise StackOutputsError(
            f"stack {stack_name} has no output {', '.join(missing)}: is its deployment complete and current?"
        )
    return [outputs[key] for key in keys]


def read_secret_json(secrets_client: Any, secret_arn: str, *keys: str) -> list[str]:
    """The string values of `keys` in a JSON secret, in order; raises ``StackOutputsError`` in one line that
    names the secret and what is wrong with it, never a value."""
    try:
        secret_string = secrets_client.get_secret_value(SecretId=secret_arn).get("SecretString") or ""
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise StackOutputsError(
            f"cannot read secret {secret_arn}: {error.get('Code', 'Unknown')}: {error.get('Message', '')}"
        ) from None
    except BotoCoreError as exc:
        raise StackOutputsError(f"cannot read secret {secret_arn}: {exc}") from None
    try:
        values = json.loads(secret_string)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        raise StackOutputsError(f"secret {secret_arn} is not a JSON object with {' and '.join(keys)}")
    missing = [key for key in keys if not isinstance(values.get(key), str) or not values[key]]
    if missing:
        raise StackOutputsError(f"secret {secret_arn} has no {' and no '.join(missing)}")
    return [values[key] for key in keys]


def _region_of(client: Any) -> str:
    return str(getattr(getattr(client, "meta", None), "region_name", None) or "this region")
