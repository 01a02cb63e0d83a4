-- One database and one login role per company node sharing a PostgreSQL server.
-- The node runs its own Alembic migrations at start; it needs no rights outside its database.
-- psql -v company=acme -v password='...' -f init.sql
CREATE ROLE :"company" LOGIN PASSWORD :'password';
CREATE DATABASE :"company" OWNER :"company";
REVOKE ALL ON DATABASE :"company" FROM PUBLIC;
