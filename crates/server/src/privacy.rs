//! Citizens' personal data (PIPL): unmasking item by item, and the retention purge.
//!
//! Every answer of the API shows the citizen masked (the item view: name `张*`, phone and
//! address left out, the masked line beside; the ledger and the register: no citizen or the
//! masked line; exports: masked unless `personal=true` is asked and permitted). Consent (the
//! notice version and when it was given) is kept and shown with each opinion. The tablets' own
//! sync pull is the exception: a station's tablet holds its records whole, for offline work.
//!
//! - `POST /opinions/{id}/personal-data` `{"purpose": "回访群众"}` → 200 [`PersonalData`]: the
//!   citizen unmasked (name, phone, address, consent), `Cache-Control: no-store`. Only for an
//!   item the caller may read (404 otherwise, as for any unknown id) and a role that may unmask
//!   ([`may_unmask_personal_data`]: administrators, office and station staff; 403
//!   `personal_data_not_permitted` otherwise); the purpose is required, one line, at most 200
//!   characters (422 `invalid` with a `purpose` error). An `unmask_personal_data` audit record
//!   (who, which item, its station, the purpose, which fields were shown) is written first; if
//!   it cannot be, the answer is 500 and nothing is shown.
//!
//! **Retention.** [`purge_personal_data`] clears the name, phone and address of every opinion
//! archived more than [`Settings::retention_days`] ago (the last `archive` step's time); the
//! opinion, its history, its consent record and its figures stay. Each purge is a
//! `SetOpinionFields` mutation of the citizen made by the server under the `system` account's
//! sync client and stored through the sync store like any online step ([`Db::record_online`]),
//! so it gets a change number and the station's tablets pull the purged state. Its authority
//! applies it only while the stored citizen still has personal data, judged under the push
//! lock: several instances running the purge at once purge each opinion once. Each run writes
//! a `retention_purge` audit record with the count, and purges audit records older than
//! [`Settings::audit_retention_days`] (never younger than 180 days, [`Db::purge_audit`]).
//! [`run_daily`] runs it once a day in `serve`; `liaison-server purge-personal-data` runs it now.
//!
//! [`Settings::retention_days`]: crate::Settings::retention_days
//! [`Settings::audit_retention_days`]: crate::Settings::audit_retention_days
//! [`Db::record_online`]: crate::Db::record_online
//! [`Db::purge_audit`]: crate::Db::purge_audit

use crate::audit;
use crate::auth::{Auth, now_ms};
use crate::db::Db;
use crate::db::accounts::SYSTEM_USER_ID;
use crate::db::audit::actions::{RETENTION_PURGE, UNMASK};
use crate::error::AppError;
use crate::followup::readable_item;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use liaison_domain::account::{check_unmask_purpose, may_unmask_personal_data};
use liaison_domain::citizen::Citizen;
use liaison_domain::followup::{Action, StatusKind};
use liaison_domain::sync::validate::Rejection;
use liaison_domain::sync::{MutationKind, OpinionFieldValue, OpinionReplica, RejectCode};
use liaison_domain::{Field, OpinionId, ValidationErrors};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

pub fn router() -> Router<AppState> {
    Router::new().route("/opinions/{id}/personal-data", post(unmask))
}

#[derive(Deserialize)]
pub struct UnmaskRequest {
    pub purpose: String,
}

/// A citizen unmasked.
#[derive(Debug, Serialize, Deserialize)]
pub struct PersonalData {
    pub opinion_id: OpinionId,
    pub citizen: Citizen,
}

/// `POST /api/v1/opinions/{id}/personal-data`.
async fn unmask(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(request): Json<UnmaskRequest>,
) -> Result<Response, AppError> {
    let hierarchy = state.db.station_hierarchy().await?;
    let replica = readable_item(&state, &auth, &hierarchy, &id).await?;
    if !may_unmask_personal_data(auth.role) {
        return Err(AppError::Refused {
            code: "personal_data_not_permitted",
            message: "This account may not see citizens' personal data",
        });
    }
    let purpose = check_unmask_purpose(&request.purpose)
        .map_err(|e| AppError::InvalidFields(ValidationErrors(vec![(Field::Purpose, e)])))?;
    let opinion = replica.opinion().ok_or(AppError::NotFound)?;
    let citizen = opinion.citizen;
    let fields: Vec<&str> = [
        citizen.name.as_ref().map(|_| "name"),
        citizen.phone.as_ref().map(|_| "phone"),
        citizen.address.as_ref().map(|_| "address"),
    ]
    .into_iter()
    .flatten()
    .collect();
    // First the record; nothing is shown that the log does not hold.
    audit::record(
        &state.db,
        &auth,
        UNMASK,
        Some(&opinion.station_id.0),
        json!({"opinion_id": opinion.id, "purpose": purpose, "fields": fields}),
    )
    .await?;
    tracing::info!(user = %auth.username, opinion = %opinion.id, "personal data unmasked");
    let mut response = Json(PersonalData {
        opinion_id: opinion.id,
        citizen,
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

const DAY_MS: i64 = 86_400_000;

/// What one purge run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    /// Archived opinions looked at.
    pub archived: u64,
    /// Opinions whose personal data was cleared by this run.
    pub purged: u64,
    /// Audit records older than the audit retention deleted.
    pub audit_records_deleted: u64,
}

/// When the item was archived (its last `archive` step), if it is archived now.
fn archived_at(replica: &OpinionReplica) -> Option<u64> {
    let lifecycle = replica.lifecycle()?;
    if lifecycle.status.kind() != StatusKind::Archived {
        return None;
    }
    replica
        .steps()
        .filter(|step| matches!(step.action, Action::Archive))
        .map(|step| step.at_ms)
        .max()
}

/// The purge's authority: the citizen is cleared only while it still has personal data (under
/// the push lock, so a second instance's purge of the same opinion is refused, not repeated).
struct PurgeAuthority;

impl crate::db::PushAuthority for PurgeAuthority {
    fn authorise(
        &self,
        _mutation: &MutationKind,
        current: Option<&OpinionReplica>,
    ) -> Result<(), Rejection> {
        let has_personal_data = current
            .and_then(OpinionReplica::opinion)
            .is_some_and(|o| o.citizen.has_personal_data());
        if has_personal_data {
            Ok(())
        } else {
            Err(Rejection::new(RejectCode::AlreadyExists))
        }
    }
}

/// Clears the personal data of opinions archived more than `retention_days` before `now`,
/// purges old audit records, and audits the run (see the module docs).
pub async fn purge_personal_data(
    db: &Db,
    retention_days: u32,
    audit_retention_days: u32,
    now: i64,
) -> anyhow::Result<PurgeReport> {
    let cutoff = now.saturating_sub(i64::from(retention_days).saturating_mul(DAY_MS));
    let cutoff = u64::try_from(cutoff).unwrap_or(0);
    let client = db.server_client(SYSTEM_USER_ID).await?;
    let mut report = PurgeReport::default();
    for id in db.archived_opinions().await? {
        report.archived += 1;
        let Some(replica) = db.opinion_state(id).await? else {
            continue;
        };
        let due = archived_at(&replica).is_some_and(|at| at < cutoff);
        let Some(opinion) = replica
            .opinion()
            .filter(|o| due && o.citizen.has_personal_data())
        else {
            continue;
        };
        let purged = Citizen {
            anonymous: opinion.citizen.anonymous,
            name: None,
            phone: None,
            address: None,
            // What was shown and when stays on record; it names nobody.
            consent: opinion.citizen.consent.clone(),
        };
        let mutation = MutationKind::SetOpinionFields {
            id,
            fields: vec![OpinionFieldValue::Citizen(purged)],
        };
        let online = db
            .record_online(
                client,
                mutation,
                u64::try_from(now).unwrap_or(0),
                &PurgeAuthority,
            )
            .await
            .map_err(|failure| anyhow::anyhow!("purge of {id} failed: {failure}"))?;
        match online.answer.rejected.first() {
            None => report.purged += 1,
            // Another instance purged it meanwhile.
            Some(rejected) if rejected.code == RejectCode::AlreadyExists => {}
            Some(rejected) => {
                tracing::error!(opinion = %id, code = rejected.code.code(), "purge refused");
            }
        }
    }
    report.audit_records_deleted = db.purge_audit(audit_retention_days, now).await?;
    let mut conn = db.acquire().await?;
    crate::db::audit::insert(
        &mut conn.conn(),
        now,
        SYSTEM_USER_ID,
        None,
        "系统",
        RETENTION_PURGE,
        None,
        &json!({
            "retention_days": retention_days,
            "archived": report.archived,
            "purged": report.purged,
            "audit_records_deleted": report.audit_records_deleted,
        }),
    )
    .await?;
    tracing::info!(?report, "retention purge done");
    Ok(report)
}

/// Runs [`purge_personal_data`] a minute after start and then once a day, for as long as the
/// server runs; a failed run is logged and tried again the next day. Tablets of a purged
/// opinion's station are poked so that they pull the purged state at once.
pub async fn run_daily(state: AppState) {
    let mut interval = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(60),
        Duration::from_secs(24 * 60 * 60),
    );
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let settings = &state.settings;
        match purge_personal_data(
            &state.db,
            settings.retention_days,
            settings.audit_retention_days,
            now_ms(),
        )
        .await
        {
            Ok(report) if report.purged > 0 => {
                if let Ok(cursor) = state.db.latest_cursor().await {
                    state.events.announce(cursor);
                }
            }
            Ok(_) => {}
            Err(err) => tracing::error!(error = ?err, "retention purge failed"),
        }
    }
}
