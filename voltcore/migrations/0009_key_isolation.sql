-- Creating a key or an access token is announced on 'volt_api_keys' too, as '+' and the hex of
-- its hash, so that every process forgets having seen that hash unknown (the negative cache in
-- voltcore.keycache): a remembered "unknown" never outlives the key's creation.
CREATE FUNCTION api_keys_created_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('volt_api_keys', '+' || encode(NEW.secret_hash, 'hex'));
    RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_created AFTER INSERT ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_keys_created_notify();
-- Only access tokens authenticate (refresh tokens are good at /oauth/token alone).
CREATE FUNCTION oauth_tokens_created_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('volt_api_keys', '+' || encode(NEW.token_hash, 'hex'));
    RETURN NULL;
END
$$;
CREATE TRIGGER oauth_tokens_created AFTER INSERT ON oauth_tokens
    FOR EACH ROW WHEN (NEW.kind = 'access') EXECUTE FUNCTION oauth_tokens_created_notify();

-- A key minted by a device-flow access token of a non-admin belongs to that grant: it expires
-- no later than the grant did when it was made, and revoking the grant revokes it.
ALTER TABLE api_keys ADD COLUMN grant_id text;
CREATE INDEX api_keys_grant ON api_keys (grant_id) WHERE grant_id IS NOT NULL;

-- Wrong user codes entered, from any session, while this code was pending: past the limit the
-- code cannot be approved (RFC 8628 §5.1), however many sessions the guesses came from.
ALTER TABLE oauth_device_codes ADD COLUMN failed_attempts integer NOT NULL DEFAULT 0;
