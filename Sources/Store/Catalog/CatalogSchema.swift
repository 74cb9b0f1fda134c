/// The catalog's tables, as migrations by `PRAGMA user_version` (see `SQLiteDatabase.migrate`).
/// Append new migrations; never edit one that has shipped.
enum CatalogSchema {
    static let migrations: [String] = [version1, version2, version3, version4, version5, version6]

    /// Version 1: blobs, adapters, names, the squeeze cache, jobs.
    ///
    /// `blobs` lists every blob a row refers to, so a foreign key guarantees that no adapter or cache
    /// row names a blob the catalog does not know, and statistics need no walk of the file tree.
    static let version1 = """
        CREATE TABLE blobs (
            digest     TEXT PRIMARY KEY CHECK (length(digest) = 64),
            size       INTEGER NOT NULL CHECK (size >= 0),
            created_at REAL NOT NULL
        );
        CREATE TABLE adapters (
            digest         TEXT PRIMARY KEY CHECK (length(digest) = 64),
            format         TEXT NOT NULL CHECK (format IN ('peft', 'kohya')),
            config_digest  TEXT REFERENCES blobs(digest),
            weights_digest TEXT NOT NULL REFERENCES blobs(digest),
            base_model     TEXT,
            module_count   INTEGER NOT NULL CHECK (module_count >= 0),
            total_bytes    INTEGER NOT NULL CHECK (total_bytes >= 0),
            description    TEXT NOT NULL,
            created_at     REAL NOT NULL,
            CHECK (format = 'kohya' OR config_digest IS NOT NULL)
        );
        CREATE INDEX adapters_by_created ON adapters (created_at DESC, digest);
        CREATE INDEX adapters_by_base_model ON adapters (base_model);
        CREATE INDEX adapters_by_config ON adapters (config_digest);
        CREATE INDEX adapters_by_weights ON adapters (weights_digest);
        CREATE TABLE names (
            name           TEXT PRIMARY KEY,
            adapter_digest TEXT NOT NULL REFERENCES adapters(digest) ON DELETE CASCADE,
            updated_at     REAL NOT NULL
        );
        CREATE INDEX names_by_adapter ON names (adapter_digest);
        CREATE TABLE squeeze_cache (
            adapter_digest TEXT NOT NULL REFERENCES adapters(digest) ON DELETE CASCADE,
            rank           INTEGER NOT NULL CHECK (rank >= 1),
            options        TEXT NOT NULL,
            config_digest  TEXT REFERENCES blobs(digest),
            weights_digest TEXT NOT NULL REFERENCES blobs(digest),
            bytes          INTEGER NOT NULL CHECK (bytes >= 0),
            created_at     REAL NOT NULL,
            last_used_at   REAL NOT NULL,
            pinned         INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
            hit_count      INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (adapter_digest, rank, options)
        );
        CREATE INDEX squeeze_cache_by_use ON squeeze_cache (pinned, last_used_at);
        CREATE INDEX squeeze_cache_by_config ON squeeze_cache (config_digest);
        CREATE INDEX squeeze_cache_by_weights ON squeeze_cache (weights_digest);
        CREATE TABLE jobs (
            id             TEXT PRIMARY KEY CHECK (length(id) = 32),
            kind           TEXT NOT NULL,
            state          TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
            request        TEXT NOT NULL,
            progress_done  INTEGER NOT NULL DEFAULT 0,
            progress_total INTEGER NOT NULL DEFAULT 0,
            result         TEXT,
            error          TEXT,
            created_at     REAL NOT NULL,
            updated_at     REAL NOT NULL
        );
        CREATE INDEX jobs_by_state ON jobs (state, created_at);
        """

    /// Version 2: a job's work items as rows (`job_items`: a row per adapter, updated in place, so
    /// progress costs the same at the 10,000th adapter as at the first), finished jobs found by age,
    /// and damaged blobs (`damaged_blobs`: found by a read or a scrub, moved to `quarantine/`; an
    /// adapter using one answers `blob-damaged` until the same content is uploaded again).
    ///
    /// Jobs stored by version 1 kept their per-adapter outcomes as a JSON array in `jobs.result`;
    /// they become rows here (`status`, `error`, and the rest of each object as `result`).
    static let version2 = """
        CREATE TABLE job_items (
            job_id   TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            position INTEGER NOT NULL CHECK (position >= 0),
            subject  TEXT NOT NULL,
            status   TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
            error    TEXT,
            result   TEXT,
            PRIMARY KEY (job_id, position)
        ) WITHOUT ROWID;
        INSERT INTO job_items (job_id, position, subject, status, error, result)
            SELECT jobs.id, CAST(item.key AS INTEGER), json_extract(item.value, '$.digest'),
                   coalesce(json_extract(item.value, '$.status'), 'pending'), json_extract(item.value, '$.error'),
                   CASE WHEN json_extract(item.value, '$.urls') IS NULL THEN NULL
                        ELSE json_object('urls', json(json_extract(item.value, '$.urls'))) END
            FROM jobs, json_each(jobs.result) AS item
            WHERE jobs.kind = 'normalize' AND json_valid(jobs.result) AND json_type(jobs.result) = 'array'
              AND json_extract(item.value, '$.digest') IS NOT NULL
              AND coalesce(json_extract(item.value, '$.status'), 'pending') IN ('pending', 'done', 'failed');
        UPDATE jobs SET result = NULL WHERE kind = 'normalize' AND json_valid(result) AND json_type(result) = 'array';
        CREATE INDEX jobs_by_finish ON jobs (state, updated_at);
        CREATE TABLE damaged_blobs (
            digest   TEXT PRIMARY KEY CHECK (length(digest) = 64),
            actual   TEXT CHECK (actual IS NULL OR length(actual) = 64),
            found_at REAL NOT NULL
        );
        """

    /// Version 3: access control. `tokens` keeps each token's SHA-256 (`secret_hash`, the lookup key;
    /// the secret itself is never stored), scope, optional namespace and times; `audit_log` records
    /// every write and admin action; a job remembers the namespace of the token that created it, so
    /// a team sees only its own jobs.
    static let version3 = """
        CREATE TABLE tokens (
            id           TEXT PRIMARY KEY CHECK (length(id) = 16),
            secret_hash  TEXT NOT NULL UNIQUE CHECK (length(secret_hash) = 64),
            name         TEXT NOT NULL,
            scope        TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
            namespace    TEXT,
            created_at   REAL NOT NULL,
            expires_at   REAL,
            last_used_at REAL,
            revoked_at   REAL
        );
        CREATE TABLE audit_log (
            sequence   INTEGER PRIMARY KEY AUTOINCREMENT,
            at         REAL NOT NULL,
            token_id   TEXT,
            token_name TEXT,
            namespace  TEXT,
            action     TEXT NOT NULL,
            target     TEXT NOT NULL,
            status     INTEGER NOT NULL,
            request_id TEXT NOT NULL
        );
        CREATE INDEX audit_log_by_namespace ON audit_log (namespace, sequence);
        ALTER TABLE jobs ADD COLUMN namespace TEXT;
        """

    /// Version 4: base models. `bases` is one model directory (its identity the digest of its file
    /// manifest), `base_files` its files as blobs, `base_names` names as for adapters; a cache entry
    /// computed from a base (a merged shard) records it in `squeeze_cache.base_digest`, so a base is
    /// not deleted from under its merges unless they go with it.
    static let version4 = """
        CREATE TABLE bases (
            digest       TEXT PRIMARY KEY CHECK (length(digest) = 64),
            total_bytes  INTEGER NOT NULL CHECK (total_bytes >= 0),
            tensor_count INTEGER NOT NULL CHECK (tensor_count >= 0),
            description  TEXT NOT NULL,
            created_at   REAL NOT NULL
        );
        CREATE INDEX bases_by_created ON bases (created_at DESC, digest);
        CREATE TABLE base_files (
            base_digest TEXT NOT NULL REFERENCES bases(digest) ON DELETE CASCADE,
            path        TEXT NOT NULL,
            blob_digest TEXT NOT NULL REFERENCES blobs(digest),
            PRIMARY KEY (base_digest, path)
        ) WITHOUT ROWID;
        CREATE INDEX base_files_by_blob ON base_files (blob_digest);
        CREATE TABLE base_names (
            name        TEXT PRIMARY KEY,
            base_digest TEXT NOT NULL REFERENCES bases(digest) ON DELETE CASCADE,
            updated_at  REAL NOT NULL
        );
        CREATE INDEX base_names_by_base ON base_names (base_digest);
        ALTER TABLE squeeze_cache ADD COLUMN base_digest TEXT REFERENCES bases(digest);
        CREATE INDEX squeeze_cache_by_base ON squeeze_cache (base_digest);
        """
}

extension CatalogSchema {
    /// Version 5: leases, for replicas sharing a catalog. A job run whole by one replica (an
    /// extraction) is held by `jobs.owner` (its `--replica-id`) until `jobs.lease_until`; a normalize
    /// job's adapters are claimed one at a time (`job_items.owner`, `job_items.lease_until`), so every
    /// replica works on the job at once. A lease its replica stops renewing (it died, or lost the
    /// database) runs out, and another replica takes the work over.
    static let version5 = """
        ALTER TABLE jobs ADD COLUMN owner TEXT;
        ALTER TABLE jobs ADD COLUMN lease_until REAL;
        ALTER TABLE job_items ADD COLUMN owner TEXT;
        ALTER TABLE job_items ADD COLUMN lease_until REAL;
        CREATE INDEX job_items_pending ON job_items (job_id, status, position);
        """
}

extension CatalogSchema {
    /// Version 6: the dashboard. `ui_sessions` keeps a signed-in browser's session as the SHA-256 of
    /// its cookie (the secret itself is never stored, as for tokens) and the token that signed it in:
    /// a session acts with that token's scope and namespace, and ends with it (revoked, expired or
    /// deleted). Jobs are listed newest first by `jobs_by_created`, and one base model's adapters by
    /// `adapters_by_base_model_created` (without it a filtered page read and sorted every match).
    static let version6 = """
        CREATE TABLE ui_sessions (
            id_hash    TEXT PRIMARY KEY CHECK (length(id_hash) = 64),
            token_id   TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX ui_sessions_by_token ON ui_sessions (token_id);
        CREATE INDEX ui_sessions_by_expiry ON ui_sessions (expires_at);
        CREATE INDEX jobs_by_created ON jobs (created_at DESC, id);
        CREATE INDEX adapters_by_base_model_created ON adapters (base_model, created_at DESC, digest);
        """
}

extension SQLiteDatabase {
    /// Brings a SQLite catalog up to `CatalogSchema.version`.
    @discardableResult
    public func migrateCatalog() throws -> (from: Int, to: Int) { try migrate(CatalogSchema.migrations) }
}
