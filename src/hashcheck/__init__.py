"""hashcheck: a self-hostable hash check service."""


def installed_version() -> str:
    """The installed distribution's version (what `pip install` put there)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hashcheck")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"
