-- Fine-tuning: uploaded files, LoRA jobs (a state machine with a row version), their events,
-- and the fine-tuned models Spark serves to the org that trained them.

-- Uploaded `fine-tune` files. The bytes live in the artifact store (`files/<org>/<id>.jsonl`);
-- a row exists only for a file that passed validation.
CREATE TABLE ft_files (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES orgs (id),
    filename    text NOT NULL,
    purpose     text NOT NULL CHECK (purpose IN ('fine-tune')),
    bytes       bigint NOT NULL CHECK (bytes >= 0),
    examples    integer NOT NULL CHECK (examples > 0),
    sha256      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ft_files_org_created ON ft_files (org_id, created_at DESC, id DESC);

-- Jobs. `version` guards every transition; `worker`, `heartbeat_at` and `attempts` let a job
-- whose worker died be found and handed to another one.
CREATE TABLE ft_jobs (
    id                text PRIMARY KEY,
    org_id            text NOT NULL REFERENCES orgs (id),
    model             text NOT NULL,
    training_file     text NOT NULL,
    validation_file   text,
    -- As requested (values or 'auto') until validation resolves them.
    hyperparameters   jsonb NOT NULL,
    lora              jsonb NOT NULL,
    suffix            text,
    seed              integer NOT NULL,
    status            text NOT NULL CHECK (status IN ('validating_files', 'queued', 'running',
                          'succeeded', 'failed', 'cancelled')),
    error             jsonb,
    fine_tuned_model  text,
    trained_tokens    bigint,
    examples          integer,
    attempts          integer NOT NULL DEFAULT 0,
    worker            text,
    heartbeat_at      timestamptz,
    version           integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    estimated_finish  timestamptz
);
CREATE INDEX ft_jobs_org_created ON ft_jobs (org_id, created_at DESC, id DESC);
-- The workers' work list.
CREATE INDEX ft_jobs_open ON ft_jobs (status, created_at)
    WHERE status IN ('validating_files', 'queued', 'running');

-- Status messages and per-step metrics. `seq` orders them (several land in one millisecond).
CREATE TABLE ft_events (
    seq         bigserial PRIMARY KEY,
    id          text NOT NULL UNIQUE,
    job_id      text NOT NULL REFERENCES ft_jobs (id),
    org_id      text NOT NULL REFERENCES orgs (id),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    level       text NOT NULL CHECK (level IN ('info', 'warn', 'error')),
    type        text NOT NULL CHECK (type IN ('message', 'metrics')),
    message     text NOT NULL,
    data        jsonb
);
CREATE INDEX ft_events_job ON ft_events (job_id, seq DESC);

-- Fine-tuned models: `ft:<base>:<org>:<suffix>:<job>`, visible to `org_id` only. `adapter` is
-- the peft adapter folder relative to the artifact store.
CREATE TABLE ft_models (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES orgs (id),
    base_model  text NOT NULL,
    job_id      text NOT NULL UNIQUE REFERENCES ft_jobs (id),
    adapter     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ft_models_org ON ft_models (org_id, created_at);
