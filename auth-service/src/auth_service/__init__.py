"""Plant Community auth service: accounts, passwords, access and refresh tokens, signing keys, service tokens."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("auth-service")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
