-- House-of-Justice kiosks: each registered with its own public key (kiosk_api.rs).
CREATE TABLE kiosks (
    id TEXT PRIMARY KEY NOT NULL,
    public_key_pem TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Request ids seen within the accepted clock skew: a replayed request is refused.
CREATE TABLE kiosk_requests (
    kiosk_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (kiosk_id, request_id)
);

-- Challenges issued to a kiosk; each is taken once, by that kiosk only.
CREATE TABLE kiosk_challenges (
    nonce TEXT PRIMARY KEY NOT NULL,
    kiosk_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
