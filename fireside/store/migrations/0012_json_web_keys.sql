-- Each token signing key is also a JsonWebKey resource in the admin project (fireside/auth/keys.py).

-- The key's JsonWebKey resource. Existing keys have none yet: the server publishes them when it
-- next reads the keys (a resource needs the store's versioning and indexing, not plain SQL).
ALTER TABLE signing_key ADD COLUMN resource_id text;
