-- Roles, the audit trail, and retention that a worker may run without the right to delete jobs.
-- Mirrors prisma/schema.prisma.

-- Which kind of client each PostgreSQL role was made (`queuectl db grant`). `db migrate` grants every
-- recorded role again, so a table added by a later migration reaches the roles that need it.
CREATE TABLE "role_grants" (
    "role" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "granted_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "role_grants_pkey" PRIMARY KEY ("role"),
    CONSTRAINT "role_grants_kind_check" CHECK ("kind" IN ('enqueuer', 'worker', 'viewer', 'admin'))
);

-- One row per operator action, written in the action's own transaction. `db_role` and `at` are
-- filled by the server: roles may insert every other column but not these (column grants,
-- sql/roles.ts), and no role may update or delete a row; only the owner's retention function does.
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "db_role" TEXT NOT NULL DEFAULT session_user,
    -- cli | dashboard
    "source" TEXT NOT NULL,
    "os_user" TEXT,
    "host" TEXT,
    -- The dashboard session (a short, non-secret prefix of its id) and the client's address.
    "session" TEXT,
    "client_addr" TEXT,
    "action" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "before" JSONB,
    "after" JSONB,
    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "audit_log_at_idx" ON "audit_log"("at");

-- The role that opened a dashboard session. A session is valid only for a dashboard running as the
-- same role, so a role that may write sessions (a viewer) cannot open one for an admin's dashboard.
ALTER TABLE "dashboard_sessions" ADD COLUMN "db_role" TEXT NOT NULL DEFAULT current_user;

-- Retention, as one function every worker calls: it deletes completed jobs older than the config key
-- retention_completed and audit rows older than retention_audit, at most `batch` of each per call.
-- SECURITY DEFINER: it runs with its owner's rights, so a worker role keeps retention without holding
-- DELETE on jobs (it could purge anything with it) or on audit_log (no role may). It reads the ages
-- from config itself, so a caller cannot ask for more. Config stores durations as whole seconds; any
-- other stored value counts as 0 (keep), as config.ts falls back to the default.
-- The job condition is sql/purge.ts's: a job is kept until every job depending on it has completed.
CREATE FUNCTION "queuectl_apply_retention"("batch" INTEGER)
RETURNS TABLE ("jobs_deleted" INTEGER, "audit_deleted" INTEGER)
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    jobs_age DOUBLE PRECISION;
    audit_age DOUBLE PRECISION;
BEGIN
    SELECT CASE WHEN value ~ '^[0-9]{1,12}$' THEN value::float8 ELSE 0 END INTO jobs_age FROM config WHERE key = 'retention_completed';
    SELECT CASE WHEN value ~ '^[0-9]{1,12}$' THEN value::float8 ELSE 0 END INTO audit_age FROM config WHERE key = 'retention_audit';
    jobs_deleted := 0;
    audit_deleted := 0;
    IF coalesce(jobs_age, 0) > 0 THEN
        DELETE FROM jobs WHERE id = ANY(ARRAY(
            SELECT j.id FROM jobs j
            WHERE j.state = 'completed' AND j.finished_at < now() - make_interval(secs => jobs_age)
              AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs b ON b.id = d.job_id
                              WHERE d.depends_on = j.id AND (d.settled_at IS NULL OR b.state <> 'completed'))
            ORDER BY j.finished_at LIMIT batch
            FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS jobs_deleted = ROW_COUNT;
    END IF;
    IF coalesce(audit_age, 0) > 0 THEN
        DELETE FROM audit_log WHERE id = ANY(ARRAY(
            SELECT a.id FROM audit_log a WHERE a.at < now() - make_interval(secs => audit_age) ORDER BY a.at LIMIT batch));
        GET DIAGNOSTICS audit_deleted = ROW_COUNT;
    END IF;
    RETURN NEXT;
END
$$;
-- A SECURITY DEFINER function must not find its tables through a schema a caller could write to:
-- pinned to the schema it was created in.
DO $$ BEGIN
    EXECUTE format('ALTER FUNCTION queuectl_apply_retention(integer) SET search_path = %I, pg_temp', current_schema());
END $$;
REVOKE ALL ON FUNCTION "queuectl_apply_retention"(INTEGER) FROM PUBLIC;
