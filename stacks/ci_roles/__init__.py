"""The CI roles stack: GitHub OIDC and one role per job's need, deployed once per account (`-c ci_roles=true`)."""
