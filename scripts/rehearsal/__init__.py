"""Local rehearsal building blocks: the pinned Letta venv, its server process, an offline echo LLM."""
