"""The stateful half: network, Aurora, secrets, the image copy, the shared cache (stack.py wires them)."""
