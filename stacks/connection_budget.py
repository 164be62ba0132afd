"""The connection budget: the most PostgreSQL connections Letta's tasks, the bootstrap and operators can hold at
once, against Aurora's max_connections at the configured capacity. The config refuses a budget that does not fit
(stacks/config.py); docs/scaling.md's table and the connection alarm read the same numbers.

No CDK import: the config model imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks import aws_rules
from stacks.letta_contract import PEAK_CONNECTIONS_PER_TASK

# The service's deployment runs up to max_healthy_percent 200 (stacks/service/letta_service.py): during a rolling
# deployment, new tasks start before the old ones stop, and the old ones keep their connections until they do.
DEPLOYMENT_OVERLAP = 2
# The pgvector bootstrap: one Data API session at a time (bootstrap_sql/ applied in order).
BOOTSTRAP_CONNECTIONS = 1
# Operator sessions (scripts/connect.py, inspect_db.py, a psql through the tunnel, the Data API console) and the
# slots PostgreSQL keeps for superusers (superuser_reserved_connections, 3 by default), which the app role cannot use.
OPERATOR_CONNECTIONS = 10


@dataclass(frozen=True)
class ConnectionBudget:
    """`needed` against `limit` (Aurora's max_connections for the capacity range) for one configuration."""

    max_tasks: int
    pooling: bool
    min_acu: float
    max_acu: float

    @property
    def per_task(self) -> int:
        return PEAK_CONNECTIONS_PER_TASK["pooled" if self.pooling else "unpooled"]

    @property
    def tasks(self) -> int:
        """The most tasks that can run at once: max_tasks, doubled while a deployment overlaps old and new."""
        return self.max_tasks * DEPLOYMENT_OVERLAP

    @property
    def needed(self) -> int:
        return self.tasks * self.per_task + BOOTSTRAP_CONNECTIONS + OPERATOR_CONNECTIONS

    @property
    def limit(self) -> int:
        return aws_rules.serverless_v2_max_connections(self.max_acu, self.min_acu)

    @property
    def fits(self) -> bool:
        return self.needed <= self.limit

    def explain(self) -> str:
        """The arithmetic, as docs/scaling.md and the refusal show it."""
        tasks = f"{self.max_tasks} task{'s' if self.max_tasks > 1 else ''}"
        return (
            f"{tasks} x {DEPLOYMENT_OVERLAP} (deployment overlap) x {self.per_task} per task "
            f"({'pooled' if self.pooling else 'unpooled'}) + {BOOTSTRAP_CONNECTIONS} bootstrap + "
            f"{OPERATOR_CONNECTIONS} operators = {self.needed}; Aurora's max_connections at max_acu {self.max_acu:g} "
            f"(min_acu {self.min_acu:g}) is {self.limit}"
        )
