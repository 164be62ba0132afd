"""The secrets Letta's clients and data depend on. They live in the data stack, beside the database, so that
destroying and redeploying the service stack loses none of them."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.generated_secret import generated_secret
from stacks.nag import acknowledge
from stacks.restore.construct import SecretCopy

# What a copy target holds between its creation and the copy, in the same deployment, before any task starts.
COPY_PLACEHOLDER = json.dumps({"restore": "pending: the source's value is copied in at deploy"})


class LettaSecrets(Construct):
    """The server password clients hold, `LETTA_ENCRYPTION_KEY`, and the LLM provider keys.

    Every generator here is constant: no config change can make CloudFormation generate a new value (which
    would wipe a key the operator stored, lock clients out, or make Letta's encrypted columns unreadable).
    The LLM-keys secret is one JSON object the operator fills (`{"OPENAI_API_KEY": "sk-..."}`); which of its
    members the service uses is the service's business, so adding or removing a provider never touches it.

    A restored environment (`copy_from`: `encryption_key`, `server_password`, `llm_keys` -> the source's secret ARN)
    gets, for each named source, a secret of its own under another logical id (`<Name>Copy`) holding a placeholder
    until `RestoredSecrets` copies the source's value in; nothing is generated for it. Its own logical id means that
    adding or removing restore keys never updates a secret in place: CloudFormation would create the other secret
    first and delete the old one only after the whole update succeeded (and the cluster's fixed name makes such an
    update fail first). `copies` lists what to copy.

    Exposes `server_password` (key `password`), `encryption_key` (key `key`) and `llm_keys` (the whole JSON).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        llm_secret_arn: str | None,
        removal_policy: RemovalPolicy,
        copy_from: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        copy_from = dict(copy_from or {})
        unknown = set(copy_from) - {"encryption_key", "server_password", "llm_keys"}
        if unknown:
            raise ValueError(f"LettaSecrets cannot copy {sorted(unknown)}")
        self.copies: list[SecretCopy] = []
        self.server_password = self._copy_target(
            copy_from, "server_password", "ServerPassword", "Letta server password, copied from the restored source"
        ) or generated_secret(
            self,
            "ServerPassword",
            description="Letta server password (secure mode): clients send 'Authorization: Bearer <password>'",
            key="password",
            length=40,
        )
        # Every replica must encrypt provider secrets with the same key, so it is generated once, here (or, in a
        # restored environment, copied from the source whose rows it decrypts).
        self.encryption_key = self._copy_target(
            copy_from, "encryption_key", "EncryptionKey", "LETTA_ENCRYPTION_KEY, copied from the restored source"
        ) or generated_secret(
            self,
            "EncryptionKey",
            description="LETTA_ENCRYPTION_KEY: encrypts provider secrets Letta stores in the database",
            key="key",
            length=48,
        )
        created = [self.server_password, self.encryption_key]
        llm_copy = self._copy_target(
            copy_from, "llm_keys", "LlmKeys", "LLM provider keys, copied from the restored source"
        )
        if llm_copy is not None:
            acknowledge(
                llm_copy,
                "AwsSolutions-SMG4",
                "LLM provider keys are issued and rotated at the provider; the operator stores the new key here.",
            )
            self.llm_keys: secretsmanager.ISecret = llm_copy
            created.append(llm_copy)
        elif llm_secret_arn:
            self.llm_keys = secretsmanager.Secret.from_secret_complete_arn(self, "LlmKeys", llm_secret_arn)
        else:
            # `{}` plus a throwaway generated member: the generator never depends on the provider list.
            llm_keys = generated_secret(
                self,
                "LlmKeys",
                description='LLM provider keys for Letta as one JSON object, e.g. {"OPENAI_API_KEY": "sk-..."}; '
                "fill in, then force a new deployment of the service",
                key="unused",
                length=8,
            )
            acknowledge(
                llm_keys,
                "AwsSolutions-SMG4",
                "LLM provider keys are issued and rotated at the provider; the operator stores the new key here.",
            )
            self.llm_keys = llm_keys
            created.append(llm_keys)
        for secret in created:
            secret.apply_removal_policy(removal_policy)
        acknowledge(
            self.server_password,
            "AwsSolutions-SMG4",
            "API clients hold this bearer password; automatic rotation would lock them out. Change it with "
            "put-secret-value and a new deployment.",
        )
        acknowledge(
            self.encryption_key,
            "AwsSolutions-SMG4",
            "Rotating LETTA_ENCRYPTION_KEY would make the provider secrets Letta encrypted with it unreadable.",
        )

    def _copy_target(
        self, copy_from: Mapping[str, str], what: str, name: str, description: str
    ) -> secretsmanager.Secret | None:
        """A secret that `RestoredSecrets` fills with the source's value, or None when `what` is not copied."""
        source = copy_from.get(what)
        if source is None:
            return None
        # A placeholder, not a secret: the value is copied in by the custom resource, never through the template.
        target = secretsmanager.Secret(
            self,
            f"{name}Copy",
            description=f"{description} at deploy (the copy is this environment's own)",
            secret_string_value=SecretValue.unsafe_plain_text(COPY_PLACEHOLDER),
        )
        self.copies.append(SecretCopy(name=what, source_arn=source, target=target))
        return target
