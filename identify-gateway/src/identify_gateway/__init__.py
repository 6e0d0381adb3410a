"""Plant Community identification gateway: engines in parallel behind cache, locks and breakers."""

from importlib.metadata import version

__version__ = version("identify-gateway")
