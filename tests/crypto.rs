//! The WebCrypto layer of the protected storage, in a real browser: what is sealed opens only
//! with its key and its context, a data key opens from its PIN wrapping and from the server's
//! wrapping alike, and a wrong PIN is told apart from a broken value.

use liaison_app::crypto::{CryptoError, DataKey, WrappingKey, random};
use liaison_domain::protection::{KeyDerivation, Pin, SALT_LEN};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const CITIZEN: &[u8] = "王小明 13812341234 幸福里 3 号楼".as_bytes();

async fn pin_key(pin: &str, derivation: &KeyDerivation) -> WrappingKey {
    WrappingKey::from_pin(&Pin::entered(pin).unwrap(), derivation)
        .await
        .expect("PBKDF2 in WebCrypto")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[wasm_bindgen_test]
async fn sealed_data_opens_only_with_its_key_and_context() {
    let derivation = KeyDerivation::new(random::<SALT_LEN>().unwrap());
    let pin = pin_key("275913", &derivation).await;
    let (key, wrapped) = DataKey::generate(&[&pin]).await.unwrap();
    assert_eq!(wrapped.len(), 1);

    let sealed = key.seal(b"opinions/0193", CITIZEN).await.unwrap();
    assert!(
        !contains(&sealed, "13812341234".as_bytes()),
        "no plain text"
    );
    assert!(!contains(&sealed, "王小明".as_bytes()), "no plain text");
    assert_ne!(
        key.seal(b"opinions/0193", CITIZEN).await.unwrap(),
        sealed,
        "a fresh nonce every time"
    );
    assert_eq!(key.open(b"opinions/0193", &sealed).await.unwrap(), CITIZEN);

    assert_eq!(
        key.open(b"opinions/0194", &sealed).await,
        Err(CryptoError::WrongKey),
        "moved to another record, it does not open"
    );
    let mut altered = sealed.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    assert_eq!(
        key.open(b"opinions/0193", &altered).await,
        Err(CryptoError::WrongKey)
    );
    assert_eq!(
        key.open(b"opinions/0193", &[9, 1, 2]).await,
        Err(CryptoError::Malformed)
    );
    assert_eq!(
        key.open(b"opinions/0193", b"").await,
        Err(CryptoError::Malformed)
    );

    let (other, _) = DataKey::generate(&[&pin]).await.unwrap();
    assert_eq!(
        other.open(b"opinions/0193", &sealed).await,
        Err(CryptoError::WrongKey),
        "another deputy's key does not open it"
    );
}

#[wasm_bindgen_test]
async fn the_data_key_opens_from_the_pin_and_from_the_servers_key_alike() {
    let derivation = KeyDerivation::new(random::<SALT_LEN>().unwrap());
    let pin = pin_key("275913", &derivation).await;
    let server = WrappingKey::from_bytes(&random::<32>().unwrap())
        .await
        .unwrap();
    let (key, wrapped) = DataKey::generate(&[&pin, &server]).await.unwrap();
    let sealed = key.seal(b"drafts/1", CITIZEN).await.unwrap();

    // Unlocking offline: the same PIN, derived again from what is stored.
    let again = pin_key("275913", &derivation).await;
    let unlocked = again.unwrap(&wrapped[0]).await.unwrap();
    assert_eq!(unlocked.open(b"drafts/1", &sealed).await.unwrap(), CITIZEN);

    // A wrong PIN is a wrong key, not a broken record: the deputy is told to try again.
    let wrong = pin_key("275914", &derivation).await;
    assert_eq!(
        wrong.unwrap(&wrapped[0]).await.err(),
        Some(CryptoError::WrongKey)
    );
    // The same PIN with another tablet's salt is another key too.
    let elsewhere = KeyDerivation::new(random::<SALT_LEN>().unwrap());
    assert_eq!(
        pin_key("275913", &elsewhere)
            .await
            .unwrap(&wrapped[0])
            .await
            .err(),
        Some(CryptoError::WrongKey)
    );

    // After the PIN is locked out, the server's wrapping opens the same records.
    let recovered = server.unwrap(&wrapped[1]).await.unwrap();
    assert_eq!(recovered.open(b"drafts/1", &sealed).await.unwrap(), CITIZEN);
    assert_eq!(
        pin.unwrap(&wrapped[1]).await.err(),
        Some(CryptoError::WrongKey),
        "each wrapping opens with its own key only"
    );
}
