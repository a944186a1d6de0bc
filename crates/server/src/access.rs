//! Who may read and act on what, derived from the signed-in session: the rules the sync store
//! and the follow-up routes are given ([`SessionAuthority`] for every mutation, pushed or taken
//! online; [`may_read_item`] and [`may_act_on_item`] for the item views and the ledger;
//! [`may_see_unit`] for the unit list). The station rules are the domain's
//! ([`can_read_station`](liaison_domain::account::can_read_station) and
//! [`can_write_station`](liaison_domain::account::can_write_station) through
//! [`crate::sync::may_read`] and [`crate::sync::may_write`], which also confine a tablet session
//! to its device's station).
//!
//! A handling unit has no station scope: it reads an item only if a referral step ever named its
//! unit, and acts on it only where the lifecycle lets it ([`Lifecycle::check`]: the item must be
//! with its unit now). Everyone else reads and acts by the item's station.
//!
//! [`Lifecycle::check`]: liaison_domain::followup::Lifecycle::check

use crate::auth::Auth;
use crate::db::{PushAuthority, record_station};
use crate::sync::{may_read, may_write};
use liaison_domain::account::MAX_DEPTH;
use liaison_domain::followup::{Action, Actor, HandlingUnit};
use liaison_domain::sync::validate::Rejection;
use liaison_domain::sync::{MutationKind, OpinionReplica, RejectCode};
use liaison_domain::{
    Directory, Field, FieldError, RegionId, Role, Scope, StationId, UnitId, ValidationErrors,
};

/// The signed-in account as the author of follow-up steps.
pub fn actor(auth: &Auth) -> Actor {
    Actor {
        user_id: auth.user_id.clone(),
        name: auth.display_name.clone(),
        role: auth.role,
        unit_id: auth.unit_id.clone(),
    }
}

/// Whether a step's recorded author is this account. The name is not compared: it is the display
/// name when the step was taken, which may have changed since.
fn is_me(auth: &Auth, by: &Actor) -> bool {
    by.user_id == auth.user_id && by.role == auth.role && by.unit_id == auth.unit_id
}

/// Whether a referral step of the item ever named `unit`.
pub fn referred_to(replica: &OpinionReplica, unit: Option<&UnitId>) -> bool {
    let Some(unit) = unit else {
        return false;
    };
    replica
        .steps()
        .any(|step| matches!(&step.action, Action::Refer { unit_id, .. } if unit_id == unit))
}

/// The station of a stored opinion that is shown (not deleted, creation arrived).
fn item_station(replica: &OpinionReplica) -> Option<&StationId> {
    // A tombstone keeps no creation, so a deleted item has no station.
    replica.created().map(|o| &o.station_id)
}

/// May this session see the item at all? A unit: ever referred to it. Everyone else: its
/// station is readable. A deleted item is seen by nobody.
pub fn may_read_item(auth: &Auth, hierarchy: &Directory, replica: &OpinionReplica) -> bool {
    let Some(station) = item_station(replica) else {
        return false;
    };
    match auth.role {
        Role::HandlingUnit => referred_to(replica, auth.unit_id.as_ref()),
        _ => may_read(auth, hierarchy, station),
    }
}

/// May this session take steps on the item (which ones is the lifecycle's decision)? A unit:
/// the items it reads. Everyone else: its station is writable.
pub fn may_act_on_item(auth: &Auth, hierarchy: &Directory, replica: &OpinionReplica) -> bool {
    let Some(station) = item_station(replica) else {
        return false;
    };
    match auth.role {
        Role::HandlingUnit => referred_to(replica, auth.unit_id.as_ref()),
        _ => may_write(auth, hierarchy, station),
    }
}

/// The regions from `region` up to the top, bounded like the domain's scope walk (a cycle of
/// `parent_id`s ends it).
fn region_and_ancestors<'a>(hierarchy: &'a Directory, region: &'a RegionId) -> Vec<&'a RegionId> {
    let mut chain = vec![region];
    let mut current = region;
    while chain.len() < MAX_DEPTH {
        let parent = hierarchy
            .regions
            .iter()
            .find(|r| &r.id == current)
            .and_then(|r| r.parent_id.as_ref());
        match parent {
            Some(parent) if !chain.contains(&parent) => {
                chain.push(parent);
                current = parent;
            }
            _ => break,
        }
    }
    chain
}

/// May this session see the handling unit (to refer to it, or read its name)? An administrator
/// every one; a unit account its own; office staff the units of the regions their scopes cover;
/// and everyone the units of the regions above (or of) the stations they read, which is where
/// those stations' items are referred.
pub fn may_see_unit(auth: &Auth, hierarchy: &Directory, unit: &HandlingUnit) -> bool {
    match auth.role {
        Role::Admin => return true,
        Role::HandlingUnit => return auth.unit_id.as_ref() == Some(&unit.id),
        _ => {}
    }
    let unit_chain = region_and_ancestors(hierarchy, &unit.region_id);
    let in_scope_region = auth
        .scopes
        .iter()
        .any(|scope| matches!(scope, Scope::Region(region) if unit_chain.contains(&region)));
    in_scope_region
        || hierarchy.stations.iter().any(|station| {
            may_read(auth, hierarchy, &station.id)
                && region_and_ancestors(hierarchy, &station.region_id).contains(&&unit.region_id)
        })
}

/// The authorisation of every mutation a session makes, pushed from a tablet or taken online
/// (see [`PushAuthority`]). `hierarchy` needs the deputies (with their stations) when the push
/// holds attendance marks.
pub struct SessionAuthority<'a> {
    auth: &'a Auth,
    hierarchy: &'a Directory,
}

impl<'a> SessionAuthority<'a> {
    pub fn new(auth: &'a Auth, hierarchy: &'a Directory) -> Self {
        SessionAuthority { auth, hierarchy }
    }

    fn station_rule(&self, station: Option<&StationId>) -> Result<(), Rejection> {
        match station {
            Some(station) if !may_write(self.auth, self.hierarchy, station) => {
                Err(Rejection::new(RejectCode::Forbidden))
            }
            // No station: an edit of an opinion the server does not have; validation says so.
            _ => Ok(()),
        }
    }
}

impl PushAuthority for SessionAuthority<'_> {
    fn authorise(
        &self,
        mutation: &MutationKind,
        current: Option<&OpinionReplica>,
    ) -> Result<(), Rejection> {
        let forbidden = || Err(Rejection::new(RejectCode::Forbidden));
        match mutation {
            MutationKind::RecordFollowUp { step, .. } => {
                // A step is recorded under the account that took it; a tablet cannot sign one
                // with someone else's name, role or unit.
                if !is_me(self.auth, &step.by) {
                    return forbidden();
                }
                if self.auth.role == Role::HandlingUnit {
                    // Whether the unit holds the item now is the lifecycle's check; an item
                    // never referred to it does not exist for it.
                    return match current {
                        Some(replica) if referred_to(replica, self.auth.unit_id.as_ref()) => Ok(()),
                        _ => forbidden(),
                    };
                }
                self.station_rule(record_station(mutation, current))
            }
            MutationKind::MarkAttendance { mark } => {
                self.station_rule(Some(&mark.key.station_id))?;
                // A deputy signs in and out for itself; staff for any deputy of the station.
                if self.auth.role == Role::Deputy
                    && self.auth.deputy_id.as_ref() != Some(&mark.key.deputy_id)
                {
                    return forbidden();
                }
                let serves_here = self
                    .hierarchy
                    .deputy(&mark.key.deputy_id)
                    .is_some_and(|d| d.station_ids.contains(&mark.key.station_id));
                if !serves_here {
                    return Err(Rejection {
                        code: RejectCode::Invalid,
                        errors: ValidationErrors(vec![(Field::Deputy, FieldError::UnknownChoice)]),
                        transition: None,
                    });
                }
                Ok(())
            }
            MutationKind::CreateOpinion { .. }
            | MutationKind::SetOpinionFields { .. }
            | MutationKind::DeleteOpinion { .. } => {
                self.station_rule(record_station(mutation, current))
            }
        }
    }
}
