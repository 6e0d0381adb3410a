#!/usr/bin/env bash
# One database per service, each owned by its own login role that can reach only that database
# (docs/architecture.md). Run by the official postgres image from /docker-entrypoint-initdb.d the
# first time it starts on an empty data volume; safe to run again by hand (every step checks first).
#
# Needs: AUTH_DB_PASSWORD, GATEWAY_DB_PASSWORD, CMS_DB_PASSWORD (the same values the services get in
# their database URLs). The image's entrypoint supplies POSTGRES_USER / POSTGRES_DB and a server on
# its local socket; PGHOST / PGPORT, if set, point psql elsewhere (the test suite does that).
set -euo pipefail

: "${AUTH_DB_PASSWORD:?set AUTH_DB_PASSWORD}"
: "${GATEWAY_DB_PASSWORD:?set GATEWAY_DB_PASSWORD}"
: "${CMS_DB_PASSWORD:?set CMS_DB_PASSWORD}"

admin_user="${POSTGRES_USER:-postgres}"
admin_db="${POSTGRES_DB:-$admin_user}"

create_service_database() {
    local name="$1" password="$2"
    # Passwords travel as psql variables and are quoted by format(%L): never spliced into SQL text.
    # CREATE DATABASE cannot run inside a transaction block, hence \gexec rather than a DO block.
    psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$admin_user" --dbname "$admin_db" \
        -v name="$name" -v password="$password" <<-'SQL'
	SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
	WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name')
	\gexec
	-- Re-running with a new password rotates it.
	SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'name', :'password')
	\gexec
	SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
	WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name')
	\gexec
	-- PUBLIC may CONNECT to every new database by default; only the owner (and superusers) may here.
	SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name')
	\gexec
SQL
}

create_service_database auth "$AUTH_DB_PASSWORD"
create_service_database gateway "$GATEWAY_DB_PASSWORD"
create_service_database cms "$CMS_DB_PASSWORD"

# The maintenance databases too: a service role reaches its own database and nothing else.
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$admin_user" --dbname "$admin_db" -v admin_db="$admin_db" <<-'SQL'
	SELECT format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', datname)
	FROM pg_database WHERE datname IN (:'admin_db', 'postgres', 'template1')
	\gexec
SQL
