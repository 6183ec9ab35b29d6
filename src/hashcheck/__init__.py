"""hashcheck: a self-hostable hash check service."""
