//! The domain of deputy liaison stations, shared by the tablet app (wasm32) and the server.
//!
//! Pure Rust: no web-sys, no tokio, no clock and no random source of its own. Callers pass the
//! time and random bytes in, so the same rules run, and are tested, natively.
//!
//! - [`account`]: roles, scopes over the region → station hierarchy, and the authorisation rules.
//! - [`audit`]: the audit log's action codes and a record as the viewer reads it.
//! - [`ids`]: UUIDv7 identifiers made on the device.
//! - [`opinion`]: an opinion a citizen raised, the form's draft, and its validation.
//! - [`citizen`]: the citizen's optional personal data, phone parsing and masking.
//! - [`category`]: the configurable category list.
//! - [`directory`]: regions, stations and deputies (the duty context).
//! - [`error`]: validation errors as stable codes that the UI translates.
//! - [`followup`]: after intake: the lifecycle state machine with its append-only steps,
//!   working-day deadlines and their colours, attendance, and the ledger's wire types.
//! - [`figures`]: the reported figures (opinions collected, answered on the spot, handling and
//!   satisfaction rates, ...), each defined once, and the per-opinion facts they are counted from.
//! - [`protection`]: a shared tablet's PIN rules, wrong-PIN limit, key derivation parameters and
//!   idle lock (the encryption itself runs in the browser's WebCrypto).
//! - [`sync`]: what offline capture needs to converge: hybrid logical clocks, the versioned
//!   push/pull protocol, mutation validation by the form's rules, and the per-field merge.

pub mod account;
pub mod audit;
pub mod category;
pub mod citizen;
pub mod directory;
pub mod error;
pub mod figures;
pub mod followup;
pub mod ids;
pub mod opinion;
pub mod protection;
pub mod sync;
pub mod text;

pub use account::{Hierarchy, Role, Scope};
pub use category::{Category, default_categories};
pub use citizen::{Citizen, Phone};
pub use directory::{Deputy, Directory, Region, Station};
pub use error::{Field, FieldError, ValidationErrors};
pub use ids::{ClientId, DeputyId, FollowUpId, OpinionId, PhotoId, RegionId, StationId, UnitId};
pub use opinion::{
    DutyContext, Opinion, OpinionDraft, OpinionEdit, OpinionFilter, Outcome, OutcomeKind, PhotoRef,
    RedirectChannel, limits,
};
