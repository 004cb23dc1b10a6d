-- Audit log: append-only, each row chained to the previous one by SHA-256 so that an edited or
-- deleted row is detected by `volt-admin audit verify`. seq is assigned by the writer under an
-- advisory lock (not a sequence), so a gap always means a deleted row.
CREATE TABLE audit_log (
    seq         bigint PRIMARY KEY,
    time        timestamptz NOT NULL,
    org_id      text,
    principal   text,
    spiffe_id   text,
    method      text NOT NULL,
    route       text NOT NULL,
    status      integer NOT NULL,
    request_id  text NOT NULL,
    service     text NOT NULL,
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL
);
CREATE INDEX audit_log_org_seq ON audit_log (org_id, seq DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Token usage, one row per request (or per batch of requests), written with COPY.
CREATE TABLE usage_events (
    time               timestamptz NOT NULL,
    org_id             text NOT NULL,
    api_key_id         text,
    model              text NOT NULL,
    endpoint           text NOT NULL,
    prompt_tokens      bigint NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens  bigint NOT NULL CHECK (completion_tokens >= 0),
    cached_tokens      bigint NOT NULL CHECK (cached_tokens >= 0),
    requests           integer NOT NULL DEFAULT 1 CHECK (requests >= 0)
);
CREATE INDEX usage_events_org_time ON usage_events (org_id, time);
