-- OAuth2 device flow (RFC 8628), access and refresh tokens, OIDC console sign-in.
-- Every secret (device code, user code, token, session, OIDC state) is stored only as its
-- SHA-256; the values themselves live with the client that holds them.

CREATE TABLE oauth_device_codes (
    id               text PRIMARY KEY,
    device_code_hash bytea NOT NULL UNIQUE,
    user_code_hash   bytea NOT NULL UNIQUE,
    client_id        text NOT NULL,
    scopes           text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'write'] AND cardinality(scopes) > 0),
    -- pending -> approved | denied; approved -> consumed when the tokens are issued.
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    -- Set on approval: the org the tokens act for, what was granted and by whom.
    org_id           text REFERENCES orgs (id),
    granted_scopes   text[],
    decided_by       text REFERENCES users (id),
    decided_at       timestamptz,
    interval_s       integer NOT NULL,
    last_polled_at   timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    CHECK ((status IN ('approved', 'consumed')) = (org_id IS NOT NULL AND granted_scopes IS NOT NULL))
);
CREATE INDEX oauth_device_codes_expires ON oauth_device_codes (expires_at);

CREATE TABLE oauth_tokens (
    id           text PRIMARY KEY,
    org_id       text NOT NULL REFERENCES orgs (id),
    kind         text NOT NULL CHECK (kind IN ('access', 'refresh')),
    token_hash   bytea NOT NULL UNIQUE,
    scopes       text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'write'] AND cardinality(scopes) > 0),
    client_id    text NOT NULL,
    -- The admin who approved the device; the tokens act for the org, audited as this grant.
    user_id      text REFERENCES users (id),
    -- Every token descended from one device approval shares a grant id, so that reuse of a
    -- rotated refresh token (a sign of theft) revokes the whole family at once.
    grant_id     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX oauth_tokens_org_created ON oauth_tokens (org_id, created_at DESC, id DESC);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);

-- Revocation reaches every process's authentication cache like an API key's does.
CREATE FUNCTION oauth_tokens_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('volt_api_keys', OLD.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER oauth_tokens_changed AFTER UPDATE OF revoked_at, expires_at, scopes OR DELETE
    ON oauth_tokens FOR EACH ROW EXECUTE FUNCTION oauth_tokens_notify();

-- A sign-in in progress: created by /auth/oidc/login, consumed (deleted) by the callback, so a
-- state and its nonce are good for one ID token only (a replayed token or callback finds none).
CREATE TABLE oidc_logins (
    state_hash    bytea PRIMARY KEY,
    provider      text NOT NULL,
    nonce         text NOT NULL,
    code_verifier text NOT NULL,
    return_to     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expires ON oidc_logins (expires_at);

CREATE TABLE console_sessions (
    id           text PRIMARY KEY,
    session_hash bytea NOT NULL UNIQUE,
    org_id       text NOT NULL REFERENCES orgs (id),
    user_id      text NOT NULL REFERENCES users (id),
    role         text NOT NULL CHECK (role IN ('admin', 'member')),
    provider     text NOT NULL,
    -- Sent back in every form; a cross-site form cannot know it.
    csrf_token   text NOT NULL,
    -- Failed user-code entries on the verification page, in the current window (RFC 8628 §5.1).
    failed_codes integer NOT NULL DEFAULT 0,
    failed_since timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
