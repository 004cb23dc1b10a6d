-- Rate limits per org and per API key: requests and tokens per minute, shared by every Spark
-- replica (scheduler/ratelimit.py holds the policy; inference/ratelimit.py calls rate_admit).

-- Limits. NULL everywhere means "the default": an org's ceiling is its tier's limit unless an
-- operator granted more (`volt-admin limits`); the org may cap itself below its ceiling
-- (PATCH /v1/orgs/{org_id}/limits); a key may be capped below its org (set at creation).
ALTER TABLE orgs
    ADD COLUMN rpm_ceiling integer CHECK (rpm_ceiling >= 0),
    ADD COLUMN tpm_ceiling bigint CHECK (tpm_ceiling >= 0),
    ADD COLUMN rpm_limit integer CHECK (rpm_limit >= 0),
    ADD COLUMN tpm_limit bigint CHECK (tpm_limit >= 0);
ALTER TABLE api_keys
    ADD COLUMN rpm_limit integer CHECK (rpm_limit >= 0),
    ADD COLUMN tpm_limit bigint CHECK (tpm_limit >= 0);

-- Cached principals carry their limits: a change must reach every process's key cache as a
-- revocation does (the same channel; '*' for an org, whose keys are not listed here).
CREATE OR REPLACE FUNCTION api_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('volt_api_keys', OLD.id);
    RETURN NULL;
END
$$;
DROP TRIGGER api_keys_changed ON api_keys;
CREATE TRIGGER api_keys_changed AFTER UPDATE OF revoked_at, expires_at, scopes, rpm_limit, tpm_limit
    OR DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION api_keys_notify();
DROP TRIGGER orgs_changed ON orgs;
CREATE TRIGGER orgs_changed AFTER UPDATE OF tier, rpm_ceiling, tpm_ceiling, rpm_limit, tpm_limit
    OR DELETE ON orgs FOR EACH ROW EXECUTE FUNCTION orgs_notify();

-- The sliding window: one row per admitted request, holding its reservation (prompt tokens +
-- max_tokens) until `rate_settle` corrects it to the tokens it used. A scope's usage is the sum
-- over its rows of the last minute, so the limit holds in every 60-second window, not only in
-- aligned ones. UNLOGGED: it is a minute of counters, not a record (usage_events is); losing it
-- in a database crash forgets at most one window, and skipping the WAL halves the write cost.
CREATE UNLOGGED TABLE rate_reservations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      text NOT NULL,
    api_key_id  text,
    at          timestamptz NOT NULL,
    reserved    bigint NOT NULL CHECK (reserved >= 0),
    tokens      bigint NOT NULL CHECK (tokens >= 0),
    settled_at  timestamptz,
    -- The request holding it (its x-request-id), for operators and the benchmark's audit.
    request_id  text
);
CREATE INDEX rate_reservations_org ON rate_reservations (org_id, at) INCLUDE (tokens);
CREATE INDEX rate_reservations_key ON rate_reservations (api_key_id, at) INCLUDE (tokens)
    WHERE api_key_id IS NOT NULL;
CREATE INDEX rate_reservations_at ON rate_reservations (at);

-- What one scope (an org, or a key) has used in the window ending at p_now, and when it could
-- take p_requests more requests and p_tokens more tokens: the wait is until enough of the oldest
-- rows leave the window (0 when it fits now, NULL when it never can).
CREATE FUNCTION rate_scope_usage(
    p_org text, p_key text, p_rpm integer, p_tpm bigint, p_tokens bigint, p_window interval,
    p_now timestamptz,
    OUT used_requests integer, OUT used_tokens bigint, OUT newest timestamptz,
    OUT requests_wait_s double precision, OUT tokens_wait_s double precision
) LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT count(*)::integer, coalesce(sum(r.tokens), 0)::bigint, max(r.at)
      INTO used_requests, used_tokens, newest
      FROM rate_reservations r
     WHERE r.at > p_now - p_window
       AND (CASE WHEN p_key IS NULL THEN r.org_id = p_org ELSE r.api_key_id = p_key END);
    requests_wait_s := CASE
        WHEN p_rpm < 1 THEN NULL
        WHEN used_requests + 1 <= p_rpm THEN 0
        ELSE (SELECT extract(epoch FROM x.at + p_window - p_now)
                FROM (SELECT r.at FROM rate_reservations r
                       WHERE r.at > p_now - p_window
                         AND (CASE WHEN p_key IS NULL THEN r.org_id = p_org
                                   ELSE r.api_key_id = p_key END)
                       ORDER BY r.at OFFSET used_requests - p_rpm LIMIT 1) x)
    END;
    tokens_wait_s := CASE
        WHEN p_tokens > p_tpm THEN NULL
        WHEN used_tokens + p_tokens <= p_tpm THEN 0
        ELSE (SELECT extract(epoch FROM x.at + p_window - p_now)
                FROM (SELECT r.at, sum(r.tokens) OVER (ORDER BY r.at, r.id) AS freed
                        FROM rate_reservations r
                       WHERE r.at > p_now - p_window
                         AND (CASE WHEN p_key IS NULL THEN r.org_id = p_org
                                   ELSE r.api_key_id = p_key END)) x
               WHERE x.freed >= used_tokens + p_tokens - p_tpm
               ORDER BY x.at LIMIT 1)
    END;
END
$$;

-- Check and reserve, atomically across replicas: under a per-org lock (every key of an org
-- takes its org's lock, so an org's admissions are serialized and its window is exact), admit
-- one request of p_tokens if the org's and, when it has limits of its own, the key's window
-- have room for it. One row per scope comes back (the org's first), with the usage after
-- admission, or before it with the waits when refused; `reservation` is the row to settle.
CREATE FUNCTION rate_admit(
    p_org text, p_key text, p_org_rpm integer, p_org_tpm bigint,
    p_key_rpm integer, p_key_tpm bigint, p_tokens bigint,
    p_request text DEFAULT NULL, p_window interval DEFAULT interval '60 seconds',
    p_now timestamptz DEFAULT NULL
) RETURNS TABLE (
    admitted boolean, reservation bigint, scope text,
    requests_limit integer, requests_used integer, tokens_limit bigint, tokens_used bigint,
    newest timestamptz, requests_wait_s double precision, tokens_wait_s double precision,
    now timestamptz
) LANGUAGE plpgsql AS $$
DECLARE
    t timestamptz;
    o record;
    k record;
    keyed boolean := p_key IS NOT NULL AND p_key_rpm IS NOT NULL;
    ok boolean;
    id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('volt.rate:' || p_org, 0));
    -- Read after the lock: a replica that waited must see what the holder reserved.
    t := coalesce(p_now, clock_timestamp());
    o := rate_scope_usage(p_org, NULL, p_org_rpm, p_org_tpm, p_tokens, p_window, t);
    ok := o.requests_wait_s = 0 AND o.tokens_wait_s = 0;
    IF keyed THEN
        k := rate_scope_usage(p_org, p_key, p_key_rpm, p_key_tpm, p_tokens, p_window, t);
        ok := ok AND k.requests_wait_s = 0 AND k.tokens_wait_s = 0;
    END IF;
    ok := coalesce(ok, false);
    -- This org's rows past two windows (kept that long for the benchmark's audit of headers).
    DELETE FROM rate_reservations WHERE org_id = p_org AND at < t - 2 * p_window;
    IF ok THEN
        INSERT INTO rate_reservations (org_id, api_key_id, at, reserved, tokens, request_id)
             VALUES (p_org, p_key, t, p_tokens, p_tokens, p_request)
          RETURNING rate_reservations.id INTO id;
        o.used_requests := o.used_requests + 1;
        o.used_tokens := o.used_tokens + p_tokens;
        o.newest := t;
        IF keyed THEN
            k.used_requests := k.used_requests + 1;
            k.used_tokens := k.used_tokens + p_tokens;
            k.newest := t;
        END IF;
    END IF;
    RETURN QUERY SELECT ok, id, 'org'::text, p_org_rpm, o.used_requests, p_org_tpm,
        o.used_tokens, o.newest, o.requests_wait_s, o.tokens_wait_s, t;
    IF keyed THEN
        RETURN QUERY SELECT ok, id, 'key'::text, p_key_rpm, k.used_requests, p_key_tpm,
            k.used_tokens, k.newest, k.requests_wait_s, k.tokens_wait_s, t;
    END IF;
END
$$;

-- Correct a reservation to the tokens the request used (never up: a request cannot use more
-- than it reserved).
CREATE FUNCTION rate_settle(p_id bigint, p_tokens bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE rate_reservations SET tokens = least(reserved, greatest(p_tokens, 0)),
                                 settled_at = clock_timestamp()
     WHERE id = p_id;
$$;
