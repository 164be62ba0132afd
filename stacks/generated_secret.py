"""Secrets whose value CloudFormation generates, so that no value ever sits in a template."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


def generated_secret(
    scope: Construct,
    id: str,
    *,
    description: str,
    key: str,
    fields: Mapping[str, str] | None = None,
    length: int = 32,
) -> secretsmanager.Secret:
    """A JSON secret `{**fields, key: <generated>}`; the generated value has letters and digits only, so it
    is safe in a URI, a header or a shell without quoting."""
    return secretsmanager.Secret(
        scope,
        id,
        description=description,
        generate_secret_string=secretsmanager.SecretStringGenerator(
            secret_string_template=json.dumps(dict(fields or {})),
            generate_string_key=key,
            exclude_punctuation=True,
            password_length=length,
        ),
    )
