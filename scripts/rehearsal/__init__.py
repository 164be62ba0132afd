"""Local rehearsal building blocks: the pinned Letta venv, the container command from cdk.out, our processes, an
offline echo LLM and a round-robin front."""
