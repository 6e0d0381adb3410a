"""The rules the production compose file and its images are held to, checked without a Docker engine.

No Docker engine exists on these machines, so the compose tests read `compose.yaml`, the Dockerfiles and
the files they mount, and check them: against the Compose Specification's JSON schema (vendored in
deploy/compose-spec/), and against the rules the platform keeps (non-root images with health checks,
data stores waited for until healthy, secrets only as required `${VAR:?}` references, one published
port at the edge, Traefik's configuration mounted and exposing nothing by default). Each rule is a
function that returns the problems it finds.

- `load`: the repository's files (compose.yaml, the schema, the workspace) and the shared types.
- `interpolation`: compose's `${VAR}` interpolation, and placeholder values for required variables.
- `readers`: small accessors for a compose document's services, mounts, ports and commands.
- `dockerfile`: Dockerfile parsing and the rules for our service images.
- `rules`: the compose rules (schema, references, health checks, secrets, images, modules…).
- `edge`: the rules for the edge: one published port, Traefik's mounts and backends.
- `settings`: each image's settings, loaded with exactly the environment compose gives it.
- `dockerignore`: `.dockerignore` matching, as Docker does it.
- `fixtures`: the pytest fixtures the compose test modules share.
"""
