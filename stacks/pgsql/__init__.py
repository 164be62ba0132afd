"""PostgreSQL code with no CDK in it, shared by the bootstrap Lambda (`stacks/pgvector/handler.py`), the local
rehearsal and the operator scripts: SQL text and files, the bootstrap itself, connection strings, SCRAM
verifiers, and two executors (the Data API's and psycopg's).

Each module imports only the standard library and at most one driver (boto3 in `data_api`, psycopg in
`psycopg_executor`), and this file imports nothing, so the CDK app reads `sql_files` without either and the
Lambda's zip takes only the modules its handler imports (`stacks/pgvector/lambda_asset.py`).
"""
