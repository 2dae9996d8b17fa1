-- Vault KV v2: per-version deletion state (deleted_at may lie in the future:
-- a version written under delete_version_after reads as deleted from then
-- on; destroyed versions keep their row with the ciphertext erased), each
-- secret's KV settings and custom metadata (a secret may have metadata and
-- no version yet: version 0), and each namespace's KV defaults. Zero means
-- "not set" for every setting.
ALTER TABLE secret_versions ADD COLUMN deleted_at BIGINT;
ALTER TABLE secret_versions ADD COLUMN destroyed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE secrets ADD COLUMN custom_metadata TEXT;
ALTER TABLE secrets ADD COLUMN max_versions BIGINT NOT NULL DEFAULT 0;
ALTER TABLE secrets ADD COLUMN cas_required BIGINT NOT NULL DEFAULT 0;
ALTER TABLE secrets ADD COLUMN delete_version_after BIGINT NOT NULL DEFAULT 0;
ALTER TABLE namespaces ADD COLUMN kv_max_versions BIGINT NOT NULL DEFAULT 0;
ALTER TABLE namespaces ADD COLUMN kv_cas_required BIGINT NOT NULL DEFAULT 0;
ALTER TABLE namespaces ADD COLUMN kv_delete_version_after BIGINT NOT NULL DEFAULT 0;
