//! Protecting a shared tablet: the rules around the deputy's PIN, wrong PINs and locking.
//!
//! The cryptography runs in the browser (WebCrypto in the app's `crypto` module): each deputy's
//! records are sealed with AES-GCM under a data key of their own, and that key is stored only
//! wrapped by a key derived from the deputy's PIN (PBKDF2-SHA-256). What is decided here, pure
//! and tested natively, is everything around it:
//!
//! - which PINs are accepted ([`Pin::choose`]): digits only, [`PIN_LENGTH`], not one a thief
//!   tries first (all one digit, a run like `123456`, a repeated pair or triple);
//! - how the PIN key is derived ([`KeyDerivation`]): a fresh random salt per deputy and tablet,
//!   and the iteration count stored with it, so that a later, stronger count applies at the next
//!   PIN change without locking anyone out;
//! - what happens after wrong PINs ([`PinAttempts`]): after [`MAX_PIN_ATTEMPTS`] in a row the
//!   wrapped key is deleted, and only an online sign-in (the password, checked by the server,
//!   which keeps a second wrapping of the key) opens the records again. A PIN has a million
//!   values at six digits; the limit is what makes guessing it useless on the tablet itself;
//! - when the tablet locks by itself ([`IdleLock`]): after [`AUTO_LOCK_AFTER_MS`] without a
//!   touch, and whenever the app is hidden longer than that.

use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;
use thiserror::Error;

/// How many digits a PIN has.
pub const PIN_LENGTH: RangeInclusive<usize> = 6..=12;

/// PBKDF2-SHA-256 iterations for a new PIN key (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
/// About half a second on a station tablet, once per unlock.
pub const PBKDF2_ITERATIONS: u32 = 600_000;

/// The fewest iterations a stored derivation may name. A stored record naming fewer was not
/// written by this app: it is refused rather than used (it would make the PIN cheap to guess).
pub const MIN_PBKDF2_ITERATIONS: u32 = 100_000;

/// Bytes of random salt per derivation.
pub const SALT_LEN: usize = 16;

/// Wrong PINs in a row after which the wrapped key is deleted.
pub const MAX_PIN_ATTEMPTS: u32 = 5;

/// The tablet locks after this long without a touch: 5 minutes.
pub const AUTO_LOCK_AFTER_MS: u64 = 5 * 60 * 1000;

/// Why a PIN cannot be chosen. `code()` is the translation key's last part (`error.<code>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum PinError {
    #[error("the PIN must have 6 to 12 digits")]
    Length,
    #[error("the PIN may contain digits only")]
    NotDigits,
    #[error("the PIN is too easy to guess")]
    TooEasy,
    #[error("the two PINs differ")]
    Mismatch,
}

impl PinError {
    pub fn code(self) -> &'static str {
        match self {
            PinError::Length => "pin_length",
            PinError::NotDigits => "pin_not_digits",
            PinError::TooEasy => "pin_too_easy",
            PinError::Mismatch => "pin_mismatch",
        }
    }
}

/// A PIN that passed the rules. Only made by [`Pin::choose`] (when it is set) or
/// [`Pin::entered`] (when it is typed to unlock), so it never holds anything but digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl std::fmt::Debug for Pin {
    /// Never printed: a PIN in a log is a PIN given away.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(…)")
    }
}

impl Pin {
    /// A new PIN, typed twice.
    pub fn choose(typed: &str, repeated: &str) -> Result<Pin, PinError> {
        let pin = Pin::entered(typed)?;
        if is_easy(pin.digits()) {
            return Err(PinError::TooEasy);
        }
        if typed.trim() != repeated.trim() {
            return Err(PinError::Mismatch);
        }
        Ok(pin)
    }

    /// A PIN typed to unlock: only its form is checked (an old, easier PIN still opens what it
    /// sealed).
    pub fn entered(typed: &str) -> Result<Pin, PinError> {
        let typed = typed.trim();
        if !typed.chars().all(|c| c.is_ascii_digit()) {
            return Err(PinError::NotDigits);
        }
        if !PIN_LENGTH.contains(&typed.len()) {
            return Err(PinError::Length);
        }
        Ok(Pin(typed.to_owned()))
    }

    /// The digits, for the key derivation only.
    pub fn digits(&self) -> &str {
        &self.0
    }
}

/// A PIN made of one digit, a run up or down (`123456`, `987654`, `901234` wrapping round), or a
/// pattern of two or three digits repeated (`121212`, `123123`).
fn is_easy(digits: &str) -> bool {
    let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    let steps: Vec<u8> = d.windows(2).map(|w| (10 + w[1] - w[0]) % 10).collect();
    let one_step = steps.iter().all(|&s| s == steps[0]) && matches!(steps[0], 0 | 1 | 9);
    let repeats = |period: usize| d.iter().enumerate().all(|(i, &x)| x == d[i % period]);
    one_step || repeats(2) || repeats(3)
}

/// How a deputy's PIN key is derived, stored beside the wrapped key (none of it is secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDerivation {
    /// Always `"PBKDF2-SHA-256"` so far; a later scheme gets a new name.
    pub scheme: String,
    pub salt: Vec<u8>,
    pub iterations: u32,
}

/// Why a stored derivation is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum DerivationError {
    #[error("unknown key derivation scheme")]
    UnknownScheme,
    #[error("the stored key derivation is weaker than this app allows")]
    TooWeak,
}

impl KeyDerivation {
    pub const SCHEME: &'static str = "PBKDF2-SHA-256";

    /// A derivation for a new PIN, with `salt` from the platform's random source.
    pub fn new(salt: [u8; SALT_LEN]) -> KeyDerivation {
        KeyDerivation {
            scheme: Self::SCHEME.to_owned(),
            salt: salt.to_vec(),
            iterations: PBKDF2_ITERATIONS,
        }
    }

    /// A stored derivation, checked before it is used: a record that names an unknown scheme,
    /// a short salt or too few iterations was tampered with.
    pub fn checked(self) -> Result<KeyDerivation, DerivationError> {
        if self.scheme != Self::SCHEME {
            return Err(DerivationError::UnknownScheme);
        }
        if self.salt.len() < SALT_LEN || self.iterations < MIN_PBKDF2_ITERATIONS {
            return Err(DerivationError::TooWeak);
        }
        Ok(self)
    }
}

/// Wrong PINs in a row, kept with the wrapped key (a reload does not reset it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinAttempts {
    pub failed_in_a_row: u32,
    /// When the last wrong PIN was entered (ms since the epoch; `None` before any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failed_at_ms: Option<u64>,
}

/// Where there is no other copy of the key (a browser never enrolled: the server keeps none),
/// deleting it would lose the account's unsynced work for good. There the PIN stays after
/// [`MAX_PIN_ATTEMPTS`], and each further try waits: 30 s after the fifth wrong PIN, doubling
/// with each wrong one after it, at most an hour.
pub const FIRST_WAIT_MS: u64 = 30_000;
pub const MAX_WAIT_MS: u64 = 60 * 60 * 1000;

/// What a wrong PIN leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterWrongPin {
    /// Tell the deputy how many tries are left.
    TryAgain { left: u32 },
    /// Delete the wrapped key now; the deputy signs in online with the password.
    DeleteKey,
}

impl PinAttempts {
    /// Counts a wrong PIN entered at `now_ms`.
    pub fn failed(&mut self, now_ms: u64) -> AfterWrongPin {
        self.failed_in_a_row = self.failed_in_a_row.saturating_add(1);
        self.last_failed_at_ms = Some(now_ms);
        match MAX_PIN_ATTEMPTS.saturating_sub(self.failed_in_a_row) {
            0 => AfterWrongPin::DeleteKey,
            left => AfterWrongPin::TryAgain { left },
        }
    }

    /// A right PIN starts the count again.
    pub fn succeeded(&mut self) {
        self.failed_in_a_row = 0;
        self.last_failed_at_ms = None;
    }

    /// Where the key is kept past [`MAX_PIN_ATTEMPTS`] (no other copy of it): how long the next
    /// try must still wait at `now_ms` (0: it may go).
    pub fn wait_ms(&self, now_ms: u64) -> u64 {
        let Some(over) = self.failed_in_a_row.checked_sub(MAX_PIN_ATTEMPTS) else {
            return 0;
        };
        let wait = FIRST_WAIT_MS
            .saturating_mul(1u64 << over.min(20))
            .min(MAX_WAIT_MS);
        let since = now_ms.saturating_sub(self.last_failed_at_ms.unwrap_or(0));
        wait.saturating_sub(since)
    }
}

/// When the tablet locks by itself. Times are the caller's (milliseconds since the epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdleLock {
    after_ms: u64,
    last_activity_ms: u64,
}

impl IdleLock {
    pub fn new(now_ms: u64) -> IdleLock {
        IdleLock::after(AUTO_LOCK_AFTER_MS, now_ms)
    }

    /// A lock after `after_ms` of idleness, never longer than [`AUTO_LOCK_AFTER_MS`].
    pub fn after(after_ms: u64, now_ms: u64) -> IdleLock {
        IdleLock {
            after_ms: after_ms.min(AUTO_LOCK_AFTER_MS),
            last_activity_ms: now_ms,
        }
    }

    /// A touch, a key or a scroll: the deputy is there.
    pub fn touched(&mut self, now_ms: u64) {
        self.last_activity_ms = self.last_activity_ms.max(now_ms);
    }

    /// Whether the tablet should be locked now. Also right after the app was hidden for a long
    /// time: timers do not run while a tab sleeps, so the check is made again when it wakes.
    pub fn should_lock(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_activity_ms) >= self.after_ms
    }

    /// Milliseconds until [`IdleLock::should_lock`] turns true (for the next timer).
    pub fn due_in_ms(&self, now_ms: u64) -> u64 {
        (self.last_activity_ms + self.after_ms).saturating_sub(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_six_to_twelve_digits_typed_twice_alike() {
        assert!(Pin::choose("275913", "275913").is_ok());
        assert!(
            Pin::choose(" 275913 ", "275913").is_ok(),
            "spaces around are not the PIN"
        );
        assert!(Pin::choose("2759138046", "2759138046").is_ok());
        assert_eq!(Pin::choose("27591", "27591"), Err(PinError::Length));
        assert_eq!(
            Pin::choose("2759138046123", "2759138046123"),
            Err(PinError::Length)
        );
        assert_eq!(Pin::choose("27a913", "27a913"), Err(PinError::NotDigits));
        assert_eq!(
            Pin::choose("２７５９１３", "２７５９１３"),
            Err(PinError::NotDigits)
        );
        assert_eq!(Pin::choose("275913", "275914"), Err(PinError::Mismatch));
    }

    #[test]
    fn pins_a_thief_tries_first_are_refused() {
        for easy in [
            "000000",
            "111111",
            "123456",
            "234567",
            "654321",
            "987654",
            "890123",
            "121212",
            "123123",
            "909090",
            "1234567890",
        ] {
            assert_eq!(Pin::choose(easy, easy), Err(PinError::TooEasy), "{easy}");
        }
        for fine in ["275913", "102938", "135790", "112358", "246813"] {
            assert!(Pin::choose(fine, fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn an_easy_pin_still_unlocks_what_it_sealed() {
        assert_eq!(Pin::entered("123456").unwrap().digits(), "123456");
    }

    #[test]
    fn a_pin_is_never_printed() {
        let pin = Pin::entered("275913").unwrap();
        assert_eq!(format!("{pin:?}"), "Pin(…)");
    }

    #[test]
    fn five_wrong_pins_in_a_row_delete_the_key() {
        let mut attempts = PinAttempts::default();
        for left in (1..MAX_PIN_ATTEMPTS).rev() {
            assert_eq!(attempts.failed(1), AfterWrongPin::TryAgain { left });
        }
        assert_eq!(attempts.failed(1), AfterWrongPin::DeleteKey);
        assert_eq!(attempts.failed(1), AfterWrongPin::DeleteKey, "and stays so");

        let mut attempts = PinAttempts::default();
        attempts.failed(1);
        attempts.failed(1);
        attempts.succeeded();
        assert_eq!(
            attempts.failed(1),
            AfterWrongPin::TryAgain {
                left: MAX_PIN_ATTEMPTS - 1
            }
        );
    }

    #[test]
    fn where_the_key_is_kept_each_try_past_the_fifth_waits_longer() {
        let mut attempts = PinAttempts::default();
        for _ in 0..MAX_PIN_ATTEMPTS - 1 {
            attempts.failed(1_000);
        }
        assert_eq!(attempts.wait_ms(1_000), 0, "four wrong: no wait");
        attempts.failed(10_000);
        assert_eq!(attempts.wait_ms(10_000), FIRST_WAIT_MS);
        assert_eq!(attempts.wait_ms(10_000 + FIRST_WAIT_MS - 1), 1);
        assert_eq!(attempts.wait_ms(10_000 + FIRST_WAIT_MS), 0);
        attempts.failed(50_000);
        assert_eq!(attempts.wait_ms(50_000), 2 * FIRST_WAIT_MS, "doubling");
        for _ in 0..40 {
            attempts.failed(60_000);
        }
        assert_eq!(attempts.wait_ms(60_000), MAX_WAIT_MS, "at most an hour");
        attempts.succeeded();
        assert_eq!(attempts.wait_ms(60_000), 0);
    }

    #[test]
    fn stored_derivations_weaker_than_ours_are_refused() {
        let ours = KeyDerivation::new([7; SALT_LEN]);
        assert_eq!(ours.clone().checked(), Ok(ours.clone()));
        let weak = KeyDerivation {
            iterations: 1000,
            ..ours.clone()
        };
        assert_eq!(weak.checked(), Err(DerivationError::TooWeak));
        let short_salt = KeyDerivation {
            salt: vec![1, 2],
            ..ours.clone()
        };
        assert_eq!(short_salt.checked(), Err(DerivationError::TooWeak));
        let other = KeyDerivation {
            scheme: "MD5".into(),
            ..ours
        };
        assert_eq!(other.checked(), Err(DerivationError::UnknownScheme));
    }

    #[test]
    fn the_tablet_locks_after_five_idle_minutes() {
        let mut lock = IdleLock::new(1_000);
        assert!(!lock.should_lock(1_000 + AUTO_LOCK_AFTER_MS - 1));
        assert_eq!(lock.due_in_ms(1_000), AUTO_LOCK_AFTER_MS);
        lock.touched(61_000);
        assert!(!lock.should_lock(1_000 + AUTO_LOCK_AFTER_MS));
        assert!(lock.should_lock(61_000 + AUTO_LOCK_AFTER_MS));
        lock.touched(5_000);
        assert!(
            lock.should_lock(61_000 + AUTO_LOCK_AFTER_MS),
            "a late event from before does not move the clock back"
        );
        assert_eq!(lock.due_in_ms(u64::MAX), 0);
    }

    #[test]
    fn a_shorter_idle_time_may_be_set_but_never_a_longer_one() {
        let short = IdleLock::after(3_000, 0);
        assert!(!short.should_lock(2_999));
        assert!(short.should_lock(3_000));
        let long = IdleLock::after(AUTO_LOCK_AFTER_MS * 10, 0);
        assert!(
            long.should_lock(AUTO_LOCK_AFTER_MS),
            "capped at five minutes"
        );
    }
}
