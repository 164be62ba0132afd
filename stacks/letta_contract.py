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
"""Unset host: the start script starts a private redis-server inside every task."""
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
