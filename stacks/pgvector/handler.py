"""Lambda entry point for the ``Custom::PgvectorBootstrap`` resource (CDK Provider framework).

Create and Update: apply the SQL files through the RDS Data API as the master user (an Update that renames
the app role renames it first, so Letta's tables keep their owner), give the app role its password, and
write ``{"uri": "postgresql://..."}`` into the connection secret. Delete: nothing (the data stays).
Whatever this raises becomes the FAILED reason, so messages hold no secret; the deadline leaves a margin
before the Lambda's own timeout, so a failure always has a reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from stacks.pgsql.bootstrap import apply, rename_role
from stacks.pgsql.connection_string import build_uri, redact, validate_password
from stacks.pgsql.data_api import DataApiExecutor
from stacks.pgsql.errors import BootstrapError
from stacks.pgsql.executor import Executor
from stacks.pgsql.sql_files import SqlFile, files_from_properties, sql_hash
from stacks.pgsql.sql_text import validate_identifier

LOGGER = logging.getLogger("pgvector_bootstrap")
LOGGER.setLevel(logging.INFO)

# Stop retrying this long before the Lambda times out; more than one Data API call can take
# (connect 5 s + read 50 s), so the last call ends and the reason is reported in time.
SAFETY_MARGIN_S = 60.0
_DATA_API_CONFIG = Config(connect_timeout=5, read_timeout=50, retries={"total_max_attempts": 1})
_REQUIRED = (
    "ClusterArn",
    "MasterSecretArn",
    "AppSecretArn",
    "ConnectionSecretArn",
    "Database",
    "AppRole",
    "Host",
    "Port",
    "SqlFiles",
    "SqlHash",
)


@dataclass(frozen=True)
class Properties:
    """The resource's properties, checked (CloudFormation passes every scalar as a string)."""

    cluster_arn: str
    master_secret_arn: str
    app_secret_arn: str
    connection_secret_arn: str
    database: str
    app_role: str
    host: str
    port: int
    files: list[SqlFile]
    sql_hash: str

    @classmethod
    def from_event(cls, props: Mapping[str, Any]) -> Properties:
        """Parse ``ResourceProperties``; raises ``BootstrapError`` naming what is missing or wrong."""
        missing = [key for key in _REQUIRED if props.get(key) in (None, "")]
        if missing:
            raise BootstrapError(f"missing resource properties: {', '.join(missing)}")
        try:
            database = validate_identifier(str(props["Database"]), what="Database")
            app_role = validate_identifier(str(props["AppRole"]), what="AppRole")
            port = int(str(props["Port"]))
            items = props["SqlFiles"]
            if not isinstance(items, list):
                raise ValueError("SqlFiles is not a list")
            files = files_from_properties(items)
            if not files:
                raise ValueError("SqlFiles is empty")
        except ValueError as exc:
            raise BootstrapError(f"invalid resource properties: {exc}") from None
        if sql_hash(files) != props["SqlHash"]:
            raise BootstrapError("SqlHash does not match SqlFiles (compute it with sql_files.sql_hash)")
        return cls(
            cluster_arn=str(props["ClusterArn"]),
            master_secret_arn=str(props["MasterSecretArn"]),
            app_secret_arn=str(props["AppSecretArn"]),
            connection_secret_arn=str(props["ConnectionSecretArn"]),
            database=database,
            app_role=app_role,
            host=str(props["Host"]),
            port=port,
            files=files,
            sql_hash=str(props["SqlHash"]),
        )


ExecutorFactory = Callable[[Properties, float], Executor]
"""Builds the executor for (properties, deadline as a time.monotonic() value)."""


def physical_id(cluster_arn: str, database: str) -> str:
    """Stable id of the bootstrap of ``database`` on one cluster: same inputs, same id."""
    digest = hashlib.sha256(f"{cluster_arn}\n{database}".encode()).hexdigest()[:24]
    return f"pgvector-bootstrap-{digest}"


def data_api_executor(props: Properties, deadline: float) -> Executor:
    """The production executor: the Data API as the master user, into the Letta database."""
    return DataApiExecutor(
        boto3.client("rds-data", config=_DATA_API_CONFIG),
        resource_arn=props.cluster_arn,
        secret_arn=props.master_secret_arn,
        database=props.database,
        deadline=deadline,
    )


def on_event(
    event: Mapping[str, Any],
    context: Any,
    *,
    secretsmanager: Any | None = None,
    executor_factory: ExecutorFactory | None = None,
) -> dict[str, Any]:
    """Handle one custom-resource event; returns ``PhysicalResourceId`` and, on Create/Update, ``Data``.

    ``secretsmanager`` (a boto3 client) and ``executor_factory`` replace the real AWS clients in tests.
    """
    request = event.get("RequestType")
    if request == "Delete":
        # Never touch data on delete. Properties may be invalid here (the rollback of a failed Create).
        resource_id = event.get("PhysicalResourceId")
        LOGGER.info("Delete %s: nothing to do, the database keeps its data", resource_id)
        return {"PhysicalResourceId": resource_id}
    if request not in ("Create", "Update"):
        raise BootstrapError(f"unknown RequestType {request!r}")
    started = time.monotonic()
    deadline = started + max(0.0, context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_S)
    props = Properties.from_event(event.get("ResourceProperties") or {})
    resource_id = physical_id(props.cluster_arn, props.database)
    LOGGER.info(
        "%s %s: %d SQL files (sha256 %s) into database %s",
        request,
        resource_id,
        len(props.files),
        props.sql_hash[:12],
        props.database,
    )
    secrets = secretsmanager if secretsmanager is not None else boto3.client("secretsmanager")
    app_role, app_password = _app_credentials(secrets, props.app_secret_arn)
    if app_role != props.app_role:
        raise BootstrapError(
            f"the app secret {props.app_secret_arn} names the role {app_role!r}, the resource {props.app_role!r}"
        )
    previous_role = str((event.get("OldResourceProperties") or {}).get("AppRole") or "")
    try:
        # Built before any SQL runs, so a bad Host or Port fails the resource before it changes anything.
        uri = build_uri(user=app_role, password=app_password, host=props.host, port=props.port, database=props.database)
    except ValueError as exc:
        raise BootstrapError(f"cannot build the connection string: {exc}") from None
    executor = (executor_factory or data_api_executor)(props, deadline)
    if request == "Update" and previous_role and previous_role != app_role:
        rename_role(executor, previous_role, app_role)
    version = apply(executor, props.files, app_role=app_role, database=props.database, app_password=app_password)
    target = props.connection_secret_arn
    try:
        secrets.put_secret_value(SecretId=target, SecretString=json.dumps({"uri": uri}))
    except (ClientError, BotoCoreError) as exc:
        raise BootstrapError(f"writing the connection string to {target} failed: {exc}") from None
    LOGGER.info("%s done in %.1f s; connection string %s", request, time.monotonic() - started, redact(uri))
    return {"PhysicalResourceId": resource_id, "Data": {"PgvectorVersion": version}}


def _app_credentials(secrets: Any, secret_arn: str) -> tuple[str, str]:
    """(username, password) from the app secret, both validated; errors never show the secret's content."""
    try:
        secret_string = secrets.get_secret_value(SecretId=secret_arn)["SecretString"]
    except (ClientError, BotoCoreError) as exc:
        raise BootstrapError(f"reading the app secret {secret_arn} failed: {exc}") from None
    try:
        content = json.loads(secret_string)
    except ValueError:
        raise BootstrapError(f"the app secret {secret_arn} is not a JSON object") from None
    keys = ("username", "password")
    if not isinstance(content, dict) or not all(isinstance(content.get(key), str) for key in keys):
        raise BootstrapError(f"the app secret {secret_arn} lacks the string keys 'username' and 'password'")
    try:
        username = validate_identifier(content["username"], what="the app secret's username")
        password = validate_password(content["password"])
    except ValueError as exc:
        raise BootstrapError(f"{exc} (app secret {secret_arn})") from None
    return username, password
