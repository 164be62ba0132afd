"""The Letta service: Fargate tasks behind a load balancer (construct), and the log filter its container runs."""
