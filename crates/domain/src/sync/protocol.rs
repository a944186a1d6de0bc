//! The sync protocol's wire types, and the server's pure bookkeeping rule for a push.
//!
//! The tablet records **intent mutations** (create an opinion, set some of its fields, delete
//! it) in an outbox, numbered by a dense per-client [`Seq`], and pushes them; the server applies
//! each at most once and acknowledges through the highest seq it has dealt with. Pulls page
//! through the server's commit-ordered change sequence with a [`Cursor`]. Everything is JSON:
//! enums are tagged objects with snake_case names, so a pushed batch stays readable in a log and
//! in IndexedDB, and adding a variant later does not change how the existing ones look.
//!
//! Both the protocol ([`PROTOCOL_VERSION`]) and each mutation kind
//! ([`MutationKind::kind_version`]) carry a version: an outbox can hold entries written by an
//! older app, and the server must recognise, convert or refuse them, never guess. The golden
//! example in `tests/golden/push_request_v1.json` pins the wire format; a change that alters it
//! fails a test and needs a new version.

use crate::citizen::Citizen;
use crate::error::ValidationErrors;
use crate::followup::{Attendance, AttendanceMark, FollowUp, TransitionError};
use crate::ids::{ClientId, OpinionId};
use crate::opinion::{Opinion, Outcome};
use crate::sync::hlc::Hlc;
use crate::sync::merge::OpinionReplica;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The version of this protocol. Bumped when a change would make an older peer misread a
/// message; additions that older peers can ignore do not bump it.
pub const PROTOCOL_VERSION: u32 = 1;

/// The most mutations one push may carry. Small enough that one batch fits in one server
/// transaction and one request body without tuning; a client told [`PushError::BatchTooLarge`]
/// (or an HTTP 413) halves its batch and tries again.
pub const MAX_PUSH_MUTATIONS: usize = 200;

/// The most changes one pull page returns, whatever the client asks for.
pub const MAX_PULL_LIMIT: u32 = 500;

/// A mutation's number in its client's stream: 1 for the first, then dense. `Seq(0)` means
/// "nothing yet" (the server's `last_seq` for a client it has never heard from).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl Seq {
    pub const NONE: Seq = Seq(0);

    pub fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
}

/// A position in the server's change sequence, which follows commit order (in SQLite the single
/// writer gives that; in PostgreSQL a counter row bumped inside the writing transaction). Never
/// a timestamp or a bare database sequence: those do not follow commit order, and a pull would
/// skip a row committed late with an earlier value. `Cursor(0)` is "from the beginning".
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cursor(pub u64);

impl Cursor {
    pub const START: Cursor = Cursor(0);
}

/// One intent, as the tablet recorded it. `(client_id, seq)` identifies it; `hlc` orders its
/// writes against everyone else's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mutation {
    pub client_id: ClientId,
    pub seq: Seq,
    pub hlc: Hlc,
    /// The version of `kind`'s shape this mutation was written with. On the wire so that a server
    /// can tell an old outbox entry from a new one before trusting its body.
    pub kind_version: u32,
    pub kind: MutationKind,
}

impl Mutation {
    /// A mutation of the current version of its kind.
    pub fn new(client_id: ClientId, seq: Seq, hlc: Hlc, kind: MutationKind) -> Self {
        Mutation {
            client_id,
            seq,
            hlc,
            kind_version: kind.kind_version(),
            kind,
        }
    }
}

/// What a mutation does. Each variant is versioned on its own ([`Self::kind_version`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MutationKind {
    /// An opinion captured on the tablet, already validated there.
    /// (Boxed: an opinion is far bigger than the other kinds; the wire format is unchanged.)
    CreateOpinion { opinion: Box<Opinion> },
    /// New values for some editable fields. Only the fields the user changed are sent, so a
    /// concurrent edit of another field on another tablet survives.
    SetOpinionFields {
        id: OpinionId,
        fields: Vec<OpinionFieldValue>,
    },
    /// Deletes the opinion for good (see [`crate::sync::merge`] for how a tombstone wins).
    DeleteOpinion { id: OpinionId },
    /// One follow-up step (a referral, a reply, feedback, an evaluation...), appended to the
    /// opinion's history if the lifecycle allows it when the server takes it
    /// ([`crate::followup::lifecycle`]).
    RecordFollowUp {
        opinion_id: OpinionId,
        step: FollowUp,
    },
    /// A deputy signing in or out of a duty shift ([`crate::followup::attendance`]).
    MarkAttendance { mark: AttendanceMark },
}

impl MutationKind {
    /// The citizen's personal data this mutation carries, if any: a new opinion's citizen, or
    /// an edit of the citizen. What a tablet seals in its outbox.
    pub fn citizen(&self) -> Option<&Citizen> {
        match self {
            MutationKind::CreateOpinion { opinion } => Some(&opinion.citizen),
            MutationKind::SetOpinionFields { fields, .. } => {
                fields.iter().find_map(|field| match field {
                    OpinionFieldValue::Citizen(citizen) => Some(citizen),
                    _ => None,
                })
            }
            _ => None,
        }
    }

    /// The mutation with the citizen it carries (if any) replaced by `citizen`: masked for what
    /// a tablet keeps in clear, the sealed original put back before it is pushed.
    pub fn with_citizen(mut self, citizen: Citizen) -> MutationKind {
        match &mut self {
            MutationKind::CreateOpinion { opinion } => opinion.citizen = citizen,
            MutationKind::SetOpinionFields { fields, .. } => {
                for field in fields.iter_mut() {
                    if let OpinionFieldValue::Citizen(c) = field {
                        *c = citizen.clone();
                    }
                }
            }
            _ => {}
        }
        self
    }

    /// The wire name (the `type` tag).
    pub fn name(&self) -> &'static str {
        match self {
            MutationKind::CreateOpinion { .. } => "create_opinion",
            MutationKind::SetOpinionFields { .. } => "set_opinion_fields",
            MutationKind::DeleteOpinion { .. } => "delete_opinion",
            MutationKind::RecordFollowUp { .. } => "record_follow_up",
            MutationKind::MarkAttendance { .. } => "mark_attendance",
        }
    }

    /// The current version of this kind's shape. Raise it (and keep reading the old shape, or
    /// have the app's outbox migration convert it) whenever a field's meaning changes.
    pub fn kind_version(&self) -> u32 {
        match self {
            MutationKind::CreateOpinion { .. } => 1,
            MutationKind::SetOpinionFields { .. } => 1,
            MutationKind::DeleteOpinion { .. } => 1,
            MutationKind::RecordFollowUp { .. } => 1,
            MutationKind::MarkAttendance { .. } => 1,
        }
    }

    /// The opinion the mutation is about; `None` for an attendance mark.
    pub fn opinion_id(&self) -> Option<OpinionId> {
        match self {
            MutationKind::CreateOpinion { opinion } => Some(opinion.id),
            MutationKind::SetOpinionFields { id, .. } | MutationKind::DeleteOpinion { id } => {
                Some(*id)
            }
            MutationKind::RecordFollowUp { opinion_id, .. } => Some(*opinion_id),
            MutationKind::MarkAttendance { .. } => None,
        }
    }

    /// The id of the record the mutation is about, as text: the opinion's id, or the attendance
    /// record's key ([`AttendanceKey::id`](crate::followup::AttendanceKey::id)). The mutation log
    /// and the tablet's outbox index mutations by it.
    pub fn record_id(&self) -> String {
        match self {
            MutationKind::MarkAttendance { mark } => mark.key.id(),
            other => other
                .opinion_id()
                .map(|id| id.to_string())
                .unwrap_or_default(),
        }
    }
}

/// A new value for one editable field of an opinion. Each is its own last-writer-wins register.
/// The citizen's data is one register, not four: consent and anonymity constrain name, phone and
/// address together, and per-part merging could combine two valid edits into personal data
/// without consent.
///
/// The station, the deputy, the photos and the creation time are not here: they are fixed at
/// intake (photos will get their own append-only mutations).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", content = "value", rename_all = "snake_case")]
pub enum OpinionFieldValue {
    Category(String),
    Summary(String),
    Details(String),
    Place(String),
    OnSiteReply(String),
    Outcome(Outcome),
    Citizen(Citizen),
}

/// A push: the client's next mutations, oldest first, dense in seq.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    pub protocol: u32,
    /// The app's version (`1.4.2`), compared with the server's minimum.
    pub app_version: String,
    pub client_id: ClientId,
    pub mutations: Vec<Mutation>,
}

/// The server's answer to a push it accepted as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// Every mutation with a seq up to this one is dealt with: applied, or rejected and listed
    /// in `rejected`. The tablet may clear those outbox entries, and only those.
    pub acknowledged_through: Seq,
    /// Mutations refused for a business reason. They consumed their seq and will not be applied;
    /// the tablet shows them to the user instead of dropping them.
    pub rejected: Vec<Rejected>,
}

/// One mutation the server refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub seq: Seq,
    pub code: RejectCode,
    /// For logs and support; the UI shows the translation of `code` and of `errors`.
    pub message: String,
    /// For [`RejectCode::Invalid`]: what is wrong with which field, with the capture form's codes.
    #[serde(default, skip_serializing_if = "ValidationErrors::is_empty")]
    pub errors: ValidationErrors,
    /// For [`RejectCode::NotAllowed`]: why the lifecycle refused the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<TransitionError>,
}

/// Why a mutation was refused. Stable codes; the UI translates `reject.<code>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// A field breaks the rules; see [`Rejected::errors`].
    Invalid,
    /// The mutation is about an opinion the server does not have.
    NotFound,
    /// The opinion was deleted; the edit was not applied.
    Deleted,
    /// An opinion with this id exists with other content.
    AlreadyExists,
    /// The user may not do this (decided by the server).
    Forbidden,
    /// The mutation is inconsistent in itself (e.g. one field set twice).
    Malformed,
    /// The follow-up step does not apply to the item as it stands now (see
    /// [`Rejected::transition`]): someone else moved it on first, or the role never takes it.
    NotAllowed,
    /// A code from a newer server. Old apps still show "rejected" rather than fail to read the
    /// whole response.
    #[serde(other)]
    Unknown,
}

impl RejectCode {
    pub fn code(self) -> &'static str {
        match self {
            RejectCode::Invalid => "invalid",
            RejectCode::NotFound => "not_found",
            RejectCode::Deleted => "deleted",
            RejectCode::AlreadyExists => "already_exists",
            RejectCode::Forbidden => "forbidden",
            RejectCode::Malformed => "malformed",
            RejectCode::NotAllowed => "not_allowed",
            RejectCode::Unknown => "unknown",
        }
    }
}

/// A push refused as a whole: nothing in it was applied or consumed, and the tablet keeps every
/// outbox entry. Suggested HTTP statuses: `Gap` 409, `AppTooOld` and `ProtocolUnsupported` 426,
/// `BatchTooLarge` 413, the others 422.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum PushError {
    /// The batch starts after a seq the server has not seen: resend from `expected`.
    #[error("gap in the mutation sequence: expected seq {}", expected.0)]
    Gap { expected: Seq },
    /// The app must be updated; it keeps its outbox, and the new app replays it.
    #[error("app too old: at least version {minimum} is needed")]
    AppTooOld { minimum: String },
    /// The server does not speak the client's protocol version.
    #[error("protocol version not supported; this server speaks version {supported}")]
    ProtocolUnsupported { supported: u32 },
    /// Too many mutations in one push: send at most `max`.
    #[error("too many mutations in one push: at most {max}")]
    BatchTooLarge { max: usize },
    /// A mutation of a kind version this server does not know: the app is newer than the
    /// server, and the entry waits in the outbox until the server is updated.
    #[error("mutation {} is {kind} version {version}, which this server does not know", seq.0)]
    KindVersionUnsupported {
        seq: Seq,
        kind: String,
        version: u32,
    },
    /// The batch is inconsistent (a client bug): a mutation of another client, a clock of
    /// another node, seq 0, or seqs that are not consecutive.
    #[error("malformed push at seq {}: {reason}", seq.0)]
    Malformed { seq: Seq, reason: String },
}

/// A pull: changes committed after `cursor`, at most `limit` of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// Added beside the cursor and limit so the server can refuse a protocol it cannot serve
    /// instead of sending changes the app would misread.
    pub protocol: u32,
    pub cursor: Cursor,
    pub limit: u32,
}

impl PullRequest {
    /// The page size the server uses: the client's, at least 1 and at most [`MAX_PULL_LIMIT`].
    pub fn effective_limit(&self) -> u32 {
        self.limit.clamp(1, MAX_PULL_LIMIT)
    }
}

/// One page of changes. The tablet writes the changes **and** `next_cursor` in one IndexedDB
/// transaction, so a crash can never leave a cursor ahead of the data it stands for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    /// In cursor order.
    pub changes: Vec<Change>,
    /// The cursor to pull from next: the last change's, or the request's when there were none.
    pub next_cursor: Cursor,
    /// More changes are waiting: pull again at once.
    pub more: bool,
    /// The cursor is older than the tombstones the server still keeps, so deletions may have
    /// been missed. The tablet pushes its outbox first, then drops its synced copies and pulls
    /// from [`Cursor::START`]; it never discards unsynced work. `changes` is empty when set.
    pub reset_required: bool,
}

impl PullResponse {
    /// The page with every opinion's citizen [masked](OpinionReplica::with_citizen_masked):
    /// what the server sends. A tablet keeps and shows records masked only, so the clear name,
    /// phone and address have no reason to cross the network or sit in a response a proxy or a
    /// browser cache could keep; who needs them asks for one record's, for a stated purpose,
    /// and is audited.
    pub fn with_citizens_masked(mut self) -> PullResponse {
        for change in &mut self.changes {
            if let Change::Opinion { state, .. } = change {
                *state =
                    std::mem::replace(state, OpinionReplica::new(state.id())).with_citizen_masked();
            }
        }
        self
    }
}

/// A record as it stands after a commit. The server sends the whole merged state of a changed
/// record, once per page at its latest cursor, not every mutation that led there: a record
/// edited a hundred times while a tablet was offline costs one change.
// An opinion's state is bigger than an attendance record; changes live briefly in one page's
// `Vec`, where boxing would cost an allocation per change for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    Opinion {
        cursor: Cursor,
        state: OpinionReplica,
    },
    /// A deputy's attendance on a day, merged from every tablet's marks.
    Attendance { cursor: Cursor, state: Attendance },
}

impl Change {
    pub fn cursor(&self) -> Cursor {
        match self {
            Change::Opinion { cursor, .. } | Change::Attendance { cursor, .. } => *cursor,
        }
    }
}

/// Whether a client pulling from `cursor` must reset, given that the server has purged
/// tombstones committed at or before `purged_through`. A client starting from the beginning has
/// nothing a purged tombstone could have deleted, so it never needs to.
pub fn reset_required(cursor: Cursor, purged_through: Cursor) -> bool {
    cursor != Cursor::START && cursor < purged_through
}

/// Checks the client's protocol and app version before anything else is looked at. A version
/// that cannot be read counts as too old: the answer "update the app" is right for it.
pub fn check_compat(
    protocol: u32,
    app_version: &str,
    minimum_app_version: &str,
) -> Result<(), PushError> {
    if protocol != PROTOCOL_VERSION {
        return Err(PushError::ProtocolUnsupported {
            supported: PROTOCOL_VERSION,
        });
    }
    let too_old = match (
        parse_version(app_version),
        parse_version(minimum_app_version),
    ) {
        (Some(app), Some(minimum)) => app < minimum,
        (None, _) => true,
        // A misconfigured minimum must not lock every tablet out.
        (Some(_), None) => false,
    };
    if too_old {
        return Err(PushError::AppTooOld {
            minimum: minimum_app_version.to_owned(),
        });
    }
    Ok(())
}

/// `1.4.2`, `1.4.2-beta.1` or `1.4.2+build` as `[1, 4, 2]`. Pre-release tags are ignored: a
/// minimum is about what the app can do, and a beta of 1.4.2 has 1.4.2's protocol code.
fn parse_version(text: &str) -> Option<Vec<u64>> {
    let core = text.trim().split(['-', '+']).next()?;
    let parts: Option<Vec<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty())
}

/// What the server does with one mutation of a push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Dealt with before (the client resent it after a lost response): do nothing.
    Skip,
    /// New: authorise and validate it, then apply it or record its rejection. Either way its
    /// seq is consumed.
    Apply,
}

/// The server's decision for a whole push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPlan {
    /// One per mutation, in order.
    pub dispositions: Vec<Disposition>,
    /// The client's `last_seq` once the batch is processed; what the response acknowledges.
    pub acknowledged_through: Seq,
}

/// The server's bookkeeping rule for a push, given the `last_seq` it stored for the client.
///
/// Mutations with `seq <= last_seq` were dealt with and are skipped, which makes resending
/// harmless. The first new seq must be `last_seq + 1` (else [`PushError::Gap`]: applying it would
/// lose whatever sits in between), and the batch must be consecutive throughout. The server calls
/// this inside the transaction that holds the client's `last_seq` row, so two uploads of the same
/// client cannot both apply a mutation.
pub fn plan_push(
    client_id: ClientId,
    last_seq: Seq,
    mutations: &[Mutation],
) -> Result<PushPlan, PushError> {
    if mutations.len() > MAX_PUSH_MUTATIONS {
        return Err(PushError::BatchTooLarge {
            max: MAX_PUSH_MUTATIONS,
        });
    }
    let malformed = |seq: Seq, reason: &str| PushError::Malformed {
        seq,
        reason: reason.to_owned(),
    };
    let mut previous: Option<Seq> = None;
    for m in mutations {
        if m.client_id != client_id {
            return Err(malformed(m.seq, "mutation of another client"));
        }
        if m.hlc.node != client_id {
            return Err(malformed(m.seq, "stamp of another client's clock"));
        }
        if m.seq == Seq::NONE {
            return Err(malformed(m.seq, "seq starts at 1"));
        }
        if previous.is_some_and(|p| m.seq != p.next()) {
            return Err(malformed(m.seq, "seqs in a push must be consecutive"));
        }
        if m.kind_version != m.kind.kind_version() {
            return Err(PushError::KindVersionUnsupported {
                seq: m.seq,
                kind: m.kind.name().to_owned(),
                version: m.kind_version,
            });
        }
        previous = Some(m.seq);
    }
    if let Some(first) = mutations.first()
        && first.seq > last_seq.next()
    {
        return Err(PushError::Gap {
            expected: last_seq.next(),
        });
    }
    Ok(PushPlan {
        dispositions: mutations
            .iter()
            .map(|m| {
                if m.seq <= last_seq {
                    Disposition::Skip
                } else {
                    Disposition::Apply
                }
            })
            .collect(),
        acknowledged_through: previous.map_or(last_seq, |p| p.max(last_seq)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::citizen::{CONSENT_NOTICE_VERSION, Consent, Phone};
    use crate::error::{Field, FieldError};
    use crate::ids::PhotoId;
    use crate::opinion::{PhotoRef, RedirectChannel};

    const GOLDEN_PUSH: &str = include_str!("../../tests/golden/push_request_v1.json");

    fn client() -> ClientId {
        ClientId::new_v7(1_767_225_600_000, [0x11; 10])
    }

    fn stamp(wall_ms: u64, counter: u32) -> Hlc {
        Hlc {
            wall_ms,
            counter,
            node: client(),
        }
    }

    fn opinion_id() -> OpinionId {
        OpinionId::new_v7(1_767_225_601_000, [0x22; 10])
    }

    fn opinion() -> Opinion {
        Opinion {
            id: opinion_id(),
            station_id: "st-1".into(),
            deputy_id: "dep-1".into(),
            category: "parking".into(),
            summary: "小区停车难".into(),
            details: "晚上车位不够".into(),
            place: "幸福里社区".into(),
            citizen: Citizen {
                anonymous: false,
                name: Some("张三".into()),
                phone: Phone::parse("13812341234"),
                address: None,
                consent: Some(Consent {
                    notice_version: CONSENT_NOTICE_VERSION.into(),
                    given_at_ms: 1_767_225_601_000,
                }),
            },
            on_site_reply: "已联系物业".into(),
            outcome: Outcome::AnsweredOnSpot,
            photos: vec![PhotoRef {
                id: PhotoId::new_v7(1_767_225_601_500, [0x33; 10]),
                mime: "image/jpeg".into(),
                width: 1600,
                height: 1200,
                bytes: 250_000,
            }],
            created_at_ms: 1_767_225_601_000,
        }
    }

    fn golden_request() -> PushRequest {
        PushRequest {
            protocol: PROTOCOL_VERSION,
            app_version: "0.1.0".into(),
            client_id: client(),
            mutations: vec![
                Mutation::new(
                    client(),
                    Seq(1),
                    stamp(1_767_225_601_000, 0),
                    MutationKind::CreateOpinion {
                        opinion: Box::new(opinion()),
                    },
                ),
                Mutation::new(
                    client(),
                    Seq(2),
                    stamp(1_767_225_601_000, 1),
                    MutationKind::SetOpinionFields {
                        id: opinion_id(),
                        fields: vec![
                            OpinionFieldValue::Summary("小区夜间停车难".into()),
                            OpinionFieldValue::Outcome(Outcome::NotAccepted {
                                channel: RedirectChannel::Hotline12345,
                            }),
                            OpinionFieldValue::Citizen(Citizen {
                                anonymous: true,
                                ..Citizen::default()
                            }),
                        ],
                    },
                ),
                Mutation::new(
                    client(),
                    Seq(3),
                    stamp(1_767_225_602_000, 0),
                    MutationKind::DeleteOpinion { id: opinion_id() },
                ),
            ],
        }
    }

    fn mutation(seq: u64) -> Mutation {
        Mutation::new(
            client(),
            Seq(seq),
            stamp(1_000 + seq, 0),
            MutationKind::DeleteOpinion { id: opinion_id() },
        )
    }

    fn batch(seqs: std::ops::RangeInclusive<u64>) -> Vec<Mutation> {
        seqs.map(mutation).collect()
    }

    #[test]
    fn push_request_matches_the_golden_wire_format() {
        let request = golden_request();
        let json = serde_json::to_string_pretty(&request).unwrap();
        assert_eq!(
            json,
            GOLDEN_PUSH.trim_end(),
            "the wire format changed: if intended, bump the version and update the golden file"
        );
        let parsed: PushRequest = serde_json::from_str(GOLDEN_PUSH).unwrap();
        assert_eq!(parsed, request);
    }

    #[test]
    fn responses_and_errors_round_trip_through_json() {
        let response = PushResponse {
            acknowledged_through: Seq(7),
            rejected: vec![
                Rejected {
                    seq: Seq(5),
                    code: RejectCode::Invalid,
                    message: "summary: required".into(),
                    errors: ValidationErrors(vec![(Field::Summary, FieldError::Required)]),
                    transition: None,
                },
                Rejected {
                    seq: Seq(6),
                    code: RejectCode::Deleted,
                    message: "deleted".into(),
                    errors: ValidationErrors::default(),
                    transition: None,
                },
            ],
        };
        let json = serde_json::to_string(&response).unwrap();
        assert!(json.contains(r#""errors":[["summary",{"code":"required"}]]"#));
        assert!(
            !json.contains(r#""code":"deleted","message":"deleted","errors""#),
            "empty errors are left out"
        );
        assert_eq!(
            serde_json::from_str::<PushResponse>(&json).unwrap(),
            response
        );

        for error in [
            PushError::Gap { expected: Seq(4) },
            PushError::AppTooOld {
                minimum: "0.2.0".into(),
            },
            PushError::ProtocolUnsupported { supported: 1 },
            PushError::BatchTooLarge { max: 200 },
            PushError::KindVersionUnsupported {
                seq: Seq(3),
                kind: "create_opinion".into(),
                version: 2,
            },
            PushError::Malformed {
                seq: Seq(3),
                reason: "x".into(),
            },
        ] {
            let json = serde_json::to_string(&error).unwrap();
            assert_eq!(serde_json::from_str::<PushError>(&json).unwrap(), error);
        }
        assert_eq!(
            serde_json::to_string(&PushError::Gap { expected: Seq(4) }).unwrap(),
            r#"{"error":"gap","expected":4}"#
        );

        let pull = PullResponse {
            changes: vec![Change::Opinion {
                cursor: Cursor(42),
                state: OpinionReplica::new(opinion_id()),
            }],
            next_cursor: Cursor(42),
            more: false,
            reset_required: false,
        };
        let json = serde_json::to_string(&pull).unwrap();
        assert!(json.starts_with(r#"{"changes":[{"type":"opinion","cursor":42,"state":"#));
        assert_eq!(serde_json::from_str::<PullResponse>(&json).unwrap(), pull);
        let request = PullRequest {
            protocol: PROTOCOL_VERSION,
            cursor: Cursor(42),
            limit: 100,
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"protocol":1,"cursor":42,"limit":100}"#
        );
    }

    #[test]
    fn a_reject_code_from_a_newer_server_reads_as_unknown() {
        let json = r#"{"seq":3,"code":"quota_exceeded","message":"later"}"#;
        let rejected: Rejected = serde_json::from_str(json).unwrap();
        assert_eq!(rejected.code, RejectCode::Unknown);
        assert!(rejected.errors.is_empty());
        assert_eq!(RejectCode::NotFound.code(), "not_found");
    }

    #[test]
    fn kinds_know_their_name_version_and_opinion() {
        let request = golden_request();
        let names: Vec<_> = request.mutations.iter().map(|m| m.kind.name()).collect();
        assert_eq!(
            names,
            ["create_opinion", "set_opinion_fields", "delete_opinion"]
        );
        for m in &request.mutations {
            assert_eq!(m.kind_version, 1);
            assert_eq!(m.kind.opinion_id(), Some(opinion_id()));
        }
    }

    #[test]
    fn a_first_push_applies_everything() {
        let plan = plan_push(client(), Seq::NONE, &batch(1..=3)).unwrap();
        assert_eq!(plan.dispositions, vec![Disposition::Apply; 3]);
        assert_eq!(plan.acknowledged_through, Seq(3));
    }

    #[test]
    fn a_resent_batch_skips_what_was_applied_and_applies_the_rest() {
        let plan = plan_push(client(), Seq(5), &batch(4..=7)).unwrap();
        use Disposition::*;
        assert_eq!(plan.dispositions, vec![Skip, Skip, Apply, Apply]);
        assert_eq!(plan.acknowledged_through, Seq(7));
    }

    #[test]
    fn a_fully_applied_batch_is_skipped_and_acknowledged_again() {
        let plan = plan_push(client(), Seq(9), &batch(4..=7)).unwrap();
        assert_eq!(plan.dispositions, vec![Disposition::Skip; 4]);
        assert_eq!(
            plan.acknowledged_through,
            Seq(9),
            "never acknowledges less than before"
        );
    }

    #[test]
    fn an_empty_push_acknowledges_what_the_server_has() {
        let plan = plan_push(client(), Seq(9), &[]).unwrap();
        assert!(plan.dispositions.is_empty());
        assert_eq!(plan.acknowledged_through, Seq(9));
    }

    #[test]
    fn a_batch_starting_after_a_gap_is_refused_with_the_expected_seq() {
        assert_eq!(
            plan_push(client(), Seq(5), &batch(7..=8)),
            Err(PushError::Gap { expected: Seq(6) })
        );
        assert_eq!(
            plan_push(client(), Seq::NONE, &batch(2..=2)),
            Err(PushError::Gap { expected: Seq(1) })
        );
    }

    #[test]
    fn a_batch_with_holes_or_repeats_is_malformed() {
        let mut holes = batch(6..=7);
        holes.push(mutation(9));
        assert!(matches!(
            plan_push(client(), Seq(5), &holes),
            Err(PushError::Malformed { seq: Seq(9), .. })
        ));
        let mut repeat = batch(6..=7);
        repeat.push(mutation(7));
        assert!(matches!(
            plan_push(client(), Seq(5), &repeat),
            Err(PushError::Malformed { seq: Seq(7), .. })
        ));
        let mut backwards = batch(6..=7);
        backwards.push(mutation(6));
        assert!(plan_push(client(), Seq(5), &backwards).is_err());
    }

    #[test]
    fn seq_zero_and_foreign_mutations_are_malformed() {
        assert!(matches!(
            plan_push(client(), Seq::NONE, &batch(0..=1)),
            Err(PushError::Malformed { seq: Seq(0), .. })
        ));
        let other = ClientId::new_v7(1, [9; 10]);
        let mut foreign = batch(1..=2);
        foreign[1].client_id = other;
        assert!(matches!(
            plan_push(client(), Seq::NONE, &foreign),
            Err(PushError::Malformed { seq: Seq(2), .. })
        ));
        let mut foreign_clock = batch(1..=2);
        foreign_clock[0].hlc.node = other;
        assert!(matches!(
            plan_push(client(), Seq::NONE, &foreign_clock),
            Err(PushError::Malformed { seq: Seq(1), .. })
        ));
    }

    #[test]
    fn an_unknown_kind_version_refuses_the_push_so_the_outbox_keeps_it() {
        let mut newer = batch(1..=2);
        newer[1].kind_version = 2;
        assert_eq!(
            plan_push(client(), Seq::NONE, &newer),
            Err(PushError::KindVersionUnsupported {
                seq: Seq(2),
                kind: "delete_opinion".into(),
                version: 2,
            })
        );
    }

    #[test]
    fn an_oversized_batch_is_refused() {
        let big = batch(1..=MAX_PUSH_MUTATIONS as u64 + 1);
        assert_eq!(
            plan_push(client(), Seq::NONE, &big),
            Err(PushError::BatchTooLarge {
                max: MAX_PUSH_MUTATIONS
            })
        );
        assert!(plan_push(client(), Seq::NONE, &big[..MAX_PUSH_MUTATIONS]).is_ok());
    }

    #[test]
    fn compat_checks_protocol_then_app_version() {
        assert_eq!(check_compat(PROTOCOL_VERSION, "0.1.0", "0.1.0"), Ok(()));
        assert_eq!(check_compat(PROTOCOL_VERSION, "0.10.0", "0.9.3"), Ok(()));
        assert_eq!(
            check_compat(PROTOCOL_VERSION, "1.0.0-beta.2", "1.0"),
            Ok(())
        );
        assert_eq!(
            check_compat(2, "0.1.0", "0.1.0"),
            Err(PushError::ProtocolUnsupported {
                supported: PROTOCOL_VERSION
            })
        );
        for old in ["0.0.9", "0.9.10", "", "dev"] {
            assert_eq!(
                check_compat(PROTOCOL_VERSION, old, "0.10.0"),
                Err(PushError::AppTooOld {
                    minimum: "0.10.0".into()
                }),
                "{old:?}"
            );
        }
        assert_eq!(
            check_compat(PROTOCOL_VERSION, "0.1.0", "garbage"),
            Ok(()),
            "a broken minimum does not lock tablets out"
        );
    }

    #[test]
    fn pull_limits_and_resets() {
        let pull = |limit| PullRequest {
            protocol: PROTOCOL_VERSION,
            cursor: Cursor::START,
            limit,
        };
        assert_eq!(pull(0).effective_limit(), 1);
        assert_eq!(pull(100).effective_limit(), 100);
        assert_eq!(pull(u32::MAX).effective_limit(), MAX_PULL_LIMIT);

        assert!(!reset_required(Cursor::START, Cursor(100)));
        assert!(reset_required(Cursor(99), Cursor(100)));
        assert!(!reset_required(Cursor(100), Cursor(100)));
        assert!(!reset_required(Cursor(5), Cursor::START));
        let change = Change::Opinion {
            cursor: Cursor(3),
            state: OpinionReplica::new(opinion_id()),
        };
        assert_eq!(change.cursor(), Cursor(3));
    }
}
