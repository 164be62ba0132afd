"""The secrets Letta's clients and data depend on. They live in the data stack, beside the database, so that
destroying and redeploying the service stack loses none of them."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.generated_secret import generated_secret
from stacks.nag import acknowledge


class LettaSecrets(Construct):
    """The server password clients hold, `LETTA_ENCRYPTION_KEY`, and the LLM provider keys.

    Every generator here is constant: no config change can make CloudFormation generate a new value (which
    would wipe a key the operator stored, lock clients out, or make Letta's encrypted columns unreadable).
    The LLM-keys secret is one JSON object the operator fills (`{"OPENAI_API_KEY": "sk-..."}`); which of its
    members the service uses is the service's business, so adding or removing a provider never touches it.

    Exposes `server_password` (key `password`), `encryption_key` (key `key`) and `llm_keys` (the whole JSON).
    """

    def __init__(self, scope: Construct, id: str, *, llm_secret_arn: str | None, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.server_password = generated_secret(
            self,
            "ServerPassword",
            description="Letta server password (secure mode): clients send 'Authorization: Bearer <password>'",
            key="password",
            length=40,
        )
        # Every replica must encrypt provider secrets with the same key, so it is generated once, here.
        self.encryption_key = generated_secret(
            self,
            "EncryptionKey",
            description="LETTA_ENCRYPTION_KEY: encrypts provider secrets Letta stores in the database",
            key="key",
            length=48,
        )
        created = [self.server_password, self.encryption_key]
        if llm_secret_arn:
            self.llm_keys: secretsmanager.ISecret = secretsmanager.Secret.from_secret_complete_arn(
                self, "LlmKeys", llm_secret_arn
            )
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
