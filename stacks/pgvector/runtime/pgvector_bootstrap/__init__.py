"""Bootstrap of the Letta database: pgvector, the app role and its connection string.

Deployed as a Lambda (handler ``pgvector_bootstrap.handler.on_event``) with only the standard
library and boto3; imported locally as ``stacks.pgvector.runtime.pgvector_bootstrap``. This package
file imports nothing, so the CDK app can load ``sql_files`` without boto3 or psycopg.
"""
