//! Identifiers. Records are created offline, so every id is made on the device: a UUIDv7 whose
//! first 48 bits are the Unix time in milliseconds and whose remaining bits come from a
//! cryptographic random source supplied by the caller (never a counter, never `Math.random`).
//! Being time-ordered, the ids double as a "newest first" key in IndexedDB.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Makes a UUIDv7 from a Unix time in milliseconds and 10 random bytes.
pub fn uuid_v7(unix_ms: u64, random: [u8; 10]) -> Uuid {
    uuid::Builder::from_unix_timestamp_millis(unix_ms, &random).into_uuid()
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id (see the module docs).
            pub fn new_v7(unix_ms: u64, random: [u8; 10]) -> Self {
                Self(uuid_v7(unix_ms, random))
            }

            /// Parses the hyphenated text form.
            pub fn parse(s: &str) -> Option<Self> {
                Uuid::parse_str(s).ok().map(Self)
            }

            /// The Unix time in milliseconds when the id was made, if it is a UUIDv7.
            pub fn unix_ms(&self) -> Option<u64> {
                self.0.get_timestamp().map(|ts| {
                    let (secs, nanos) = ts.to_unix();
                    secs * 1000 + u64::from(nanos) / 1_000_000
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// One opinion a citizen raised.
    OpinionId
);
uuid_id!(
    /// A photo attached to an opinion.
    PhotoId
);
uuid_id!(
    /// One step of an opinion's follow-up (a referral, a reply, a return visit...), made where
    /// the step was recorded.
    FollowUpId
);
uuid_id!(
    /// One installation of the app on one device (one browser profile): the author of a
    /// numbered stream of sync mutations and the node of its hybrid logical clock. Made once,
    /// on the device, and kept with the outbox; a device whose storage is wiped is a new client.
    ClientId
);

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

text_id!(
    /// A region of the hierarchy (city, district, township). Assigned by the server.
    RegionId
);
text_id!(
    /// A liaison station. Assigned by the server.
    StationId
);
text_id!(
    /// A deputy. Assigned by the server.
    DeputyId
);
text_id!(
    /// A handling unit (承办单位): a government department, a township, the 12345 hotline.
    /// Assigned by the server.
    UnitId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_ids_carry_their_time_and_sort_by_it() {
        let a = OpinionId::new_v7(1_700_000_000_000, [1; 10]);
        let b = OpinionId::new_v7(1_700_000_000_001, [0; 10]);
        assert_eq!(a.0.get_version_num(), 7);
        assert_eq!(a.unix_ms(), Some(1_700_000_000_000));
        assert!(
            a < b,
            "a later millisecond sorts later whatever the random bits"
        );
        assert!(
            a.to_string() < b.to_string(),
            "the text form sorts the same way"
        );
    }

    #[test]
    fn ids_round_trip_through_text_and_json() {
        let id = OpinionId::new_v7(1_700_000_000_000, [7; 10]);
        assert_eq!(OpinionId::parse(&id.to_string()), Some(id));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<OpinionId>(&json).unwrap(), id);
        assert_eq!(OpinionId::parse("not-a-uuid"), None);
    }
}
