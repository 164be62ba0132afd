"""What AWS and PostgreSQL themselves refuse, checked at synth so that `cdk deploy` never finds out.

Each rule cites the page it encodes. Every check returns `None` when the value is fine, or a short
phrase saying what is allowed (the config turns it into its one-line refusal).
"""

from __future__ import annotations

import datetime
import ipaddress
import itertools
import re
from collections.abc import Iterable

from stacks.letta_contract import IMAGE

# --- Names -------------------------------------------------------------------------------------------

# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html (DBClusterIdentifier):
# 1-63 letters, digits or hyphens; first a letter; no trailing hyphen, no two consecutive hyphens.
_CLUSTER_IDENTIFIER = re.compile(r"^[a-zA-Z](?:[a-zA-Z0-9]|-(?=[a-zA-Z0-9])){0,62}$")

# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-using-console-create-stack-parameters.html
# A stack name: letters, digits and hyphens, starting with a letter, at most 128 characters.
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")

# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html (DatabaseName, Aurora
# PostgreSQL): 1-63 alphanumeric characters, starting with a letter, then letters, digits or underscores,
# not a word reserved by the engine. Lowercase only here: PostgreSQL folds unquoted names to lowercase, and
# Letta's connection string and the bootstrap SQL then name the same database.
_DATABASE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# https://www.postgresql.org/docs/17/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS: at most
# NAMEDATALEN-1 = 63 bytes; a letter or underscore, then letters, digits, underscores.
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# https://www.postgresql.org/docs/17/sql-keywords-appendix.html: the key words PostgreSQL marks "reserved"
# and "reserved (can be function or type)" (src/include/parser/kwlist.h: RESERVED_KEYWORD and
# TYPE_FUNC_NAME_KEYWORD). RDS refuses them as a database name; as a role name they need quoting everywhere.
POSTGRES_RESERVED_WORDS = frozenset(
    """
    all analyse analyze and any array as asc asymmetric both case cast check collate column constraint
    create current_catalog current_date current_role current_time current_timestamp current_user default
    deferrable desc distinct do else end except false fetch for foreign from grant group having in
    initially intersect into lateral leading limit localtime localtimestamp not null offset on only or
    order placing primary references returning select session_user some symmetric system_user table then
    to trailing true union unique user using variadic when where window with
    authorization binary collation concurrently cross current_schema freeze full ilike inner is isnull
    join left like natural notnull outer overlaps right similar tablesample verbose
    """.split()  # noqa: SIM905 - the appendix's words as written there, easy to compare
)

# Role names PostgreSQL or RDS keep for themselves:
# - https://www.postgresql.org/docs/17/sql-createrole.html and .../predefined-roles.html: names starting
#   with `pg_` are reserved ("role name "pg_x" is reserved"); `public` and `none` are not role names.
# - https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Appendix.PostgreSQL.CommonDBATasks.Roles.html:
#   RDS's own roles start with `rds` (rds_superuser, rdsadmin, rds_iam, ...); `postgres` is the master user.
_RESERVED_ROLE_PREFIXES = ("pg_", "rds")
# Databases every Aurora PostgreSQL cluster already has (https://www.postgresql.org/docs/17/manage-ag-templatedbs.html;
# `postgres` is created by RDS, `rdsadmin` is RDS's own and not accessible).
_RESERVED_DATABASES = frozenset({"postgres", "rdsadmin", "template0", "template1"})
_RESERVED_ROLES = frozenset({"postgres", "public", "none", "rdsadmin", "rdsrepladmin", "rdstopmgr"})


def cluster_identifier_problem(name: str) -> str | None:
    if _CLUSTER_IDENTIFIER.match(name):
        return None
    return "an RDS cluster identifier: 1-63 letters, digits, hyphens; no trailing or double hyphen"


def stack_name_problem(name: str) -> str | None:
    return None if _STACK_NAME.match(name) else "a CloudFormation stack name (letters, digits, '-', max 128)"


def database_name_problem(name: str) -> str | None:
    if not _DATABASE_NAME.match(name):
        return "1-63 lowercase letters, digits, '_', starting with a letter (RDS DatabaseName rules)"
    if name in POSTGRES_RESERVED_WORDS:
        return "not a PostgreSQL reserved word (RDS refuses it as a database name)"
    if name in _RESERVED_DATABASES:
        return "a database of Letta's own, not postgres, rdsadmin, template0 or template1"
    return None


def role_name_problem(name: str) -> str | None:
    if not _ROLE_NAME.match(name):
        return "a PostgreSQL role name: 1-63 lowercase letters, digits, '_', not starting with a digit"
    if name.startswith(_RESERVED_ROLE_PREFIXES) or name in _RESERVED_ROLES:
        return "a role name PostgreSQL and RDS do not reserve (not pg_*, rds*, postgres, public, none)"
    if name in POSTGRES_RESERVED_WORDS:
        return "not a PostgreSQL reserved word"
    return None


# --- Container images ----------------------------------------------------------------------------------

# The reference grammar of the OCI distribution spec as Docker and containerd implement it:
# https://github.com/distribution/reference/blob/main/reference.go (grammar in the package comment) and
# https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests (name and tag).
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_NAME = rf"(?:{_HOST}(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$")
# https://github.com/opencontainers/image-spec/blob/main/descriptor.md#registered-algorithms
_REGISTERED_DIGESTS = {"sha256": re.compile(r"^[a-f0-9]{64}$"), "sha512": re.compile(r"^[a-f0-9]{128}$")}
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html (image): up to 255
# characters; distribution's own name limit is 255 as well.
_MAX_IMAGE = 255


def _first_component_ok(name: str) -> bool:
    """Docker reads the first component as a registry only if it has a '.' or ':' or is `localhost`
    (distribution/reference normalize.go, splitDockerDomain); otherwise it is a lowercase path component."""
    first, slash, _ = name.partition("/")
    if not slash or "." in first or ":" in first or first == "localhost" or first.startswith("["):
        return True
    return re.fullmatch(_PATH_COMPONENT, first) is not None


def image_reference_problem(reference: str) -> str | None:
    """An OCI image reference that is also pinned: a tag other than `latest`, or a digest."""
    pinned = f"an image pinned by tag or digest, e.g. {IMAGE} or letta/letta@sha256:<64 hex>"
    match = _REFERENCE.match(reference)
    if not match or len(reference) > _MAX_IMAGE or not _first_component_ok(match["name"]):
        return f"{pinned} (OCI reference grammar: [registry[:port]/]lowercase/path[:tag][@digest])"
    digest = match["digest"]
    if digest:
        algorithm, _, encoded = digest.partition(":")
        rule = _REGISTERED_DIGESTS.get(algorithm)
        if rule is None or not rule.match(encoded):
            return f"{pinned}; a digest is sha256:<64 lowercase hex> or sha512:<128 lowercase hex>"
        return None
    if match["tag"] in (None, "latest"):
        return f"{pinned}; ':latest' and untagged names are not pinned"
    return None


# --- Regions and ARNs ----------------------------------------------------------------------------------

# Regions where Aurora PostgreSQL 17 runs Serverless v2 AND the RDS Data API serves it (the bootstrap and
# inspection depend on the Data API):
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.Aurora_Fea_Regions_DB-eng.Feature.Data_API.html
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.Aurora_Fea_Regions_DB-eng.Feature.ServerlessV2.html
# The Data API table marks Asia Pacific (Hyderabad, Melbourne, New Zealand) "Not available"; those are
# refused with that reason. Add a region here when AWS's table lists it.
DATA_API_REGIONS: dict[str, str] = {
    **dict.fromkeys(
        (
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "af-south-1",
            "ap-east-1",
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-5",
            "ap-southeast-7",
            "ca-central-1",
            "ca-west-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "me-south-1",
            "mx-central-1",
            "sa-east-1",
        ),
        "aws",
    ),
    "cn-north-1": "aws-cn",
    "cn-northwest-1": "aws-cn",
    "us-gov-east-1": "aws-us-gov",
    "us-gov-west-1": "aws-us-gov",
}
DATA_API_UNAVAILABLE = frozenset({"ap-south-2", "ap-southeast-4", "ap-southeast-6"})
_REGION_SHAPE = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")


def region_problem(region: str) -> str | None:
    if region in DATA_API_REGIONS:
        return None
    if region in DATA_API_UNAVAILABLE:
        return "a region where the RDS Data API serves Aurora PostgreSQL 17 (AWS lists it not available here)"
    if _REGION_SHAPE.match(region):
        return "a region where Aurora PostgreSQL 17 Serverless v2 and the RDS Data API exist, e.g. us-east-1"
    return "an AWS region name such as us-east-1"


def partition_of(region: str) -> str:
    """https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html: partitions by region prefix."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html:
# arn:partition:service:region:account-id:resource
_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
    r"(?P<account>\d{12}):(?P<resource>.+)$"
)
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscertificatemanager.html
_CERTIFICATE = re.compile(rf"^certificate/{_UUID}$")
# https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_secret_json_structure.html and
# https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot.html#ARN_secretnamehyphen: a
# complete secret ARN ends with '-' and the 6 random characters Secrets Manager appends to the name.
_SECRET = re.compile(r"^secret:[A-Za-z0-9/_+=.@-]{1,512}-[A-Za-z0-9]{6}$")
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodeconnections.html
_CONNECTION = re.compile(rf"^connection/{_UUID}$")


def _arn(value: str, service: str | tuple[str, ...], what: str) -> tuple[dict[str, str] | None, str | None]:
    services = (service,) if isinstance(service, str) else service
    match = _ARN.match(value)
    if not match or match["service"] not in services:
        return None, f"{what} (arn:aws:{services[0]}:<region>:<12-digit account>:...)"
    return match.groupdict(), None


def certificate_arn_problem(value: str, region: str | None) -> str | None:
    """An ACM certificate in the stack's region: an ALB listener accepts no other (ACM docs, 'Regions')."""
    parts, problem = _arn(value, "acm", "an ACM certificate ARN")
    if parts is None:
        return problem
    if not _CERTIFICATE.match(parts["resource"]):
        return "an ACM certificate ARN ending in certificate/<uuid>"
    if region and parts["region"] != region:
        return f"an ACM certificate in the stack's region {region} (a load balancer uses no other region's)"
    if region and parts["partition"] != partition_of(region):
        return f"an ARN of partition {partition_of(region)} (region {region})"
    return None


def secret_arn_problem(value: str, region: str | None = None) -> str | None:
    parts, problem = _arn(value, "secretsmanager", "a Secrets Manager secret ARN")
    if parts is None:
        return problem
    if region and parts["partition"] != partition_of(region):
        return f"an ARN of partition {partition_of(region)} (region {region})"
    if not parts["region"] or not _SECRET.match(parts["resource"]):
        return "the complete secret ARN, ending in secret:<name>-<6 characters> (as the console shows it)"
    return None


def connection_arn_problem(value: str) -> str | None:
    parts, problem = _arn(value, ("codeconnections", "codestar-connections"), "a CodeConnections ARN")
    if parts is None:
        return problem
    if not parts["region"] or not _CONNECTION.match(parts["resource"]):
        return "a CodeConnections ARN ending in connection/<uuid>"
    return None


# --- Network -------------------------------------------------------------------------------------------

# Address space that is not reachable from the internet (RFC 6890 special-purpose blocks and multicast):
# https://www.iana.org/assignments/iana-ipv4-special-registry/ . A set of CIDRs that, together with these,
# covers 0.0.0.0/0 admits every public IPv4 address. For IPv6 the public space is 2000::/3 (RFC 4291).
_IPV4_NOT_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/3",
    )
)
_IPV6_PUBLIC = ipaddress.ip_network("2000::/3")


def _covers(networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network], low: int, high: int) -> bool:
    """Whether the union of `networks` covers every address in [low, high)."""
    reached = low
    for start, end in sorted((int(n.network_address), int(n.broadcast_address) + 1) for n in networks):
        if start > reached:
            break
        reached = max(reached, end)
    return reached >= high


def public_cover(cidrs: Iterable[str]) -> str | None:
    """'0.0.0.0/0' or '::/0' when the CIDRs together admit every public address of that family, else None."""
    networks = [ipaddress.ip_network(c) for c in cidrs]
    v4 = [n for n in networks if n.version == 4]
    if v4 and _covers([*v4, *_IPV4_NOT_PUBLIC], 0, 2**32):
        return "0.0.0.0/0"
    v6 = [n for n in networks if n.version == 6]
    low = int(_IPV6_PUBLIC.network_address)
    if v6 and _covers(v6, low, low + _IPV6_PUBLIC.num_addresses):
        return "::/0"
    return None


# Address space a network routed into a VPC can have (VPN, peering, Transit Gateway, Direct Connect): RFC 1918,
# RFC 6598 shared space (carrier-grade NAT, used by some client VPNs) and RFC 4193 unique local IPv6.
# https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html lists the same IPv4 ranges for VPCs.
ROUTED_PRIVATE = tuple(
    ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def routed_private_problem(cidr: str) -> str | None:
    """Why `cidr` cannot be a network that reaches a database in isolated subnets; None when it can."""
    network = ipaddress.ip_network(cidr)
    if any(network.version == r.version and network.subnet_of(r) for r in ROUTED_PRIVATE):  # type: ignore[arg-type]
        return None
    return (
        "a private range routed into the VPC (within 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10 or "
        "fc00::/7): the database has no public address; from anywhere else use scripts/connect.py --tunnel"
    )


# https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-security-groups: 60
# inbound rules per security group by default, counted separately for IPv4 and IPv6 CIDRs.
SECURITY_GROUP_RULES = 60


def security_group_rules_problem(cidrs: Iterable[str], *, ports: int, reserved: int = 0) -> str | None:
    """Whether `cidrs`, each opened on `ports` ports beside `reserved` other rules, fit one security group."""
    networks = [ipaddress.ip_network(c) for c in cidrs]
    for version in (4, 6):
        rules = len({n for n in networks if n.version == version}) * ports + reserved
        if rules > SECURITY_GROUP_RULES:
            most = (SECURITY_GROUP_RULES - reserved) // ports
            return f"at most {most} IPv{version} CIDRs here (a security group holds {SECURITY_GROUP_RULES} rules)"
    return None


# --- Fargate and CloudWatch Logs -----------------------------------------------------------------------

# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
# CPU units -> the memory values (MiB) Fargate accepts with them; no other pair is accepted.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}

# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922)
LOG_RETENTION_DAYS = (*LOG_RETENTION_DAYS, 3288, 3653)


# --- Aurora PostgreSQL Serverless v2: max_connections -----------------------------------------------------

# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.setting-capacity.html
# (section "Maximum connections for Aurora Serverless v2"): the default max_connections is the engine's
# formula LEAST({DBInstanceClassMemory/9531392}, 5000) (AuroraPostgreSQL.Managing.html, "Maximum connections to an
# Aurora PostgreSQL DB instance") evaluated at the memory of the *maximum* ACU, held constant while the
# instance scales. DBInstanceClassMemory is less than the nominal 2 GiB per ACU (the OS keeps some), so the page's
# table is the authority: max ACU 1 -> 189, 4 -> 823, 8 -> 1,669, 16 -> 3,360, 32 and more -> 5,000. With a
# minimum of 0.5 ACU (and below) the value is capped at 2,000. It is a static parameter: a changed max ACU applies
# after the instances reboot.
SERVERLESS_V2_MAX_CONNECTIONS = ((1.0, 189), (4.0, 823), (8.0, 1669), (16.0, 3360), (32.0, 5000))
SERVERLESS_V2_LOW_MIN_CAP = 2000


def serverless_v2_max_connections(max_acu: float, min_acu: float) -> int:
    """Aurora PostgreSQL Serverless v2's default max_connections for a capacity range (the table above).

    Between two documented points the value is read off the straight line joining them: the formula is linear in
    the instance's memory, which is linear in ACU (the documented points lie within 1% of one line, about
    211 connections per ACU). Below 1 ACU (not a valid maximum here) the 1-ACU value is returned."""
    points = SERVERLESS_V2_MAX_CONNECTIONS
    if max_acu <= points[0][0]:
        value = points[0][1]
    elif max_acu >= points[-1][0]:
        value = points[-1][1]
    else:
        (low_acu, low), (high_acu, high) = next(
            (a, b) for a, b in itertools.pairwise(points) if a[0] <= max_acu <= b[0]
        )
        value = int(low + (high - low) * (max_acu - low_acu) / (high_acu - low_acu))
    return min(value, SERVERLESS_V2_LOW_MIN_CAP) if min_acu < 1 else value


# --- ElastiCache ------------------------------------------------------------------------------------------

# https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheNodes.SupportedTypes.html: node types are named
# cache.<family>.<size> (cache.t4g.micro, cache.r7g.large); which exist in a region is AWS's to say at deploy.
_CACHE_NODE_TYPE = re.compile(r"^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$")


def cache_node_type_problem(node_type: str) -> str | None:
    if not _CACHE_NODE_TYPE.match(node_type):
        return "an ElastiCache node type such as cache.t4g.micro (cache.<family>.<size>)"
    return None


# --- Restore: snapshots, source clusters, points in time -------------------------------------------------

# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBClusterSnapshot.html
# (DBClusterSnapshotIdentifier): 1-255 letters, digits or hyphens; first a letter; no trailing hyphen, no two
# consecutive hyphens. Automated snapshots are named `rds:<cluster id>-<yyyy-mm-dd-hh-mm>` by RDS itself
# (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-restore-snapshot.html), and
# RestoreDBClusterFromSnapshot's SnapshotIdentifier takes the name or the ARN
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBClusterFromSnapshot.html).
_SNAPSHOT_NAME = re.compile(r"^(?:rds:)?[a-zA-Z](?:[a-zA-Z0-9]|-(?=[a-zA-Z0-9])){0,254}$")
_SNAPSHOT_RESOURCE = re.compile(r"^cluster-snapshot:(?P<name>.+)$")
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBClusterToPointInTime.html
# (RestoreToTime): "Must be before the latest restorable time", in UTC, as CloudFormation writes it
# (AWS::RDS::DBCluster RestoreToTime: "2015-03-07T23:45:00Z").
_RESTORE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
LATEST = "latest"


def snapshot_problem(value: str, region: str | None = None) -> str | None:
    """A DB cluster snapshot name (manual, or `rds:...` automated) or its ARN, in the stack's region."""
    what = (
        "a DB cluster snapshot name (letters, digits, single '-', starting with a letter; automated ones "
        "start with 'rds:') or its ARN arn:aws:rds:<region>:<account>:cluster-snapshot:<name>"
    )
    if value.startswith("arn:"):
        parts, problem = _arn(value, "rds", what)
        if parts is None:
            return problem
        match = _SNAPSHOT_RESOURCE.match(parts["resource"])
        if not match or not parts["region"] or not _SNAPSHOT_NAME.match(match["name"]):
            return what
        if region and parts["region"] != region:
            # RDS restores only a snapshot in the cluster's own region: copy it first (copy-db-cluster-snapshot).
            return f"a snapshot in the stack's region {region} (copy it there first: aws rds copy-db-cluster-snapshot)"
        return None
    return None if _SNAPSHOT_NAME.match(value) else what


def restore_time_problem(value: str, now: datetime.datetime | None = None) -> str | None:
    """'latest', or an ISO-8601 UTC second that is not in the future."""
    what = "an ISO-8601 UTC time such as 2026-12-01T09:30:00Z, or 'latest' (the latest restorable time)"
    if value == LATEST:
        return None
    if not _RESTORE_TIME.match(value):
        return what
    try:
        moment = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return what
    if moment > (now or datetime.datetime.now(datetime.UTC)):
        return "a time in the past (RDS restores up to the latest restorable time, a few minutes ago); or 'latest'"
    return None


# --- An existing VPC, the created VPC's range, a domain, browser origins --------------------------------

# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/resource-ids.html: resource ids are a prefix and 8 or 17
# lowercase hex characters (the long form since 2018).
_RESOURCE_ID = r"[0-9a-f]{8}(?:[0-9a-f]{9})?"
_VPC_ID = re.compile(rf"^vpc-{_RESOURCE_ID}$")
_SUBNET_ID = re.compile(rf"^subnet-{_RESOURCE_ID}$")
_ROUTE_TABLE_ID = re.compile(rf"^rtb-{_RESOURCE_ID}$")
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-regions-availability-zones.html: a zone name is its
# region's name and a letter (us-east-1a); Local and Wavelength Zones (us-east-1-bos-1a) cannot hold Aurora.
_AZ_NAME = re.compile(r"^(?P<region>[a-z]{2}(?:-[a-z]+)+-\d{1,2})[a-z]$")


def vpc_id_problem(value: str) -> str | None:
    return None if _VPC_ID.match(value) else "a VPC id: vpc- and 8 or 17 lowercase hex digits"


def subnet_id_problem(value: str) -> str | None:
    return None if _SUBNET_ID.match(value) else "subnet ids: subnet- and 8 or 17 lowercase hex digits"


def route_table_id_problem(value: str) -> str | None:
    return None if _ROUTE_TABLE_ID.match(value) else "route table ids: rtb- and 8 or 17 lowercase hex digits"


def availability_zone_problem(value: str, region: str | None) -> str | None:
    match = _AZ_NAME.match(value)
    if not match:
        return "Availability Zone names such as us-east-1a (a region name and one letter)"
    if region and match["region"] != region:
        return f"Availability Zones of the stack's region {region}"
    return None


# https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html: a VPC's IPv4 block is /16 to /28; the
# RFC 1918 ranges are the recommended ones (public ranges work but collide with the internet's own addresses).
VPC_PRIVATE_RANGES = tuple(ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
# The created VPC's subnets per AZ (stacks/data/network.py): public /24, database /24 and, with NAT, app /22,
# in two AZs. CDK allocates them in that order, each aligned to its size: 2 x /24, 2 x /24, then 2 x /22 from
# the next /22 boundary end at the 12th /24, inside a /20. /20 is also the smallest size that leaves room to
# turn NAT on later without a new range (a new range replaces the VPC).
VPC_MAX_PREFIX = 20


def vpc_cidr_problem(value: str) -> str | None:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return "an IPv4 CIDR such as 10.40.0.0/16 (host bits zero)"
    if network.version != 4 or not any(network.subnet_of(r) for r in VPC_PRIVATE_RANGES):  # type: ignore[arg-type]
        return "a private IPv4 range within 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
    if not 16 <= network.prefixlen <= VPC_MAX_PREFIX:
        return f"/16 to /{VPC_MAX_PREFIX}: VPCs are at most /16, and the subnets (2 x /24, 2 x /24, 2 x /22) need a /20"
    return None


# https://docs.aws.amazon.com/Route53/latest/APIReference/API_HostedZone.html: an id like Z0123456789ABCDEFGHIJ
# (the console shows it without the /hostedzone/ prefix).
_HOSTED_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
# RFC 1035 / RFC 1123 host names as ACM takes them: labels of letters, digits and inner hyphens, 63 at most,
# 253 in all, at least two labels; lowercase here because DNS compares case-insensitively and ACM lowercases.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+{_LABEL}$")


def hosted_zone_id_problem(value: str) -> str | None:
    return None if _HOSTED_ZONE_ID.match(value) else "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ"


def domain_name_problem(value: str) -> str | None:
    if len(value) > 253 or not _DOMAIN.match(value):
        return "a lowercase DNS name such as letta.example.com (no scheme, no trailing dot, no wildcard)"
    return None


# Letta 0.16.8 (letta/settings.py): ACCEPTABLE_ORIGINS is split on ',' with nothing stripped and appended to the
# localhost defaults; Starlette's CORSMiddleware then compares the browser's Origin header with each entry as a
# string. An origin is scheme://host[:port] with no path and no trailing slash (RFC 6454), so anything else
# (a space, a path, a trailing '/') never matches. A page served over https cannot call a plain-http API (mixed
# content), and a plain-http page anywhere but this machine gives the server password to the network.
_ORIGIN = re.compile(
    rf"^(?P<scheme>https?)://(?P<host>(?:{_LABEL}\.)*{_LABEL}|\d{{1,3}}(?:\.\d{{1,3}}){{3}}|\[::1\])(?::(?P<port>\d{{1,5}}))?$"
)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def browser_origin_problem(value: str) -> str | None:
    what = "browser origins as scheme://host[:port] (no path, no trailing '/', no spaces), e.g. https://ade.example.com"
    match = _ORIGIN.match(value)
    if not match or (match["port"] and not 0 < int(match["port"]) < 65536):
        return what
    if match["scheme"] == "http" and match["host"] not in _LOOPBACK_HOSTS:
        return "https origins (http only for localhost, 127.0.0.1 or [::1])"
    return None
