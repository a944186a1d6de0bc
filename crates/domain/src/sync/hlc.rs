//! Hybrid logical clocks. Per-field last-writer-wins needs stamps that every replica orders the
//! same way and that respect what a device had seen when it wrote: an edit made after pulling
//! someone else's edit must win over it, even when the tablet's clock is behind. Wall time alone
//! gives neither (tablet clocks drift, jump back after a dead battery, are set by hand); a bare
//! counter loses the link to real time that makes "newest wins" mean something to people. An HLC
//! is the wall time when clocks are sane and falls back to a counter when they are not.
//!
//! The clock never reads the time itself: callers pass `now_ms` in, so the rules are pure and
//! tested natively. The tablet persists [`Clock::last`] with each outbox entry (the mutation
//! carries its stamp), so a reload resumes after the last stamp issued instead of at the device's
//! current, possibly earlier, time.

use crate::ids::ClientId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// How far ahead of the server's time a client's stamp may be before the server clamps it: a
/// minute covers ordinary drift of an unsynchronised tablet while keeping a wrongly set clock
/// from winning every later edit for hours or years.
pub const DEFAULT_MAX_AHEAD_MS: u64 = 60_000;

/// A hybrid logical clock stamp. Ordered by wall time, then counter, then node (the derived
/// order follows the field order), so two stamps from different clients never tie.
///
/// Serialised as one string, `WWWWWWWWWWWWWWWWWWWW-CCCCCCCCCC-<node uuid>`: the wall time in
/// milliseconds as 20 zero-padded decimal digits (all of `u64`), the counter as 10 (all of
/// `u32`), then the client id in lowercase hyphenated form. Fixed widths make the text sort
/// exactly like the stamp, so the server can compare stamps in a `TEXT` column of SQLite or
/// PostgreSQL, and decimal wall time stays readable when someone looks at the data. Parsing
/// accepts only this canonical form, so a stamp has one spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hlc {
    pub wall_ms: u64,
    pub counter: u32,
    pub node: ClientId,
}

impl Hlc {
    /// The smallest stamp of a node: what a clock that never ticked has seen.
    pub fn zero(node: ClientId) -> Self {
        Hlc {
            wall_ms: 0,
            counter: 0,
            node,
        }
    }

    /// The next stamp of the same node. When the counter is exhausted the wall time moves on by
    /// one millisecond instead, which keeps the order strict at the cost of running a hair
    /// ahead; four billion events in one millisecond only happen when someone feeds the clock
    /// absurd counters, and then staying strictly increasing matters more.
    pub fn successor(self) -> Hlc {
        match self.counter.checked_add(1) {
            Some(counter) => Hlc { counter, ..self },
            None => Hlc {
                wall_ms: self.wall_ms.saturating_add(1),
                counter: 0,
                ..self
            },
        }
    }

    /// Wall time and counter only: the part a clock advances, compared without the node.
    fn time(self) -> (u64, u32) {
        (self.wall_ms, self.counter)
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:020}-{:010}-{}", self.wall_ms, self.counter, self.node)
    }
}

/// Why a string is not a stamp.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("not a canonical HLC stamp: {0:?}")]
pub struct HlcParseError(pub String);

impl FromStr for Hlc {
    type Err = HlcParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || HlcParseError(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 20 + 1 + 10 + 1 + 36 || b[20] != b'-' || b[31] != b'-' {
            return Err(err());
        }
        let digits = |part: &str| -> bool { part.bytes().all(|c| c.is_ascii_digit()) };
        let (wall, counter, node) = (&s[..20], &s[21..31], &s[32..]);
        if !digits(wall) || !digits(counter) {
            return Err(err());
        }
        let node = ClientId::parse(node)
            .filter(|id| id.to_string() == node)
            .ok_or_else(err)?;
        Ok(Hlc {
            wall_ms: wall.parse().map_err(|_| err())?,
            counter: counter.parse().map_err(|_| err())?,
            node,
        })
    }
}

impl TryFrom<String> for Hlc {
    type Error = HlcParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Hlc> for String {
    fn from(h: Hlc) -> String {
        h.to_string()
    }
}

/// One node's clock. Every stamp it issues is greater than every stamp it issued or observed
/// before, whatever the wall time does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    last: Hlc,
}

impl Clock {
    /// A clock that has issued nothing yet.
    pub fn new(node: ClientId) -> Self {
        Clock {
            last: Hlc::zero(node),
        }
    }

    /// A clock that goes on after `last`, the greatest stamp it issued or observed before a
    /// reload (on the tablet: the greater of the persisted clock and the newest outbox stamp).
    pub fn resume(last: Hlc) -> Self {
        Clock { last }
    }

    pub fn node(&self) -> ClientId {
        self.last.node
    }

    /// The greatest stamp issued or observed, to persist.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// A stamp for a local event. It is the wall time when that is ahead of everything seen,
    /// otherwise the last stamp's successor, so a clock that goes backwards never makes a
    /// later edit lose to an earlier one from the same device.
    pub fn tick(&mut self, now_ms: u64) -> Hlc {
        self.advance(self.last.time(), now_ms)
    }

    /// Takes in a stamp received from elsewhere (a pulled change) and returns a stamp for the
    /// receipt, greater than both. Afterwards every [`tick`](Self::tick) is greater than
    /// `remote`, which is what makes an edit made after seeing a change win over it.
    ///
    /// The tablet observes only stamps that came through the server, which has clamped them
    /// (see [`clamp`]); it does not second-guess them against its own clock, because a tablet
    /// whose clock is behind would then refuse every fresh change.
    pub fn observe(&mut self, remote: &Hlc, now_ms: u64) -> Hlc {
        self.advance(self.last.time().max(remote.time()), now_ms)
    }

    fn advance(&mut self, seen: (u64, u32), now_ms: u64) -> Hlc {
        let (wall_ms, counter) = seen;
        self.last = if now_ms > wall_ms {
            Hlc {
                wall_ms: now_ms,
                counter: 0,
                node: self.last.node,
            }
        } else {
            Hlc {
                wall_ms,
                counter,
                node: self.last.node,
            }
            .successor()
        };
        self.last
    }
}

/// What the server does with a client's stamp before storing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clamp {
    /// The stamp is plausible and is stored as sent.
    Kept(Hlc),
    /// The stamp was replaced; the server stores `stamp` and keeps `original` for the audit
    /// trail and to tell the tablet its clock is wrong.
    Clamped { original: Hlc, stamp: Hlc },
}

impl Clamp {
    /// The stamp to store and merge with.
    pub fn stamp(&self) -> Hlc {
        match *self {
            Clamp::Kept(stamp) | Clamp::Clamped { stamp, .. } => stamp,
        }
    }
}

/// The server's rule for a client's stamp: **clamp, never reject**.
///
/// - A stamp more than `max_ahead_ms` ahead of `server_now_ms` gets the ceiling
///   (`server_now_ms + max_ahead_ms`) as its wall time and counter 0. Left alone, a tablet whose
///   clock says 2031 would win every edit of that field until 2031, and every clock that
///   observed its stamp would be dragged there too.
/// - The stored stamp must also be greater than `last_stored`, the greatest stamp the server
///   stored for this client so far (kept beside the client's `last_seq`); if it is not, it
///   becomes `last_stored`'s successor. This keeps a client's stored stamps strictly
///   increasing in seq order, so two clamped edits in one batch do not tie, and a later edit
///   from the same tablet never loses to its earlier one.
///
/// Rejecting instead would refuse a deputy's capture because of a wrong clock setting: the work
/// would sit in the outbox, or be shown as failed, for a reason the deputy cannot fix on the
/// spot. Clamping only moves the edit's place in the last-writer-wins order to "now", which is
/// when the server learnt of it anyway.
///
/// The node stays the client's. The tablet holds its own edit under the original stamp until it
/// pulls the record back from the server and replaces its copy (see [`crate::sync::merge`]).
pub fn clamp(
    remote: Hlc,
    last_stored: Option<Hlc>,
    server_now_ms: u64,
    max_ahead_ms: u64,
) -> Clamp {
    let ceiling = server_now_ms.saturating_add(max_ahead_ms);
    let mut stamp = if remote.wall_ms > ceiling {
        Hlc {
            wall_ms: ceiling,
            counter: 0,
            node: remote.node,
        }
    } else {
        remote
    };
    if let Some(floor) = last_stored
        && stamp.time() <= floor.time()
    {
        stamp = Hlc {
            node: remote.node,
            ..floor.successor()
        };
    }
    if stamp == remote {
        Clamp::Kept(remote)
    } else {
        Clamp::Clamped {
            original: remote,
            stamp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u8) -> ClientId {
        ClientId::new_v7(1_700_000_000_000, [n; 10])
    }

    fn hlc(wall_ms: u64, counter: u32, n: u8) -> Hlc {
        Hlc {
            wall_ms,
            counter,
            node: node(n),
        }
    }

    #[test]
    fn stamps_order_by_wall_then_counter_then_node() {
        assert!(hlc(1, 9, 9) < hlc(2, 0, 0));
        assert!(hlc(2, 0, 9) < hlc(2, 1, 0));
        assert!(hlc(2, 1, 0) < hlc(2, 1, 1));
        assert_eq!(hlc(2, 1, 1), hlc(2, 1, 1));
    }

    #[test]
    fn tick_follows_the_wall_clock_when_it_moves_forward() {
        let mut clock = Clock::new(node(1));
        assert_eq!(clock.tick(1_000), hlc(1_000, 0, 1));
        assert_eq!(clock.tick(1_005), hlc(1_005, 0, 1));
        assert_eq!(clock.last(), hlc(1_005, 0, 1));
    }

    #[test]
    fn equal_wall_times_advance_the_counter() {
        let mut clock = Clock::new(node(1));
        let a = clock.tick(1_000);
        let b = clock.tick(1_000);
        let c = clock.tick(1_000);
        assert_eq!((b, c), (hlc(1_000, 1, 1), hlc(1_000, 2, 1)));
        assert!(a < b && b < c);
    }

    #[test]
    fn a_clock_going_backwards_never_issues_a_smaller_stamp() {
        let mut clock = Clock::new(node(1));
        let before = clock.tick(5_000);
        // The battery died and the tablet came back at 1970 + a bit.
        let after = clock.tick(10);
        assert!(after > before);
        assert_eq!(after, hlc(5_000, 1, 1));
        assert_eq!(clock.tick(4_999), hlc(5_000, 2, 1));
        assert_eq!(
            clock.tick(5_001),
            hlc(5_001, 0, 1),
            "back to wall time once it catches up"
        );
    }

    #[test]
    fn a_resumed_clock_goes_on_after_its_persisted_stamp() {
        let mut clock = Clock::new(node(1));
        clock.tick(5_000);
        let persisted = serde_json::to_string(&clock).unwrap();
        let mut clock: Clock = serde_json::from_str(&persisted).unwrap();
        assert_eq!(clock.tick(1_000), hlc(5_000, 1, 1));
        let mut resumed = Clock::resume(hlc(7_000, 3, 1));
        assert_eq!(resumed.tick(6_000), hlc(7_000, 4, 1));
        assert_eq!(resumed.node(), node(1));
    }

    #[test]
    fn observing_a_remote_stamp_puts_later_ticks_after_it() {
        // This tablet's clock is an hour behind the one that wrote the remote edit.
        let mut clock = Clock::new(node(1));
        clock.tick(1_000);
        let remote = hlc(3_601_000, 7, 2);
        let receipt = clock.observe(&remote, 1_100);
        assert_eq!(receipt, hlc(3_601_000, 8, 1));
        let edit = clock.tick(1_200);
        assert!(
            edit > remote,
            "an edit made after seeing a change wins over it"
        );
    }

    #[test]
    fn observe_takes_the_greatest_of_local_remote_and_wall_time() {
        let mut clock = Clock::resume(hlc(2_000, 5, 1));
        // Older remote: local counter goes on.
        assert_eq!(clock.observe(&hlc(1_000, 9, 2), 1_500), hlc(2_000, 6, 1));
        // Same wall time: the greater counter goes on.
        assert_eq!(clock.observe(&hlc(2_000, 9, 2), 1_500), hlc(2_000, 10, 1));
        // Wall time ahead of both: back to wall time.
        assert_eq!(clock.observe(&hlc(2_500, 3, 2), 3_000), hlc(3_000, 0, 1));
    }

    #[test]
    fn an_exhausted_counter_moves_the_wall_time_on() {
        let mut clock = Clock::resume(hlc(1_000, u32::MAX - 1, 1));
        assert_eq!(clock.tick(0), hlc(1_000, u32::MAX, 1));
        assert_eq!(clock.tick(0), hlc(1_001, 0, 1));
        let mut clock = Clock::new(node(1));
        assert_eq!(clock.observe(&hlc(1_000, u32::MAX, 2), 0), hlc(1_001, 0, 1));
    }

    #[test]
    fn text_form_is_canonical_and_sorts_like_the_stamp() {
        let a = hlc(1_700_000_000_000, 0, 1);
        let text = a.to_string();
        assert_eq!(text.len(), 68);
        assert!(text.starts_with("00000001700000000000-0000000000-"));
        assert_eq!(text.parse::<Hlc>(), Ok(a));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<Hlc>(&json).unwrap(), a);

        let mut stamps = [
            hlc(u64::MAX, u32::MAX, 2),
            hlc(10, 0, 1),
            hlc(9, 100, 2),
            hlc(10, 0, 0),
            hlc(0, 0, 0),
        ];
        let mut texts: Vec<String> = stamps.iter().map(Hlc::to_string).collect();
        stamps.sort();
        texts.sort();
        assert_eq!(texts, stamps.iter().map(Hlc::to_string).collect::<Vec<_>>());
        assert_eq!(
            texts[4].parse::<Hlc>(),
            Ok(hlc(u64::MAX, u32::MAX, 2)),
            "the full range round-trips"
        );
    }

    #[test]
    fn non_canonical_text_is_rejected() {
        let good = hlc(5, 6, 1).to_string();
        let upper = format!("{}{}", &good[..32], good[32..].to_uppercase());
        let short_wall = good[1..].to_owned();
        let too_big_wall = format!("99999999999999999999{}", &good[20..]);
        let too_big_counter = format!("{}9999999999{}", &good[..21], &good[31..]);
        let plus_sign = format!("+{}", &good[1..]);
        for bad in [
            "",
            "garbage",
            upper.as_str(),
            short_wall.as_str(),
            too_big_wall.as_str(),
            too_big_counter.as_str(),
            plus_sign.as_str(),
        ] {
            assert!(bad.parse::<Hlc>().is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<Hlc>("\"garbage\"").is_err());
    }

    #[test]
    fn clamp_keeps_plausible_stamps() {
        let now = 1_000_000;
        for stamp in [
            hlc(now - 50_000, 3, 1),
            hlc(now + DEFAULT_MAX_AHEAD_MS, 9, 1),
        ] {
            assert_eq!(
                clamp(stamp, None, now, DEFAULT_MAX_AHEAD_MS),
                Clamp::Kept(stamp)
            );
            assert_eq!(
                clamp(
                    stamp,
                    Some(hlc(now - 60_000, 0, 1)),
                    now,
                    DEFAULT_MAX_AHEAD_MS
                )
                .stamp(),
                stamp
            );
        }
    }

    #[test]
    fn clamp_pulls_far_future_stamps_back_to_the_ceiling() {
        let now = 1_000_000;
        let year_ahead = hlc(now + 365 * 86_400_000, 4, 1);
        assert_eq!(
            clamp(year_ahead, None, now, DEFAULT_MAX_AHEAD_MS),
            Clamp::Clamped {
                original: year_ahead,
                stamp: hlc(now + DEFAULT_MAX_AHEAD_MS, 0, 1),
            }
        );
        let edge = hlc(now + DEFAULT_MAX_AHEAD_MS + 1, 0, 1);
        assert_eq!(
            clamp(edge, None, now, DEFAULT_MAX_AHEAD_MS).stamp(),
            hlc(now + DEFAULT_MAX_AHEAD_MS, 0, 1)
        );
        // No overflow at the end of time.
        let end = hlc(u64::MAX, u32::MAX, 1);
        assert_eq!(clamp(end, None, u64::MAX - 1, 10), Clamp::Kept(end));
    }

    #[test]
    fn clamped_stamps_of_one_batch_stay_in_seq_order() {
        let now = 1_000_000;
        let max = DEFAULT_MAX_AHEAD_MS;
        let first = clamp(hlc(9_000_000_000, 0, 1), None, now, max).stamp();
        let second = clamp(hlc(9_000_000_001, 0, 1), Some(first), now, max).stamp();
        let third = clamp(hlc(9_000_000_002, 0, 1), Some(second), now, max).stamp();
        assert_eq!(first, hlc(now + max, 0, 1));
        assert_eq!(second, hlc(now + max, 1, 1));
        assert_eq!(third, hlc(now + max, 2, 1));
    }

    #[test]
    fn clamp_never_stores_a_stamp_below_the_clients_last_one() {
        let floor = hlc(2_000, 5, 1);
        let behind = hlc(1_500, 0, 1);
        assert_eq!(
            clamp(behind, Some(floor), 2_000, DEFAULT_MAX_AHEAD_MS),
            Clamp::Clamped {
                original: behind,
                stamp: hlc(2_000, 6, 1),
            }
        );
        let equal = hlc(2_000, 5, 1);
        assert_eq!(
            clamp(equal, Some(floor), 2_000, DEFAULT_MAX_AHEAD_MS).stamp(),
            hlc(2_000, 6, 1)
        );
    }
}
