"""The stateful half: network, Aurora cluster, its secrets. Never replaced by a service rollback."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from stacks.config import LettaConfig
from stacks.database import AuroraDatabase
from stacks.log_retention import retention
from stacks.nag import acknowledge
from stacks.network import Network
from stacks.pgvector.construct import PgvectorBootstrap


class DataStack(Stack):
    """VPC, security groups, the 5432 rule, and the Aurora Serverless v2 cluster."""

    def __init__(self, scope: Construct, id: str, *, config: LettaConfig, **kwargs: object) -> None:
        super().__init__(scope, id, termination_protection=config.is_prod, **kwargs)
        log_retention = retention(config.log_retention_days)
        self.network = Network(
            self,
            "Network",
            nat_gateways=config.nat_gateways,
            log_retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.database = AuroraDatabase(
            self,
            "Database",
            vpc=self.network.vpc,
            security_group=self.network.database_security_group,
            cluster_identifier=f"letta-{config.env}",
            postgres_version=config.postgres_version,
            database_name=config.db_name,
            min_capacity=config.min_acu,
            max_capacity=config.max_acu,
            auto_pause=Duration.seconds(config.auto_pause_seconds) if config.min_acu == 0 else None,
            backup_retention=Duration.days(config.backup_retention_days),
            deletion_protection=config.deletion_protection,
            removal_policy=RemovalPolicy.SNAPSHOT if config.removal_behaviour == "snapshot" else RemovalPolicy.DESTROY,
            log_retention=log_retention,
        )
        self.bootstrap = PgvectorBootstrap(
            self,
            "Pgvector",
            cluster=self.database.cluster,
            writer=self.database.writer,
            master_secret=self.database.secret,
            database_name=config.db_name,
            app_role=config.app_db_user,
            log_retention=log_retention,
        )
        self._allow_postgres(config)
        self._acknowledge(config)
        self._outputs()

    def _allow_postgres(self, config: LettaConfig) -> None:
        """The walkthrough's "PostgreSQL, 5432, My IP" rule, narrowed to the app and the listed CIDRs."""
        db_sg = self.network.database_security_group
        port = ec2.Port.tcp(self.database.port)
        db_sg.add_ingress_rule(self.network.app_security_group, port, "Letta tasks")
        for cidr in config.db_allowed_cidrs:
            peer = ec2.Peer.ipv6(cidr) if ":" in cidr else ec2.Peer.ipv4(cidr)
            db_sg.add_ingress_rule(peer, port, f"Operator {cidr} (config db_allowed_cidrs)")

    def _acknowledge(self, config: LettaConfig) -> None:
        cluster = self.database.cluster
        acknowledge(
            cluster,
            "AwsSolutions-SMG4",
            "The master secret is read only by the bootstrap Lambda; rotating it needs a rotation Lambda inside the "
            "VPC with a route to Secrets Manager (NAT or an endpoint), which dev does not have. Rotate by hand.",
        )
        acknowledge(
            cluster,
            "AwsSolutions-RDS6",
            "IAM database authentication cannot serve Letta: its LETTA_PG_URI takes a fixed password and breaks "
            "on the characters IAM tokens contain (LETTA_FACTS.md). Passwords live in Secrets Manager.",
        )
        if not config.deletion_protection:
            acknowledge(
                cluster,
                "AwsSolutions-RDS10",
                f"Deletion protection is off in the '{config.profile}' profile (config deletion_protection=false) "
                "so that `cdk destroy` removes a throwaway environment; prod turns it on.",
            )
        if any(c.endswith("/0") for c in config.db_allowed_cidrs):
            reason = (
                "The operator opened 5432 to the internet explicitly (db_allow_public=true); TLS and the "
                "generated password still apply."
            )
            for rule in ("AwsSolutions-EC23", "CloudFormation-Validate::W2508"):
                acknowledge(self.network.database_security_group, rule, reason)

    def _outputs(self) -> None:
        cluster = self.database.cluster
        CfnOutput(self, "ClusterArn", value=cluster.cluster_arn, description="Aurora cluster ARN (Data API)")
        CfnOutput(self, "WriterEndpoint", value=cluster.cluster_endpoint.hostname, description="Writer endpoint")
        CfnOutput(self, "Port", value=str(self.database.port), description="PostgreSQL port")
        CfnOutput(self, "DatabaseName", value=self.database.database_name, description="Database Letta uses")
        CfnOutput(
            self,
            "MasterSecretArn",
            value=self.database.secret.secret_arn,
            description="Master credentials (Secrets Manager ARN, not the value)",
        )
        CfnOutput(self, "PgvectorVersion", value=self.bootstrap.pgvector_version, description="Installed pgvector")
        CfnOutput(
            self,
            "ConnectionSecretArn",
            value=self.bootstrap.connection_secret.secret_arn,
            description="Secret holding LETTA_PG_URI (key 'uri'); the ARN, not the value",
        )
        CfnOutput(self, "AppSecretArn", value=self.bootstrap.app_secret.secret_arn, description="App role login")
        CfnOutput(self, "DatabaseSecurityGroupId", value=self.network.database_security_group.security_group_id)
        CfnOutput(self, "AppSecurityGroupId", value=self.network.app_security_group.security_group_id)
