/// The catalog's tables on PostgreSQL: the same tables, columns and constraints as SQLite's
/// `CatalogSchema.migrations` leave, so the catalog's SQL runs unchanged on both.
///
/// Type by type: SQLite's INTEGER is `BIGINT` (SQLite's integers are 64-bit), REAL is
/// `DOUBLE PRECISION`, and every TEXT column is `COLLATE "C"` (byte order, as SQLite compares:
/// name-prefix listings rely on it). SQLite's implicit `rowid` (the cache's tie-break order) is an
/// identity column named `rowid`, and `AUTOINCREMENT` is `GENERATED ALWAYS AS IDENTITY`.
///
/// A new PostgreSQL catalog starts at the version SQLite's migrations reach in one baseline step;
/// a later migration is appended to both lists with the same version number.
extension CatalogSchema {
    static let postgresMigrations: [PostgresMigration] = [
        PostgresMigration(from: 0, to: 4, sql: postgresBaseline4),
        PostgresMigration(from: 4, to: 5, sql: """
            ALTER TABLE jobs ADD COLUMN owner TEXT COLLATE "C", ADD COLUMN lease_until DOUBLE PRECISION;
            ALTER TABLE job_items ADD COLUMN owner TEXT COLLATE "C", ADD COLUMN lease_until DOUBLE PRECISION;
            CREATE INDEX job_items_pending ON job_items (job_id, status, position);
            """),
        PostgresMigration(from: 5, to: 6, sql: """
            CREATE TABLE ui_sessions (
                id_hash    TEXT COLLATE "C" PRIMARY KEY CHECK (length(id_hash) = 64),
                token_id   TEXT COLLATE "C" NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX ui_sessions_by_token ON ui_sessions (token_id);
            CREATE INDEX ui_sessions_by_expiry ON ui_sessions (expires_at);
            CREATE INDEX jobs_by_created ON jobs (created_at DESC, id);
            CREATE INDEX adapters_by_base_model_created ON adapters (base_model, created_at DESC, digest);
            """),
    ]

    /// Version 4, whole: what SQLite's versions 1 to 4 make, in PostgreSQL's types.
    static let postgresBaseline4 = """
        CREATE TABLE blobs (
            digest     TEXT COLLATE "C" PRIMARY KEY CHECK (length(digest) = 64),
            size       BIGINT NOT NULL CHECK (size >= 0),
            created_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE adapters (
            digest         TEXT COLLATE "C" PRIMARY KEY CHECK (length(digest) = 64),
            format         TEXT COLLATE "C" NOT NULL CHECK (format IN ('peft', 'kohya')),
            config_digest  TEXT COLLATE "C" REFERENCES blobs(digest),
            weights_digest TEXT COLLATE "C" NOT NULL REFERENCES blobs(digest),
            base_model     TEXT COLLATE "C",
            module_count   BIGINT NOT NULL CHECK (module_count >= 0),
            total_bytes    BIGINT NOT NULL CHECK (total_bytes >= 0),
            description    TEXT COLLATE "C" NOT NULL,
            created_at     DOUBLE PRECISION NOT NULL,
            CHECK (format = 'kohya' OR config_digest IS NOT NULL)
        );
        CREATE INDEX adapters_by_created ON adapters (created_at DESC, digest);
        CREATE INDEX adapters_by_base_model ON adapters (base_model);
        CREATE INDEX adapters_by_config ON adapters (config_digest);
        CREATE INDEX adapters_by_weights ON adapters (weights_digest);
        CREATE TABLE names (
            name           TEXT COLLATE "C" PRIMARY KEY,
            adapter_digest TEXT COLLATE "C" NOT NULL REFERENCES adapters(digest) ON DELETE CASCADE,
            updated_at     DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX names_by_adapter ON names (adapter_digest);
        CREATE TABLE bases (
            digest       TEXT COLLATE "C" PRIMARY KEY CHECK (length(digest) = 64),
            total_bytes  BIGINT NOT NULL CHECK (total_bytes >= 0),
            tensor_count BIGINT NOT NULL CHECK (tensor_count >= 0),
            description  TEXT COLLATE "C" NOT NULL,
            created_at   DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX bases_by_created ON bases (created_at DESC, digest);
        CREATE TABLE base_files (
            base_digest TEXT COLLATE "C" NOT NULL REFERENCES bases(digest) ON DELETE CASCADE,
            path        TEXT COLLATE "C" NOT NULL,
            blob_digest TEXT COLLATE "C" NOT NULL REFERENCES blobs(digest),
            PRIMARY KEY (base_digest, path)
        );
        CREATE INDEX base_files_by_blob ON base_files (blob_digest);
        CREATE TABLE base_names (
            name        TEXT COLLATE "C" PRIMARY KEY,
            base_digest TEXT COLLATE "C" NOT NULL REFERENCES bases(digest) ON DELETE CASCADE,
            updated_at  DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX base_names_by_base ON base_names (base_digest);
        CREATE TABLE squeeze_cache (
            rowid          BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            adapter_digest TEXT COLLATE "C" NOT NULL REFERENCES adapters(digest) ON DELETE CASCADE,
            rank           BIGINT NOT NULL CHECK (rank >= 1),
            options        TEXT COLLATE "C" NOT NULL,
            config_digest  TEXT COLLATE "C" REFERENCES blobs(digest),
            weights_digest TEXT COLLATE "C" NOT NULL REFERENCES blobs(digest),
            bytes          BIGINT NOT NULL CHECK (bytes >= 0),
            created_at     DOUBLE PRECISION NOT NULL,
            last_used_at   DOUBLE PRECISION NOT NULL,
            pinned         BIGINT NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
            hit_count      BIGINT NOT NULL DEFAULT 0,
            base_digest    TEXT COLLATE "C" REFERENCES bases(digest),
            PRIMARY KEY (adapter_digest, rank, options)
        );
        CREATE INDEX squeeze_cache_by_use ON squeeze_cache (pinned, last_used_at);
        CREATE INDEX squeeze_cache_by_config ON squeeze_cache (config_digest);
        CREATE INDEX squeeze_cache_by_weights ON squeeze_cache (weights_digest);
        CREATE INDEX squeeze_cache_by_base ON squeeze_cache (base_digest);
        CREATE TABLE jobs (
            id             TEXT COLLATE "C" PRIMARY KEY CHECK (length(id) = 32),
            kind           TEXT COLLATE "C" NOT NULL,
            state          TEXT COLLATE "C" NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
            request        TEXT COLLATE "C" NOT NULL,
            progress_done  BIGINT NOT NULL DEFAULT 0,
            progress_total BIGINT NOT NULL DEFAULT 0,
            result         TEXT COLLATE "C",
            error          TEXT COLLATE "C",
            created_at     DOUBLE PRECISION NOT NULL,
            updated_at     DOUBLE PRECISION NOT NULL,
            namespace      TEXT COLLATE "C"
        );
        CREATE INDEX jobs_by_state ON jobs (state, created_at);
        CREATE INDEX jobs_by_finish ON jobs (state, updated_at);
        CREATE TABLE job_items (
            job_id   TEXT COLLATE "C" NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            position BIGINT NOT NULL CHECK (position >= 0),
            subject  TEXT COLLATE "C" NOT NULL,
            status   TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
            error    TEXT COLLATE "C",
            result   TEXT COLLATE "C",
            PRIMARY KEY (job_id, position)
        );
        CREATE TABLE damaged_blobs (
            digest   TEXT COLLATE "C" PRIMARY KEY CHECK (length(digest) = 64),
            actual   TEXT COLLATE "C" CHECK (actual IS NULL OR length(actual) = 64),
            found_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE tokens (
            id           TEXT COLLATE "C" PRIMARY KEY CHECK (length(id) = 16),
            secret_hash  TEXT COLLATE "C" NOT NULL UNIQUE CHECK (length(secret_hash) = 64),
            name         TEXT COLLATE "C" NOT NULL,
            scope        TEXT COLLATE "C" NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
            namespace    TEXT COLLATE "C",
            created_at   DOUBLE PRECISION NOT NULL,
            expires_at   DOUBLE PRECISION,
            last_used_at DOUBLE PRECISION,
            revoked_at   DOUBLE PRECISION
        );
        CREATE TABLE audit_log (
            sequence   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at         DOUBLE PRECISION NOT NULL,
            token_id   TEXT COLLATE "C",
            token_name TEXT COLLATE "C",
            namespace  TEXT COLLATE "C",
            action     TEXT COLLATE "C" NOT NULL,
            target     TEXT COLLATE "C" NOT NULL,
            status     BIGINT NOT NULL,
            request_id TEXT COLLATE "C" NOT NULL
        );
        CREATE INDEX audit_log_by_namespace ON audit_log (namespace, sequence);
        """
}

extension PostgresDatabase {
    /// Brings a PostgreSQL catalog up to the version SQLite's migrations reach.
    @discardableResult
    public func migrateCatalog() throws -> (from: Int, to: Int) {
        try migrate(CatalogSchema.postgresMigrations, target: CatalogSchema.migrations.count)
    }
}
