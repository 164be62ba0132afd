"""Export Letta agents with their archival memory and full message history to documented files, and import
them into another environment (`scripts/agents.py`; the format is docs/agent-export-format.md)."""
