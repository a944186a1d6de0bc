//! Sync groundwork shared by the tablet and the server: the clock that orders edits, the wire
//! protocol, the rules a mutation must pass, and the merge that makes replicas converge.
//!
//! The flow these pieces are for: the tablet stamps each local change with its [`Clock`], applies
//! it to its own copy and records it as a numbered [`Mutation`] in its outbox, in one IndexedDB
//! transaction. A push sends the outbox; the server [`plan_push`]es the batch against the
//! client's `last_seq`, [`validate_mutation`]s each new mutation, [`clamp`]s its stamp and
//! [`apply`]s it, then acknowledges. A pull returns the merged state of records changed after the
//! tablet's [`Cursor`]; the tablet shows that state with its unacknowledged mutations on top.
//!
//! - [`hlc`]: hybrid logical clock stamps, and the server's clamp of clocks that run ahead.
//! - [`protocol`]: versioned push and pull messages, and the push bookkeeping rule.
//! - [`validate`]: the capture form's rules applied to mutations.
//! - [`client`]: the tablet's reading of push and pull answers, retry delays, and the view of a
//!   record (server state plus pending mutations).
//! - [`merge`]: per-field last-writer-wins replicas with final tombstones.

pub mod client;
pub mod hlc;
pub mod merge;
pub mod protocol;
pub mod validate;

pub use hlc::{Clamp, Clock, DEFAULT_MAX_AHEAD_MS, Hlc, HlcParseError, clamp};
pub use merge::{Lww, OpinionReplica, apply};
pub use protocol::{
    Change, Cursor, Disposition, MAX_PULL_LIMIT, MAX_PUSH_MUTATIONS, Mutation, MutationKind,
    OpinionFieldValue, PROTOCOL_VERSION, PullRequest, PullResponse, PushError, PushPlan,
    PushRequest, PushResponse, RejectCode, Rejected, Seq, check_compat, plan_push, reset_required,
};
pub use validate::{
    Rejection, validate_field, validate_mutation, validate_opinion, validate_set_fields,
};
