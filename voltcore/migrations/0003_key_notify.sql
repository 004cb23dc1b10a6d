-- Every change to a key (revocation, rotation, expiry edits) is announced on the channel
-- 'volt_api_keys' with the key id, so that authentication caches in every process drop it.
CREATE FUNCTION api_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('volt_api_keys', OLD.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_changed AFTER UPDATE OF revoked_at, expires_at, scopes OR DELETE
    ON api_keys FOR EACH ROW EXECUTE FUNCTION api_keys_notify();
-- An org's tier is part of every cached principal.
CREATE FUNCTION orgs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('volt_api_keys', '*');
    RETURN NULL;
END
$$;
CREATE TRIGGER orgs_changed AFTER UPDATE OF tier OR DELETE ON orgs
    FOR EACH ROW EXECUTE FUNCTION orgs_notify();
