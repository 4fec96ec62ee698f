CREATE TABLE accounts (
    personal_number TEXT PRIMARY KEY NOT NULL,
    given_name TEXT NOT NULL,
    surname TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    registration_method TEXT NOT NULL,
    username TEXT UNIQUE,
    password_hash TEXT,
    must_change_password BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    method TEXT NOT NULL,
    personal_number TEXT,
    result TEXT NOT NULL,
    client TEXT NOT NULL
);

CREATE INDEX audit_log_person ON audit_log (personal_number, id);
