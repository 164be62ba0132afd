"""Agent-memory benchmark: Letta 0.16.8's archival search on its own schema, at the shapes users have.

- :mod:`.letta_schema`: the SQL Letta issues, its padding, and running Letta's own migrations;
- :mod:`.load`: organisations, agents, archives and passages written into Letta's tables (binary COPY);
- :mod:`.measure`: timed searches, EXPLAIN (ANALYZE, BUFFERS), sizes, the TOAST check;
- :mod:`.costs`: Aurora I/O charges, the storage-type break-even, the buffer cache per ACU;
- :mod:`.report`: tables and the plot.

``scripts/benchmark_memory.py`` is the command line.
"""
