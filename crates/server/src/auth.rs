//! Authentication: Argon2id password hashing ([`Passwords`]), random tokens stored only as their
//! SHA-256 ([`new_token`], [`token_hash`]), new ids, and the [`Auth`] extractor that turns an
//! `Authorization: Bearer …` header into the signed-in user.
//!
//! Authority travels only in that header, never in a cookie, so a cross-site request cannot carry
//! it (no CSRF). Every failure of the extractor is the same 401: a missing, unknown, expired or
//! revoked token, a revoked device and a disabled user are not told apart to the caller.

use crate::error::AppError;
use crate::state::AppState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use liaison_domain::{DeputyId, Role, Scope, StationId, UnitId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Argon2id with the given cost, and a dummy hash of the same cost that sign-ins for unknown
/// usernames are checked against, so that they take as long as a wrong password.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    /// Made on first use, so that building [`Settings`](crate::Settings) costs no hashing.
    dummy_hash: Arc<OnceLock<String>>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Default for Passwords {
    /// The argon2 crate's defaults for Argon2id (19 MiB, 2 passes, 1 lane: OWASP's minimum).
    fn default() -> Self {
        Passwords::new(Params::default())
    }
}

impl Passwords {
    pub fn new(params: Params) -> Self {
        Passwords {
            params,
            dummy_hash: Arc::default(),
        }
    }

    /// Cheap parameters for tests only: hashes made with them are as weak as they are fast.
    pub fn insecure_for_tests() -> Self {
        Passwords::new(Params::new(8, 1, 1, None).expect("valid argon2 params"))
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// The PHC string (`$argon2id$v=19$m=...`) of `password` with a fresh random salt.
    pub fn hash(&self, password: &str) -> anyhow::Result<String> {
        let salt = SaltString::encode_b64(&random_bytes::<16>()?)
            .map_err(|err| anyhow::anyhow!("cannot encode salt: {err}"))?;
        let hash = self
            .argon2()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|err| anyhow::anyhow!("cannot hash password: {err}"))?;
        Ok(hash.to_string())
    }

    /// Does `password` match `stored` (a PHC string)? The cost is read from `stored`. A malformed
    /// hash never matches.
    pub fn verify(&self, stored: &str, password: &str) -> bool {
        match PasswordHash::new(stored) {
            Ok(parsed) => self
                .argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(err) => {
                tracing::error!(error = %err, "stored password hash is malformed");
                false
            }
        }
    }

    /// Burns the time of one verification, for a username that does not exist.
    pub fn verify_dummy(&self, password: &str) {
        let dummy = self.dummy_hash.get_or_init(|| {
            self.hash("not a password anybody has")
                .unwrap_or_else(|_| String::from("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$"))
        });
        let _ = self.verify(dummy, password);
    }
}

/// Bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|err| anyhow::anyhow!("no random source: {err}"))?;
    Ok(bytes)
}

/// A new bearer token (32 random bytes, base64url) and the hash to store for it.
pub fn new_token() -> anyhow::Result<(String, String)> {
    let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// What is stored for a token: base64url of its SHA-256.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// A generated password (18 random bytes, base64url: 24 characters).
pub fn new_password() -> anyhow::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<18>()?))
}

/// A new UUIDv7 id (text) for a user, device or session.
pub fn new_id() -> anyhow::Result<String> {
    Ok(
        liaison_domain::ids::uuid_v7(u64::try_from(now_ms()).unwrap_or(0), random_bytes::<10>()?)
            .to_string(),
    )
}

/// The server's clock, milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The enrolled device a session was signed in on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceRef {
    pub id: String,
    pub station_id: StationId,
}

/// The signed-in user of a request: extracting it checks the bearer token's session (known, not
/// revoked, not expired), its device (if any, not revoked) and the user (not disabled).
#[derive(Clone, Debug)]
pub struct Auth {
    pub session_id: String,
    pub session_expires_at: i64,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub deputy_id: Option<DeputyId>,
    /// The unit a handling-unit account acts for.
    pub unit_id: Option<UnitId>,
    pub scopes: Vec<Scope>,
    pub device: Option<DeviceRef>,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer_token(parts).ok_or(AppError::Unauthenticated)?;
        Auth::from_token(state, token).await
    }
}

/// The bearer token of a request, for a route that reads the session itself along with what
/// else it needs in the same statement (the push: `Db::push_session`). Without a token, the
/// same 401 as [`Auth`], before the body is read; an unknown token is the route's 401.
pub struct Bearer(pub String);

impl FromRequestParts<AppState> for Bearer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, AppError> {
        bearer_token(parts)
            .map(|token| Bearer(token.to_owned()))
            .ok_or(AppError::Unauthenticated)
    }
}

impl Auth {
    /// The live session of `token`, wherever the token came from (the `Authorization` header
    /// here; also the `?token=` query parameter on the event stream, see [`crate::events`]).
    pub(crate) async fn from_token(state: &AppState, token: &str) -> Result<Self, AppError> {
        state
            .db
            .session_by_token_hash(&token_hash(token), now_ms())
            .await?
            .ok_or(AppError::Unauthenticated)
    }
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub(crate) fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_salts_differ() {
        let passwords = Passwords::insecure_for_tests();
        let a = passwords.hash("correct horse").unwrap();
        let b = passwords.hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(passwords.verify(&a, "correct horse"));
        assert!(!passwords.verify(&a, "correct horse "));
        assert!(!passwords.verify("not a hash", "correct horse"));
    }

    #[test]
    fn the_default_cost_is_not_the_test_cost() {
        let params = Params::default();
        assert!(params.m_cost() >= 19 * 1024 && params.t_cost() >= 2);
    }

    #[test]
    fn tokens_are_random_and_stored_as_hashes() {
        let (token, hash) = new_token().unwrap();
        let (other, _) = new_token().unwrap();
        assert_ne!(token, other);
        assert_eq!(token.len(), 43, "32 bytes in base64url without padding");
        assert_eq!(hash, token_hash(&token));
        assert_ne!(hash, token);
    }
}
