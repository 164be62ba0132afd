"""The stateless half: the Letta service (stack.py wires it): Fargate tasks behind a load balancer, the
container's supervisor and command, the task image, alarms."""
