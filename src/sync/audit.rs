//! The back office's privacy calls: the audit log (`GET /api/v1/audit`, a page of records with
//! the viewer's filters) and a citizen unmasked item by item
//! (`POST /api/v1/opinions/{id}/personal-data` with the purpose). Online only, read the way
//! [`super::office`] reads every answer. An unmasked citizen is never stored nor cached: the
//! server answers `no-store` and the page keeps it in memory while it shows it.

use super::api::{bearer, send};
use super::office::{OfficeError, get, read_answer, read_refusal};
use gloo_net::http::Request;
use liaison_domain::OpinionId;
use liaison_domain::audit::AuditRecord;
use liaison_domain::citizen::Citizen;
use serde::Deserialize;

/// How many records one page of the viewer asks for.
pub const AUDIT_PAGE: usize = 50;

/// The viewer's filters as typed and chosen (each empty when not set): an action code, an
/// actor's username, a station id, and days (`YYYY-MM-DD`, China time, both included). They
/// go into the page's address, so a filtered view can be bookmarked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilters {
    pub action: String,
    pub actor: String,
    pub station: String,
    pub from: String,
    pub to: String,
}

impl AuditFilters {
    /// The filters a page's address holds (`lookup` reads one query parameter).
    pub fn from_query(lookup: impl Fn(&str) -> Option<String>) -> AuditFilters {
        let read = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        AuditFilters {
            action: read("action"),
            actor: read("actor"),
            station: read("station"),
            from: read("from"),
            to: read("to"),
        }
    }

    fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("action", self.action.as_str()),
            ("actor", self.actor.trim()),
            ("station", self.station.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .collect()
    }
}

fn encode(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let joined: Vec<String> = pairs
        .iter()
        .map(|(name, value)| {
            format!(
                "{name}={}",
                String::from(js_sys::encode_uri_component(value))
            )
        })
        .collect();
    format!("?{}", joined.join("&"))
}

/// The query of one page of records: the set filters, `before` (the last id of the page
/// shown, for the older ones) and the page size.
pub fn audit_query_string(filters: &AuditFilters, before: Option<i64>) -> String {
    let mut pairs: Vec<(&str, String)> = filters
        .pairs()
        .into_iter()
        .map(|(name, value)| (name, value.to_owned()))
        .collect();
    if let Some(before) = before {
        pairs.push(("before", before.to_string()));
    }
    pairs.push(("limit", AUDIT_PAGE.to_string()));
    encode(&pairs)
}

/// The viewer's address with the set filters (`/audit`, `/audit?action=…`): what a bookmark
/// of the filtered view holds.
pub fn audit_address(filters: &AuditFilters) -> String {
    let pairs: Vec<(&str, String)> = filters
        .pairs()
        .into_iter()
        .map(|(name, value)| (name, value.to_owned()))
        .collect();
    format!("/audit{}", encode(&pairs))
}

/// One page of records, newest first: those below `before` when given.
pub async fn audit_records(
    token: &str,
    filters: &AuditFilters,
    before: Option<i64>,
) -> Result<Vec<AuditRecord>, OfficeError> {
    get(
        token,
        &format!("/api/v1/audit{}", audit_query_string(filters, before)),
    )
    .await
}

/// A citizen unmasked, as the server answers an unmasking.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PersonalData {
    pub opinion_id: OpinionId,
    pub citizen: Citizen,
}

/// The body of an unmasking: why the citizen's personal data is looked at.
pub fn unmask_body(purpose: &str) -> String {
    serde_json::json!({ "purpose": purpose }).to_string()
}

/// What the answer to an unmasking means: as [`read_answer`], except that a 403 saying this
/// role may not see personal data is [`OfficeError::Refused`] with that code (its words say so,
/// not "not allowed here").
pub fn read_unmask_answer(status: Option<u16>, body: &str) -> Result<PersonalData, OfficeError> {
    match status {
        Some(403) => Err(super::reports::read_export_refusal(403, body)),
        Some(status) if status != 200 => Err(read_refusal(status, body)),
        _ => read_answer(status, body),
    }
}

/// Asks for the citizen of item `id` unmasked, for `purpose` (checked by the domain's
/// [`check_unmask_purpose`](liaison_domain::account::check_unmask_purpose) first). The server
/// records the viewing before it answers.
pub async fn unmask(
    token: &str,
    id: OpinionId,
    purpose: &str,
) -> Result<PersonalData, OfficeError> {
    let answer = send(
        bearer(
            Request::post(&format!("/api/v1/opinions/{id}/personal-data")),
            token,
        ),
        Some(unmask_body(purpose)),
    )
    .await;
    match answer {
        Some((status, text)) => read_unmask_answer(Some(status), &text),
        None => read_unmask_answer(None, ""),
    }
}
