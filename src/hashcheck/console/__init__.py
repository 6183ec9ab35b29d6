"""The operator's web console: server-rendered pages over the same service as the CLI and the
admin API (`admin`), signed in with an operator account."""
