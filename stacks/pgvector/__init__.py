"""The pgvector bootstrap: a custom resource (construct.py), the Lambda it deploys (handler.py, no CDK) and
that Lambda's zip (lambda_asset.py). The database code the handler runs lives in `stacks/pgsql`."""
