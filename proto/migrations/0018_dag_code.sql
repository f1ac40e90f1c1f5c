-- The DAG file's text per DAG version (Airflow 3's DagCode): what the
-- Code view shows for the version a run used, and what
-- /api/v1/dagSources and /api/v2/dagSources serve, so the webserver needs
-- no access to the DAGs folder. The DAG processor writes the row with the
-- version; when a file's text changes but its parsed DAG does not (a
-- comment edited), it updates the latest version's row instead. A file
-- larger than the store's limit is kept cut at that limit, with truncated
-- set and its full size in source_size. A version stored before this
-- table existed has no row until its file changes.
CREATE TABLE dag_code (
    dag_version_id bigint PRIMARY KEY REFERENCES dag_version (id) ON DELETE CASCADE,
    fileloc        text NOT NULL,
    source_code    text NOT NULL,
    source_hash    text NOT NULL,           -- sha256 of the whole file, hex
    source_size    bigint NOT NULL,         -- bytes of the whole file
    truncated      boolean NOT NULL DEFAULT false,
    last_updated   timestamptz NOT NULL DEFAULT now()
);
