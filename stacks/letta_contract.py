"""What the Letta server is to this toolkit, written once: the release, its image, its port and health route,
its start script and where the image keeps it, the environment it reads, and what its migrations leave.

The task definition, the container's supervisor, the local rehearsal and the operator scripts all read it.
No CDK import: the scripts and the rehearsal import it too. Facts from Letta 0.16.8's sdist (Dockerfile,
letta/server/startup.sh, letta/settings.py) and from running it (LETTA_FACTS.md).
"""

from __future__ import annotations

VERSION = "0.16.8"
"""The last release of the Letta V1 server (the project moved on; pin a fork or a digest with `letta_image`)."""
IMAGE = f"letta/letta:{VERSION}"
PORT = 8283
HEALTH_PATH = "/v1/health/"
"""The trailing slash matters: `/v1/health` answers 307, which a load balancer counts as unhealthy."""
APP_DIR = "/app"
"""The image's working directory: `/app/.venv/bin` is first on PATH, so `python3` there is Letta's venv."""
START_SCRIPT = "./letta/server/startup.sh"
"""The image's CMD, relative to APP_DIR: migrations, then `letta server` (redis and collector on the side)."""
ALEMBIC_HEAD = "1c28e167b74f"
"""`alembic_version.version_num` after a full migration of 0.16.8 (167 revisions, 49 tables in `public`)."""

# The environment the image reads.
PG_URI = "LETTA_PG_URI"
"""The only database setting the image honours; empty, its start script runs a throwaway PostgreSQL."""
SERVER_PASSWORD = "LETTA_SERVER_PASSWORD"
ENCRYPTION_KEY = "LETTA_ENCRYPTION_KEY"
SECURE_SWITCHES = {"SECURE": "true", "LETTA_SERVER_SECURE": "true"}
"""Secure mode: the start script passes --secure for SECURE; the server reads the other (exactly lowercase)."""
REDIS_HOST = "LETTA_REDIS_HOST"
REDIS_PORT = "LETTA_REDIS_PORT"
"""Unset host: the start script starts a private redis-server inside every task. The client takes host and port
only: no TLS, no AUTH (letta/data_sources/redis_client.py, `get_redis_client`)."""
REDIS_DEFAULT_PORT = 6379
DISABLE_POOLING = "LETTA_DISABLE_SQLALCHEMY_POOLING"
"""`true` (Letta's default): SQLAlchemy's NullPool, one new TLS connection per database session. `false`: a queue pool
of `pg_pool_size` 25 + `pg_max_overflow` 10 per process (letta/server/db.py, letta/settings.py). The task always
sets it: the choice is the config's `db_pooling`, never Letta's silent default."""

KEEP_ALIVE = "LETTA_UVICORN_TIMEOUT_KEEP_ALIVE"
"""Seconds uvicorn keeps an idle keep-alive connection open (letta/settings.py `uvicorn_timeout_keep_alive`, default
5; `letta server` passes it to `uvicorn.run(timeout_keep_alive=...)` in letta/server/rest_api/app.py)."""
LOAD_BALANCER_IDLE_TIMEOUT_SECONDS = 600
"""The load balancer's idle timeout: the walkthrough's client waits up to 600 s for an agent step, and the load
balancer must not cut a quiet request sooner. The rehearsal's front keeps idle connections this long too."""
KEEP_ALIVE_SECONDS = LOAD_BALANCER_IDLE_TIMEOUT_SECONDS + 60
"""What the task sets in KEEP_ALIVE. A target must keep idle connections open longer than the load balancer does:
otherwise the ALB reuses a connection the target has just closed, and the client gets an intermittent 502
(Elastic Load Balancing docs, "Connection idle timeout" of Application Load Balancers, and "HTTP 502: Bad
gateway" in "Troubleshoot your Application Load Balancers"). Letta's default of 5 s is far below 600 s."""

# Letta's peak PostgreSQL connections per task, by pooling mode: the one place the connection budget
# (stacks/connection_budget.py) reads them from.
# - "pooled": the documented pool ceiling, pg_pool_size 25 + pg_max_overflow 10, times one process (`letta server`
#   runs uvicorn with settings.uvicorn_workers = 1 and the image does not change it; letta/server/db.py creates the
#   only engine), plus 1 for `alembic upgrade head`, which startup.sh runs in the same task before the server.
#   A ceiling, not a guess: SQLAlchemy never opens more than pool_size + max_overflow.
# - "unpooled": NO bound exists in Letta 0.16.8's code: NullPool opens one connection per concurrent session,
#   uvicorn runs without limit_concurrency and settings.db_max_concurrent_sessions is read nowhere. The figure is
#   PROVISIONAL (set to the pooled ceiling) until the two-instance rehearsal's measured peak (pg_stat_activity
#   under its load) replaces both figures here.
PEAK_CONNECTIONS_PER_TASK = {"pooled": 25 + 10 + 1, "unpooled": 36}

LLM_ENV_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GROQ_API_KEY",
    "OPENROUTER_API_KEY",
    "AZURE_API_KEY",
    "AZURE_BASE_URL",
    "OLLAMA_BASE_URL",
    "DEEPSEEK_API_KEY",
    "TOGETHER_API_KEY",
    "XAI_API_KEY",
    "MISTRAL_API_KEY",
)
"""Provider variables Letta reads; a provider is on when its variables are set."""
