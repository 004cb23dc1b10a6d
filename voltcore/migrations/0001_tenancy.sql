-- Orgs, users and API keys. Every tenant-owned row carries org_id.
CREATE TABLE orgs (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    tier        text NOT NULL CHECK (tier IN ('free', 'standard', 'enterprise')),
    home_metro  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES orgs (id),
    email       text NOT NULL,
    name        text,
    role        text NOT NULL CHECK (role IN ('admin', 'member')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, email)
);

CREATE TABLE api_keys (
    id              text PRIMARY KEY,
    org_id          text NOT NULL REFERENCES orgs (id),
    name            text NOT NULL,
    -- SHA-256 of the secret; the secret itself is never stored.
    secret_hash     bytea NOT NULL UNIQUE,
    redacted_value  text NOT NULL,
    scopes          text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'write'] AND cardinality(scopes) > 0),
    created_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    revoked_at      timestamptz,
    last_used_at    timestamptz,
    replaced_by     text REFERENCES api_keys (id)
);
CREATE INDEX api_keys_org_created ON api_keys (org_id, created_at DESC, id DESC);
