"""The CMS's first app: the site's root page, the user model, probes, error envelope and route labels."""
