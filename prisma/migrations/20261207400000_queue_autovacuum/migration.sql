-- Autovacuum for the queue's busiest tables by a count of dead rows, not a share: by default a table
-- is vacuumed once a fifth of it is dead, which for a jobs table that keeps a month of history is
-- hundreds of thousands of dead versions the claim steps over. Workers also vacuum these tables
-- themselves (config vacuum_dead_rows); these settings are for when they cannot (a role that does not
-- own the tables) and for the tables between their checks.
ALTER TABLE "jobs" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE "job_attempts" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE "workers" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500);
ALTER TABLE "job_output" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
