"""The local stack: real PostgreSQL, Redis and Traefik from wheels, the three services, a Celery
worker and the provider stand-in, supervised by one process (`python -m devstack`)."""
