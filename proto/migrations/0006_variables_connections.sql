-- Variables and Connections, with Airflow's table and column names.
--
-- Secret-bearing columns hold ciphertext ("v1:<key id>:<base64>", see
-- common/secrets.h) when the matching is_*encrypted flag is true. The key
-- itself is configuration (core.fernet_key) and is never stored here.
-- A connection password or extra can only be stored encrypted: the CHECK
-- constraints make a plaintext password a database error, whatever wrote it.

CREATE TABLE variable (
    id           bigserial PRIMARY KEY,
    key          text NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 250),
    val          text,
    description  text,
    is_encrypted boolean NOT NULL DEFAULT false
);

CREATE TABLE connection (
    id                 bigserial PRIMARY KEY,
    conn_id            text NOT NULL UNIQUE CHECK (length(conn_id) BETWEEN 1 AND 250),
    conn_type          text NOT NULL,
    description        text,
    host               text,
    schema             text,
    login              text,
    password           text,
    port               integer CHECK (port BETWEEN 0 AND 65535),
    extra              text,
    is_encrypted       boolean NOT NULL DEFAULT false,
    is_extra_encrypted boolean NOT NULL DEFAULT false,
    CONSTRAINT connection_password_encrypted CHECK (password IS NULL OR is_encrypted),
    CONSTRAINT connection_extra_encrypted CHECK (extra IS NULL OR is_extra_encrypted)
);
