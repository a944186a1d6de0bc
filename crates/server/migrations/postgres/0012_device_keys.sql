-- The key the server keeps for each account on each enrolled tablet (issue 6, protected tablets).
-- On the tablet, each account's data key is stored only wrapped: by a key derived from the PIN
-- (offline unlock) and by this key (unlocking after an online sign-in when the PIN is forgotten
-- or locked out, and opening a locked account's unsynced work to push it while another account
-- is signed in). Handed out only to a live session on that same device
-- (`POST /api/v1/device-keys`), never stored on the tablet, and deleted when the device is
-- revoked, so a lost tablet's wrapped keys open nothing once it is cut off.

CREATE TABLE device_keys (
    device_id  TEXT COLLATE "C" NOT NULL REFERENCES devices (id),
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    key_bytes  BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, user_id)
);
