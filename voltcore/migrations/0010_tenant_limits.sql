-- Tenant isolation below the API, for fine-tuning and idempotency keys.

-- Idempotency keys expire (`idempotency_ttl_s`, 24 h by default) and a key left in progress by
-- a crashed request is taken over after `idempotency_lock_timeout_s`. `locked_at` is when the
-- attempt now holding the key took it; `attempt` names that attempt, so a slow original that
-- finishes after a takeover cannot overwrite (or delete) the new holder's row.
ALTER TABLE idempotency_keys
    ADD COLUMN locked_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN attempt   text NOT NULL DEFAULT '';
-- The periodic sweep deletes by age.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Fair claiming: when each org last had a job taken in each state, so that the claim query
-- serves the org that waited longest instead of the oldest job overall (one org's thousand
-- queued jobs never hold another org's first job behind them). A claimer holds an org's row
-- (FOR UPDATE SKIP LOCKED) while it takes that org's job, so concurrent claimers spread out.
CREATE TABLE ft_org_turns (
    org_id     text NOT NULL REFERENCES orgs (id),
    status     text NOT NULL,
    served_at  timestamptz NOT NULL,
    PRIMARY KEY (org_id, status)
);
-- Per org: the head of its queue, its running jobs, and its unfinished jobs (the limit).
CREATE INDEX ft_jobs_org_open ON ft_jobs (org_id, status, created_at, id)
    WHERE status IN ('validating_files', 'queued', 'running');
