"""The pgvector bootstrap: a custom resource (construct.py) and the Lambda code it deploys (runtime/)."""
