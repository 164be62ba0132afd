-- The login role Letta connects as, with only what its migrations and server need.
--
-- Placeholders, filled in by the bootstrap (values are checked to be plain lowercase identifiers):
--   ${app_role}          the role name, as a double-quoted identifier
--   ${app_role_literal}  the same name, as a single-quoted string (for the pg_roles lookup)
--   ${database}          the database Letta uses, as a double-quoted identifier
--
-- The password is not set here: the bootstrap sets it afterwards with ALTER ROLE ... PASSWORD and a
-- SCRAM-SHA-256 verifier computed on its side, so the plain password never reaches the server.
--
-- Nothing below needs a true superuser: Aurora's master user (rds_superuser, CREATEROLE) can run it all.
-- Idempotent: the role is created only when missing, and granting a privilege twice is a no-op.

-- CREATE ROLE has no IF NOT EXISTS, hence the lookup.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ${app_role_literal}) THEN
        CREATE ROLE ${app_role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;

-- Letta opens a new connection for every database session.
GRANT CONNECT ON DATABASE ${database} TO ${app_role};

-- Letta's migrations create their tables in `public`; since PostgreSQL 15 only the database owner may
-- create there by default. The app role then owns the tables it creates, which later migrations alter.
GRANT USAGE, CREATE ON SCHEMA public TO ${app_role};
