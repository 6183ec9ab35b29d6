"""The `hashcheck` command: a thin face over the admin functions and the service."""
