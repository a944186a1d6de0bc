//! Account administration, nested under `/api/v1`, for administrators only (403 for anyone
//! else). Accounts are created by the command line (`liaison-server create-admin`, and the demo
//! accounts); here they are listed and changed:
//!
//! - `GET /accounts` → `[Account]`: every account (no password hashes), by username.
//! - `PUT /accounts/{username}` ([`AccountChange`]: `role`, `deputy_id` for a deputy,
//!   `unit_id` for a handling unit, `scopes`, `disabled`) → 200 [`Account`] as changed.
//!   Disabling ends the account's sessions at once. 404 for an unknown username; 422
//!   `unknown_scope` (a region or station that does not exist), `unknown_deputy`,
//!   `unknown_unit` (missing or not in the directory, for those roles), `own_account` (an
//!   administrator does not change or disable their own account: another administrator does).
//!
//! Every change writes an `account_changed` audit record with the account before and after,
//! in the request; when it cannot be written the answer is 500 (the change itself is already
//! committed then, and the log's failure is logged).

use crate::audit;
use crate::auth::{Auth, now_ms};
use crate::db::accounts::{Account, AccountChange};
use crate::db::audit::actions::ACCOUNT_CHANGED;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use liaison_domain::{Role, Scope};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(accounts))
        .route("/accounts/{username}", put(change))
}

fn admin_only(auth: &Auth) -> Result<(), AppError> {
    if auth.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// `GET /api/v1/accounts`.
async fn accounts(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<Account>>, AppError> {
    admin_only(&auth)?;
    Ok(Json(state.db.accounts().await?))
}

fn invalid(code: &'static str, message: &'static str) -> AppError {
    AppError::Invalid { code, message }
}

/// `PUT /api/v1/accounts/{username}`.
async fn change(
    State(state): State<AppState>,
    auth: Auth,
    Path(username): Path<String>,
    Json(change): Json<AccountChange>,
) -> Result<Json<Account>, AppError> {
    admin_only(&auth)?;
    let before = state
        .db
        .account(&username)
        .await?
        .ok_or(AppError::NotFound)?;
    if before.id == auth.user_id {
        return Err(invalid(
            "own_account",
            "Administrators do not change their own account",
        ));
    }
    let directory = state.db.directory().await?;
    let known = |scope: &Scope| match scope {
        Scope::Region(id) => directory.regions.iter().any(|r| &r.id == id),
        Scope::Station(id) => directory.station(id).is_some(),
    };
    if !change.scopes.iter().all(known) {
        return Err(invalid(
            "unknown_scope",
            "A scope names no region or station",
        ));
    }
    let deputy_known = change
        .deputy_id
        .as_ref()
        .is_some_and(|d| directory.deputy(d).is_some());
    if change.role == Role::Deputy && !deputy_known {
        return Err(invalid("unknown_deputy", "A deputy account needs a deputy"));
    }
    if change.role == Role::HandlingUnit {
        let units = state.db.units().await?;
        if !change
            .unit_id
            .as_ref()
            .is_some_and(|u| units.iter().any(|unit| &unit.id == u))
        {
            return Err(invalid(
                "unknown_unit",
                "A handling-unit account needs a unit",
            ));
        }
    }
    state
        .db
        .change_account(&before.id, &change, now_ms())
        .await?;
    let after = state
        .db
        .account(&before.username)
        .await?
        .ok_or(AppError::NotFound)?;
    audit::record(
        &state.db,
        &auth,
        ACCOUNT_CHANGED,
        None,
        json!({"account": after.username, "before": before, "after": after}),
    )
    .await?;
    tracing::info!(by = %auth.username, account = %after.username, "account changed");
    Ok(Json(after))
}
