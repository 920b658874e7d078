-- Writes that change what a token may reach, announced to every API process
-- (fireside/auth/changes.py), which then drops what it cached. NOTIFY is delivered at commit, so a
-- listener never re-reads the state from before the change, and a rolled-back write says nothing.

-- A membership, access policy or client (its allowed scopes) written or deleted: the project id.
CREATE FUNCTION fireside_notify_access_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fireside_access', NEW.project_id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER resource_access_change AFTER INSERT OR UPDATE ON resource FOR EACH ROW
    WHEN (NEW.resource_type IN ('ProjectMembership', 'AccessPolicy', 'ClientApplication'))
    EXECUTE FUNCTION fireside_notify_access_change();

-- A token or Login revoked: "<project id> <revoked id>".
CREATE FUNCTION fireside_notify_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fireside_revocation', NEW.project_id::text || ' ' || NEW.revoked_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER token_revocation_notify AFTER INSERT OR UPDATE ON token_revocation FOR EACH ROW
    EXECUTE FUNCTION fireside_notify_revocation();
