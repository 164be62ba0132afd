"""Restore into a new environment: the copy of the source's secrets (the cluster's restore is in stacks/data)."""
