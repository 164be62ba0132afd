"""Aurora's reader instances, in a stack of their own (docs/deploy-time.md)."""
