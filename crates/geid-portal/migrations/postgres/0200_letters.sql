-- Signed letters to public organisations (issue 8). The same text in both backends except the
-- binary column type (BLOB / BYTEA); every id is an application-made random text id, so there
-- is no auto-increment to differ.

CREATE TABLE organisations (
    id TEXT PRIMARY KEY NOT NULL,
    name_ka TEXT NOT NULL,
    name_en TEXT NOT NULL,
    webhook_url TEXT,
    webhook_secret TEXT,
    created_at BIGINT NOT NULL
);

INSERT INTO organisations (id, name_ka, name_en, created_at) VALUES
    ('moj', 'საქართველოს იუსტიციის სამინისტრო', 'Ministry of Justice of Georgia', 0),
    ('psda', 'სახელმწიფო სერვისების განვითარების სააგენტო', 'Public Service Development Agency', 0),
    ('rs', 'შემოსავლების სამსახური', 'Revenue Service', 0),
    ('tbilisi', 'თბილისის მუნიციპალიტეტის მერია', 'Tbilisi City Hall', 0);

CREATE TABLE staff (
    username TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE letters (
    id TEXT PRIMARY KEY NOT NULL,
    personal_number TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT,
    received_at BIGINT,
    answered_at BIGINT,
    pending_json TEXT,
    last_error TEXT,
    document BYTEA,
    signature BYTEA,
    signer_json TEXT
);

CREATE INDEX letters_person ON letters (personal_number, updated_at);
CREATE INDEX letters_org ON letters (org_id, state, sent_at);

CREATE TABLE letter_files (
    id TEXT PRIMARY KEY NOT NULL,
    letter_id TEXT NOT NULL REFERENCES letters (id),
    role TEXT NOT NULL,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BYTEA NOT NULL
);

CREATE INDEX letter_files_letter ON letter_files (letter_id, role, position);

CREATE TABLE answers (
    letter_id TEXT PRIMARY KEY NOT NULL REFERENCES letters (id),
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);

CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);
