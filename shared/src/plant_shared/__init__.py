"""Plant Community shared library: the few pieces every service needs.

Pure library: configuration comes in as arguments, never from a service's settings.
"""
