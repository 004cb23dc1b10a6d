-- Idempotency keys for POSTs that create resources (Stripe's semantics): the first request's
-- response is kept and replayed for a retry with the same key and the same body.
CREATE TABLE idempotency_keys (
    org_id        text NOT NULL REFERENCES orgs (id),
    key           text NOT NULL,
    route         text NOT NULL,
    request_hash  bytea NOT NULL,
    status        integer,          -- NULL while the first request is still running
    response      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, key)
);

-- Forge GPU leases. `status` is the phase the reconciler last reached; `version` guards every
-- transition (optimistic concurrency); `placement` is node name -> GPUs.
CREATE TABLE forge_leases (
    id              text PRIMARY KEY,
    org_id          text NOT NULL REFERENCES orgs (id),
    gpu_type        text NOT NULL,
    gpu_count       integer NOT NULL CHECK (gpu_count > 0),
    metro           text NOT NULL,
    duration_s      integer NOT NULL CHECK (duration_s > 0),
    status          text NOT NULL CHECK (status IN ('pending', 'provisioning', 'active',
                        'terminating', 'terminated', 'failed', 'expired')),
    end_reason      text CHECK (end_reason IN ('terminated', 'expired', 'failed')),
    placement       jsonb NOT NULL,
    namespace       text NOT NULL UNIQUE,
    last_error      jsonb,
    conditions      jsonb NOT NULL DEFAULT '[]',
    version         integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    active_at       timestamptz,
    price_per_gpu_hour double precision NOT NULL,
    -- Set when the lease becomes active: the duration counts from then.
    expires_at      timestamptz,
    ended_at        timestamptz
);
CREATE INDEX forge_leases_org_created ON forge_leases (org_id, created_at DESC, id DESC);
-- The reconciler's work list and the placement's view of held GPUs.
CREATE INDEX forge_leases_open ON forge_leases (status)
    WHERE status NOT IN ('terminated', 'failed', 'expired');
