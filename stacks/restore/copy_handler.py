"""Lambda entry point for ``Custom::RestoredSecrets`` (CDK Provider framework): copies the source environment's
secrets into the restored environment's own, once.

Create: for each ``{"Name", "Source", "Target"}`` in ``Copies``, read the source's current SecretString and put it
into the target (a secret of this stack). Update: copies only pairs it has not copied before; a pair whose source
changed for the same target is refused, because copying again would overwrite the value the restored data was
encrypted with (or that clients hold). Delete: nothing; the copies belong to their secrets' own lifecycle.

Whatever this raises becomes the FAILED reason: it names secrets by ARN and never carries a value. Each AWS call
has a short timeout and no retries beyond botocore's standard ones, so a failure reaches CloudFormation in seconds.
Runs with boto3 and the standard library only (no CDK, no project import): the zip holds this file alone.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

LOGGER = logging.getLogger("restored_secrets")
LOGGER.setLevel(logging.INFO)


class CopyError(RuntimeError):
    """A copy that cannot or must not happen; the message is the FAILED reason CloudFormation shows."""


def _pairs(props: Mapping[str, Any]) -> list[dict[str, str]]:
    copies = props.get("Copies")
    if not isinstance(copies, list) or not copies:
        raise CopyError("missing resource property Copies (a list of {Name, Source, Target})")
    pairs = []
    for item in copies:
        if not isinstance(item, Mapping) or not all(
            isinstance(item.get(k), str) and item[k] for k in ("Name", "Source", "Target")
        ):
            raise CopyError(
                f"invalid entry in Copies: {sorted(item) if isinstance(item, Mapping) else type(item).__name__}"
            )
        pairs.append({k: str(item[k]) for k in ("Name", "Source", "Target")})
    return pairs


def physical_id(pairs: Sequence[Mapping[str, str]]) -> str:
    """Stable for the set of target secrets: the resource is these targets' copy."""
    digest = hashlib.sha256("\n".join(sorted(p["Target"] for p in pairs)).encode()).hexdigest()[:24]
    return f"restored-secrets-{digest}"


def _client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "secretsmanager", config=Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard"})
    )


def copy(client: Any, pair: Mapping[str, str]) -> None:
    """Source's current SecretString into the target, as a new current version of the target."""
    name, source, target = pair["Name"], pair["Source"], pair["Target"]
    try:
        value = client.get_secret_value(SecretId=source)
    except Exception as exc:  # botocore's ClientError and connection errors alike: the reason, never a value
        raise CopyError(f"reading {name} from {source} failed: {_reason(exc)}") from None
    text = value.get("SecretString")
    if not text:
        raise CopyError(f"{name}: {source} holds no SecretString (a binary secret is not a Letta secret)")
    try:
        client.put_secret_value(SecretId=target, SecretString=text)
    except Exception as exc:
        raise CopyError(f"writing {name} into {target} failed: {_reason(exc)}") from None
    LOGGER.info("%s copied from %s into %s", name, source, target)


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error", {})
        return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', '')}".strip()
    return type(exc).__name__


def on_event(event: Mapping[str, Any], context: Any, *, client: Any | None = None) -> dict[str, Any]:
    """Handle one custom-resource event; `client` (a boto3 Secrets Manager client) replaces the real one in tests."""
    request = event.get("RequestType")
    if request == "Delete":
        LOGGER.info("Delete %s: the copies stay in their secrets", event.get("PhysicalResourceId"))
        return {"PhysicalResourceId": event.get("PhysicalResourceId")}
    if request not in ("Create", "Update"):
        raise CopyError(f"unknown RequestType {request!r}")
    pairs = _pairs(event.get("ResourceProperties") or {})
    todo = pairs
    if request == "Update":
        before = {p["Target"]: p for p in _pairs(event.get("OldResourceProperties") or {})}
        for pair in pairs:
            old = before.get(pair["Target"])
            if old is not None and old["Source"] != pair["Source"]:
                raise CopyError(
                    f"{pair['Name']} was copied from {old['Source']} when this environment was restored; copying "
                    f"{pair['Source']} over it would replace the value the restored data depends on. Put the "
                    "restore key back to its first value (docs/restore.md)"
                )
        todo = [p for p in pairs if p["Target"] not in before]
    client = client or _client()
    for pair in todo:
        copy(client, pair)
    LOGGER.info("%s: %d of %d secrets copied", request, len(todo), len(pairs))
    return {"PhysicalResourceId": physical_id(pairs)}
