//! WebCrypto for the tablet's protected storage (issue 6): sealing with AES-GCM, and a deputy's
//! data key wrapped by a key derived from the PIN (PBKDF2-SHA-256) or by a key the server keeps.
//!
//! - A [`DataKey`] seals and opens a deputy's records. It lives in memory only while the deputy
//!   is unlocked, as a non-extractable `CryptoKey`: no script, ours included, can read its bytes.
//! - At rest it exists only wrapped ([`WrappingKey::wrap`]): by the deputy's PIN key, for
//!   unlocking offline, and by a key the server hands over after an online sign-in, for when the
//!   PIN is forgotten or locked out (`liaison_domain::protection` has the rules around both).
//! - Every sealed value is `[FORMAT, iv (12 bytes), ciphertext with its 16-byte tag]`, and binds
//!   the caller's `context` (e.g. the store and key of the record) as additional data, so a
//!   sealed value moved to another record does not open.
//!
//! WebCrypto needs a secure context (HTTPS, or localhost): the app is served that way anyway
//! for its service worker; elsewhere [`CryptoError::Unavailable`] says so.

use js_sys::{Array, Uint8Array};
use liaison_domain::protection::{KeyDerivation, Pin};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesDerivedKeyParams, AesGcmParams, AesKeyGenParams, CryptoKey, SubtleCrypto};

/// The first byte of every sealed value and wrapped key: the layout below. A later layout
/// gets a new number, and values of this one stay readable.
const FORMAT: u8 = 1;
/// AES-GCM's recommended nonce length; a fresh random one per sealing.
const IV_LEN: usize = 12;
const AES: &str = "AES-GCM";

/// What went wrong. Clone, so that it can be shown through a resource.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// No `crypto.subtle`: the page is not in a secure context.
    #[error("this page cannot encrypt: open the app over HTTPS")]
    Unavailable,
    /// The key does not open the value: a wrong PIN, or a value that was altered or moved.
    #[error("the key does not open this data")]
    WrongKey,
    /// Not a value this module sealed (too short, unknown format).
    #[error("not sealed data")]
    Malformed,
    #[error("WebCrypto failed: {0}")]
    Failed(String),
}

impl From<JsValue> for CryptoError {
    fn from(value: JsValue) -> Self {
        // AES-GCM's failed authentication is an `OperationError` DOMException.
        let name = value
            .dyn_ref::<web_sys::DomException>()
            .map(|e| e.name())
            .unwrap_or_default();
        if name == "OperationError" {
            CryptoError::WrongKey
        } else {
            CryptoError::Failed(format!("{value:?}"))
        }
    }
}

fn subtle() -> Result<SubtleCrypto, CryptoError> {
    let crypto = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .ok_or(CryptoError::Unavailable)?;
    let subtle = crypto.subtle();
    // In an insecure context `crypto.subtle` is undefined, though the binding returns it typed.
    if JsValue::from(subtle.clone()).is_undefined() {
        return Err(CryptoError::Unavailable);
    }
    Ok(subtle)
}

/// `n` bytes from `crypto.getRandomValues`.
pub fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .ok_or(CryptoError::Unavailable)?
        .get_random_values_with_u8_array(&mut bytes)?;
    Ok(bytes)
}

fn usages(names: &[&str]) -> Array {
    names.iter().map(|n| JsValue::from_str(n)).collect()
}

fn gcm(iv: &[u8], context: &[u8]) -> AesGcmParams {
    let params = AesGcmParams::new_with_u8_array(AES, &Uint8Array::from(iv));
    params.set_additional_data_u8_array(&Uint8Array::from(context));
    params
}

async fn resolve(promise: Result<js_sys::Promise, JsValue>) -> Result<JsValue, CryptoError> {
    Ok(JsFuture::from(promise?).await?)
}

fn bytes_of(value: JsValue) -> Vec<u8> {
    Uint8Array::new(&value).to_vec()
}

/// `[FORMAT, iv, body]`.
fn framed(iv: &[u8; IV_LEN], body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + IV_LEN + body.len());
    out.push(FORMAT);
    out.extend_from_slice(iv);
    out.extend(body);
    out
}

/// `(iv, body)` of a framed value.
fn unframed(sealed: &[u8]) -> Result<(&[u8], &[u8]), CryptoError> {
    match sealed.split_first() {
        Some((&FORMAT, rest)) if rest.len() > IV_LEN => Ok(rest.split_at(IV_LEN)),
        _ => Err(CryptoError::Malformed),
    }
}

/// A deputy's data key, unwrapped: non-extractable, in memory only.
#[derive(Clone, Debug)]
pub struct DataKey(CryptoKey);

impl DataKey {
    /// A new random AES-256-GCM key, returned with its wrappings by each of `wrappers` (in that
    /// order). The key itself is then re-made from the first wrapping as non-extractable, so what
    /// is used afterwards provably opens from what is stored.
    pub async fn generate(
        wrappers: &[&WrappingKey],
    ) -> Result<(DataKey, Vec<Vec<u8>>), CryptoError> {
        let first = wrappers.first().ok_or(CryptoError::Malformed)?;
        let subtle = subtle()?;
        let fresh: CryptoKey = resolve(subtle.generate_key_with_object(
            &AesKeyGenParams::new(AES, 256),
            true,
            &usages(&["encrypt", "decrypt"]),
        ))
        .await?
        .unchecked_into();
        let mut wrapped = Vec::with_capacity(wrappers.len());
        for wrapper in wrappers {
            wrapped.push(wrapper.wrap_raw(&fresh).await?);
        }
        let key = first.unwrap(&wrapped[0]).await?;
        Ok((key, wrapped))
    }

    /// Seals `plain`, bound to `context`.
    pub async fn seal(&self, context: &[u8], plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let iv = random::<IV_LEN>()?;
        let body =
            resolve(subtle()?.encrypt_with_object_and_u8_array(&gcm(&iv, context), &self.0, plain))
                .await?;
        Ok(framed(&iv, bytes_of(body)))
    }

    /// Opens what [`DataKey::seal`] sealed with the same `context`.
    pub async fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (iv, body) = unframed(sealed)?;
        let plain =
            resolve(subtle()?.decrypt_with_object_and_u8_array(&gcm(iv, context), &self.0, body))
                .await?;
        Ok(bytes_of(plain))
    }
}

/// A key that wraps data keys: derived from a PIN, or given by the server.
#[derive(Clone, Debug)]
pub struct WrappingKey(CryptoKey);

/// What every wrapped data key is bound to (its additional data).
const WRAP_CONTEXT: &[u8] = b"liaison data key v1";

impl WrappingKey {
    /// The PIN's key (PBKDF2-SHA-256 with the stored salt and iterations). Takes a noticeable
    /// moment on purpose.
    pub async fn from_pin(
        pin: &Pin,
        derivation: &KeyDerivation,
    ) -> Result<WrappingKey, CryptoError> {
        let subtle = subtle()?;
        let base: CryptoKey = resolve(subtle.import_key_with_str(
            "raw",
            &Uint8Array::from(pin.digits().as_bytes()),
            "PBKDF2",
            false,
            &usages(&["deriveKey"]),
        ))
        .await?
        .unchecked_into();
        let params = web_sys::Pbkdf2Params::new_with_str(
            "PBKDF2",
            "SHA-256",
            derivation.iterations,
            &Uint8Array::from(derivation.salt.as_slice()),
        );
        let key: CryptoKey = resolve(subtle.derive_key_with_object_and_object(
            &params,
            &base,
            &AesDerivedKeyParams::new(AES, 256),
            false,
            &usages(&["wrapKey", "unwrapKey"]),
        ))
        .await?
        .unchecked_into();
        Ok(WrappingKey(key))
    }

    /// A wrapping key from 32 raw bytes (the one the server keeps for a deputy on a tablet).
    pub async fn from_bytes(raw: &[u8; 32]) -> Result<WrappingKey, CryptoError> {
        let key: CryptoKey = resolve(subtle()?.import_key_with_str(
            "raw",
            &Uint8Array::from(raw.as_slice()),
            AES,
            false,
            &usages(&["wrapKey", "unwrapKey"]),
        ))
        .await?
        .unchecked_into();
        Ok(WrappingKey(key))
    }

    /// Wraps an extractable key (only a fresh one from [`DataKey::generate`] is).
    async fn wrap_raw(&self, key: &CryptoKey) -> Result<Vec<u8>, CryptoError> {
        let iv = random::<IV_LEN>()?;
        let body =
            resolve(subtle()?.wrap_key_with_object("raw", key, &self.0, &gcm(&iv, WRAP_CONTEXT)))
                .await?;
        Ok(framed(&iv, bytes_of(body)))
    }

    /// The data key inside `wrapped` (wrapped by this key), wrapped anew by `other`: for a new
    /// PIN after an unlock with the server's key, and for the tab's resume key. The key is
    /// extractable only inside this call; what is returned is re-made non-extractable from the
    /// new wrapping, so that it provably opens from what will be stored.
    pub async fn rewrap(
        &self,
        wrapped: &[u8],
        other: &WrappingKey,
    ) -> Result<(DataKey, Vec<u8>), CryptoError> {
        let (iv, body) = unframed(wrapped)?;
        let extractable: CryptoKey =
            resolve(subtle()?.unwrap_key_with_u8_array_and_object_and_object(
                "raw",
                body,
                &self.0,
                &gcm(iv, WRAP_CONTEXT),
                &AesKeyGenParams::new(AES, 256),
                true,
                &usages(&["encrypt", "decrypt"]),
            ))
            .await?
            .unchecked_into();
        let rewrapped = other.wrap_raw(&extractable).await?;
        let key = other.unwrap(&rewrapped).await?;
        Ok((key, rewrapped))
    }

    /// The data key inside `wrapped`, non-extractable. [`CryptoError::WrongKey`] when this is
    /// not the key that wrapped it (a wrong PIN).
    pub async fn unwrap(&self, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        let (iv, body) = unframed(wrapped)?;
        let key: CryptoKey = resolve(subtle()?.unwrap_key_with_u8_array_and_object_and_object(
            "raw",
            body,
            &self.0,
            &gcm(iv, WRAP_CONTEXT),
            &AesKeyGenParams::new(AES, 256),
            false,
            &usages(&["encrypt", "decrypt"]),
        ))
        .await?
        .unchecked_into();
        Ok(DataKey(key))
    }
}
