//! The supervision ledger (工作台账) and the item view, as the server sends them. The back office
//! and the handling units work online against these; the tablet shows the same item view from
//! its own copy.

use crate::followup::calendar::{Date, DeadlineColour};
use crate::followup::lifecycle::{Action, ActionKind, FollowUp, Lifecycle, StatusKind};
use crate::ids::{DeputyId, FollowUpId, OpinionId, RegionId, StationId, UnitId};
use crate::opinion::{Opinion, OutcomeKind};
use serde::{Deserialize, Serialize};

/// A handling unit (承办单位).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingUnit {
    pub id: UnitId,
    pub name: String,
    /// The region whose office refers items to it.
    pub region_id: RegionId,
}

/// The ledger's filters. Every one is optional; the server narrows further to what the signed-in
/// account may see (a unit sees only what was ever referred to it). As query parameters:
/// `?station=&status=&category=&deputy=&unit=&from=&to=&colour=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station: Option<StationId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deputy: Option<DeputyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<UnitId>,
    /// Recorded on or after this day (China time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Date>,
    /// Recorded on or before this day (China time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<DeadlineColour>,
}

/// One line of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRow {
    pub opinion_id: OpinionId,
    pub station_id: StationId,
    pub deputy_id: DeputyId,
    pub category: String,
    pub summary: String,
    pub created_at_ms: u64,
    pub status: StatusKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<UnitId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Date>,
    /// While a unit holds it: on time, due soon or overdue, on the server's calendar today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<DeadlineColour>,
    /// Steps taken since intake.
    pub steps: u32,
}

/// One item with its whole history, and the steps the signed-in account may take now.
/// The citizen's personal data is masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemView {
    /// The opinion with its citizen's personal data removed (masked name, no phone, no address:
    /// a masked phone is not a phone); the masked form to show is `citizen_masked`.
    pub opinion: Opinion,
    /// The citizen as the viewer may see them, e.g. `张* 138****1234`; `None` when anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citizen_masked: Option<String>,
    pub lifecycle: Lifecycle,
    pub steps: Vec<FollowUp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<DeadlineColour>,
    pub available: Vec<ActionKind>,
}

/// A step taken online (`POST /api/v1/opinions/{id}/steps`): the server adds the time and the
/// actor, checks it with the same rule as a pushed one, and stores it the same way. For a
/// referral the server counts the deadline itself from `working_days` on its own calendar and
/// today (the browser's clock and calendar only preview it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRequest {
    /// Made by the page when the form opens, so that sending it again after a lost answer takes
    /// the step once. Without it the server makes one (and a resend is a second step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<FollowUpId>,
    #[serde(flatten)]
    pub action: Action,
}

/// One line of the reception register (接待登记簿): an opinion as it was recorded at intake, with
/// where it stands now. `GET /api/v1/register?from=&to=&station=|region=` (masked), and the
/// register exports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRow {
    pub opinion_id: OpinionId,
    /// The day it was recorded (China time).
    pub collected: Date,
    pub station_id: StationId,
    pub station_name: String,
    pub deputy_id: DeputyId,
    pub deputy_name: String,
    /// The citizen as the reader may see them: masked (`张* 138****1234`) unless personal data
    /// was asked for and allowed; empty when anonymous.
    pub citizen: String,
    pub category: String,
    pub summary: String,
    pub place: String,
    pub outcome: OutcomeKind,
    pub on_site_reply: String,
    pub status: StatusKind,
}
