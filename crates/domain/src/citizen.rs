//! The citizen's personal data. All of it is optional (a citizen may stay anonymous), it is kept
//! only with consent, and it is shown masked by default.

use serde::{Deserialize, Serialize};

/// A phone number, normalised to digits: an 11-digit mainland mobile (`1[3-9]` then 9 digits)
/// or a landline with its area code (`0` + 2–3 digits + a 7–8 digit number).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Accepts what people type: spaces, hyphens, brackets, full-width digits and a `+86` /
    /// `0086` prefix on mobiles.
    pub fn parse(input: &str) -> Option<Phone> {
        let mut digits = String::with_capacity(input.len());
        for c in input.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                // Full-width digits from a Chinese IME.
                '０'..='９' => digits.push(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
                ' ' | '-' | '(' | ')' | '（' | '）' | '　' => {}
                '+' if digits.is_empty() => {}
                _ => return None,
            }
        }
        let digits = if digits.len() == 13 && digits.starts_with("86") {
            digits[2..].to_owned()
        } else if digits.len() == 15 && digits.starts_with("0086") {
            digits[4..].to_owned()
        } else {
            digits
        };
        let b = digits.as_bytes();
        let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
        let landline = (10..=12).contains(&b.len()) && b[0] == b'0' && b[1] != b'0';
        (mobile || landline).then_some(Phone(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with its middle hidden: `138****1234`.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        format!("{}****{}", &self.0[..3], &self.0[n - 4..])
    }
}

impl TryFrom<String> for Phone {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Phone::parse(&s).ok_or_else(|| format!("invalid phone number: {s}"))
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

/// Hides all but the first character of a name: `张*`, `张**`. At most two stars, so that a
/// long name (or whatever was typed into the name field) does not show its length.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first)
            .chain(chars.take(2).map(|_| '*'))
            .collect(),
        None => String::new(),
    }
}

/// The version of the personal-data notice the deputy showed the citizen. When the wording in the
/// translation files changes, this changes too, so each recorded consent names what was shown.
pub const CONSENT_NOTICE_VERSION: &str = "2026-11-v1";

/// Consent to keep personal data, and which notice was shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub notice_version: String,
    pub given_at_ms: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citizen {
    pub anonymous: bool,
    pub name: Option<String>,
    pub phone: Option<Phone>,
    pub address: Option<String>,
    /// Present whenever any personal data is present.
    pub consent: Option<Consent>,
}

impl Citizen {
    pub fn has_personal_data(&self) -> bool {
        self.name.is_some() || self.phone.is_some() || self.address.is_some()
    }

    /// The citizen as kept wherever personal data is masked (the server's item view, and every
    /// record a tablet stores): the name cut to its first character and stars, no phone, no
    /// address; anonymity and consent kept. Masking twice changes nothing.
    pub fn masked(&self) -> Citizen {
        Citizen {
            anonymous: self.anonymous,
            name: self.name.as_deref().map(mask_name),
            phone: None,
            address: None,
            consent: self.consent.clone(),
        }
    }

    /// One line for lists: masked name and phone, or "anonymous" left to the caller.
    pub fn masked_summary(&self) -> Option<String> {
        let parts: Vec<String> = [
            self.name.as_deref().map(mask_name),
            self.phone.as_ref().map(Phone::masked),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_first_character_and_at_most_two_stars() {
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name("王"), "王");
        assert_eq!(mask_name("王芳"), "王*");
        assert_eq!(mask_name("王小明"), "王**");
        assert_eq!(mask_name("欧阳小明"), "欧**");
        assert_eq!(mask_name("Wang Xiaoming"), "W**");
    }

    #[test]
    fn accepts_mobiles_and_landlines_as_people_type_them() {
        for (input, want) in [
            ("13812341234", "13812341234"),
            ("138 1234 1234", "13812341234"),
            ("138-1234-1234", "13812341234"),
            ("+86 138 1234 1234", "13812341234"),
            ("0086 13812341234", "13812341234"),
            ("１３８１２３４１２３４", "13812341234"),
            ("010-12345678", "01012345678"),
            ("(0755) 1234567", "07551234567"),
            ("0571-87654321", "057187654321"),
        ] {
            assert_eq!(
                Phone::parse(input).map(String::from).as_deref(),
                Some(want),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_bad_phone_numbers() {
        for input in [
            "",
            "12345",
            "1381234123",   // 10 digits
            "138123412345", // 12 digits, not a landline
            "12812341234",  // second digit 2
            "23812341234",  // not 1 or 0
            "001234567890", // 00 is an international prefix, not an area code
            "138a1234123",
            "138.1234.1234",
            "1381234123４5",
            "+",
            "138 1234 1234 ext 5",
        ] {
            assert_eq!(Phone::parse(input), None, "{input:?} should be rejected");
        }
    }

    #[test]
    fn masks_the_middle_of_a_phone_and_all_but_the_first_character_of_a_name() {
        assert_eq!(Phone::parse("13812341234").unwrap().masked(), "138****1234");
        assert_eq!(
            Phone::parse("010-12345678").unwrap().masked(),
            "010****5678"
        );
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name(""), "");
        let c = Citizen {
            name: Some("李四".into()),
            phone: Phone::parse("13900001111"),
            ..Citizen::default()
        };
        assert_eq!(c.masked_summary().as_deref(), Some("李* 139****1111"));
        assert_eq!(Citizen::default().masked_summary(), None);
    }

    #[test]
    fn a_masked_citizen_keeps_no_personal_data_and_masking_again_changes_nothing() {
        let c = Citizen {
            anonymous: false,
            name: Some("王小明".into()),
            phone: Phone::parse("13812341234"),
            address: Some("幸福里 3 号楼".into()),
            consent: Some(Consent {
                notice_version: CONSENT_NOTICE_VERSION.into(),
                given_at_ms: 1,
            }),
        };
        let masked = c.masked();
        let text = serde_json::to_string(&masked).unwrap();
        for secret in ["小明", "13812341234", "1234", "幸福里"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(masked.name.as_deref(), Some("王**"));
        assert_eq!(masked.consent, c.consent, "the consent stays");
        assert_eq!(masked.masked(), masked);
        assert_eq!(Citizen::default().masked(), Citizen::default());
    }

    #[test]
    fn a_stored_phone_that_is_invalid_does_not_deserialise() {
        assert!(serde_json::from_str::<Phone>("\"12345\"").is_err());
        let p: Phone = serde_json::from_str("\"138 1234 1234\"").unwrap();
        assert_eq!(p.as_str(), "13812341234");
    }
}
