"""The identification pipeline: upload safety, cache, single-flight, engines, merge, history.

Nothing here knows about FastAPI: the HTTP routes and (later) the Celery worker drive the same code.
"""
