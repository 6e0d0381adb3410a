"""Settings split by environment: `base` (shared, read from `CMS_*` variables), `dev`, `test`, `production`.

Choose one with `DJANGO_SETTINGS_MODULE=plant_cms.settings.<name>`.
"""
