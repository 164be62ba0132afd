-- pgvector, for the embedding columns of Letta's schema (archival_passages, source_passages).
--
-- Letta's migrations use the `vector` type but never create the extension, and creating it needs the
-- master user (rds_superuser on Aurora), not the app role. This runs in the database Letta uses: the
-- bootstrap connects to that database, so no database name appears here.
--
-- Idempotent: IF NOT EXISTS makes a second run a no-op (PostgreSQL only prints a notice).

CREATE EXTENSION IF NOT EXISTS vector;
