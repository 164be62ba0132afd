"""CDK Pipelines deploying the same two stacks (stack.py)."""
