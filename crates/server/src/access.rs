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
//! **Shared tablets.** A station's tablet is used by whoever is on duty: deputy A records steps
//! and attendance offline, signs out, and deputy B signs in, and the tablet pushes A's work under
//! B's session. So on a session bound to an enrolled device, a step may be signed by another
//! account if that account has signed in on this same device at some time (revoked and expired
//! sessions count) and its current role and unit are those the step records; the session must
//! still be allowed to write the device's station, and the rest (a unit's referral, the unit a
//! referral names, the lifecycle) is judged for the step's author. Attendance marks on a device
//! may be for any deputy who serves the device's station (the deputy on duty is picked on the
//! tablet without signing in). Off a device the rules stay strict: a step is signed by the
//! session's own account, and a deputy marks only its own attendance.
//!
//! A referral must name a unit its author may see ([`may_see_unit`]); another is refused as an
//! unknown unit, which tells nothing about units elsewhere.
//!
//! [`Lifecycle::check`]: liaison_domain::followup::Lifecycle::check

use crate::auth::{Auth, DeviceRef};
use crate::db::accounts::DeviceAccount;
use crate::db::{Db, PushAuthority, record_station};
use crate::sync::may_write;
use liaison_domain::account::{MAX_DEPTH, can_read_station};
use liaison_domain::followup::{Action, Actor, FollowUp, HandlingUnit};
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
    is_account(&auth.user_id, auth.role, auth.unit_id.as_ref(), by)
}

/// Whether `by` records this account with its current role and unit.
fn is_account(user_id: &str, role: Role, unit_id: Option<&UnitId>, by: &Actor) -> bool {
    by.user_id == user_id && by.role == role && by.unit_id.as_ref() == unit_id
}

/// An account as the read rules see it: its role, unit and scopes, and the device it is on.
/// The signed-in session ([`Viewer::of`]), or on a shared tablet another account that signed in
/// on the same device, placed on that device ([`Viewer::on_device`]).
pub(crate) struct Viewer<'a> {
    role: Role,
    unit_id: Option<&'a UnitId>,
    scopes: &'a [Scope],
    device: Option<&'a DeviceRef>,
}

impl<'a> Viewer<'a> {
    pub(crate) fn of(auth: &'a Auth) -> Self {
        Viewer {
            role: auth.role,
            unit_id: auth.unit_id.as_ref(),
            scopes: &auth.scopes,
            device: auth.device.as_ref(),
        }
    }

    fn on_device(account: &'a DeviceAccount, device: Option<&'a DeviceRef>) -> Self {
        Viewer {
            role: account.role,
            unit_id: account.unit_id.as_ref(),
            scopes: &account.scopes,
            device,
        }
    }

    /// The role and scopes, and on an enrolled device only the device's station (a shared
    /// tablet shows its own station).
    pub(crate) fn may_read(&self, hierarchy: &Directory, station: &StationId) -> bool {
        self.device.is_none_or(|d| &d.station_id == station)
            && can_read_station(self.role, self.scopes, station, hierarchy)
    }
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
        _ => Viewer::of(auth).may_read(hierarchy, station),
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
    viewer_may_see_unit(&Viewer::of(auth), hierarchy, unit)
}

fn viewer_may_see_unit(viewer: &Viewer, hierarchy: &Directory, unit: &HandlingUnit) -> bool {
    match viewer.role {
        Role::Admin => return true,
        Role::HandlingUnit => return viewer.unit_id == Some(&unit.id),
        _ => {}
    }
    let unit_chain = region_and_ancestors(hierarchy, &unit.region_id);
    let in_scope_region = viewer
        .scopes
        .iter()
        .any(|scope| matches!(scope, Scope::Region(region) if unit_chain.contains(&region)));
    in_scope_region
        || hierarchy.stations.iter().any(|station| {
            viewer.may_read(hierarchy, &station.id)
                && region_and_ancestors(hierarchy, &station.region_id).contains(&&unit.region_id)
        })
}

/// The authorisation of every mutation a session makes, pushed from a tablet or taken online
/// (see [`PushAuthority`]), with what it needs read beforehand ([`SessionAuthority::prepare`]).
pub struct SessionAuthority<'a> {
    auth: &'a Auth,
    hierarchy: &'a Directory,
    /// Every handling unit, when the mutations hold a referral (its unit must be one the author
    /// may see).
    units: Vec<HandlingUnit>,
    /// The accounts that ever signed in on the session's device, when the mutations hold a step
    /// signed by another account (see the module docs on shared tablets).
    device_accounts: Vec<DeviceAccount>,
}

impl<'a> SessionAuthority<'a> {
    /// The authority of `auth` over `mutations`, reading what they need: the handling units if
    /// one is a referral, the accounts of the session's device if one is a step signed by
    /// another account. `hierarchy` must hold the deputies (with their stations) when the
    /// mutations hold attendance marks.
    ///
    /// Read before the push's transaction: a unit added or an account's role changed meanwhile
    /// is seen by the next push. (Whether a referral's unit still exists is checked again inside
    /// the transaction.)
    pub async fn prepare<'m>(
        db: &Db,
        auth: &'a Auth,
        hierarchy: &'a Directory,
        mutations: impl IntoIterator<Item = &'m MutationKind>,
    ) -> Result<Self, sqlx::Error> {
        let (mut refers, mut signed_by_others) = (false, false);
        for mutation in mutations {
            if let MutationKind::RecordFollowUp { step, .. } = mutation {
                refers |= matches!(step.action, Action::Refer { .. });
                signed_by_others |= !is_me(auth, &step.by);
            }
        }
        let units = if refers {
            db.units().await?
        } else {
            Vec::new()
        };
        let device_accounts = match &auth.device {
            Some(device) if signed_by_others => db.device_accounts(&device.id).await?,
            _ => Vec::new(),
        };
        Ok(SessionAuthority {
            auth,
            hierarchy,
            units,
            device_accounts,
        })
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

    /// The account a step was recorded by, as the rules judge it, and whether it is another
    /// account than the session's: the session's own, or on an enrolled device another account
    /// that has signed in on it, with the role and unit the step records. `None`: nobody this
    /// session may push steps for.
    fn author(&self, by: &Actor) -> Option<(Viewer<'_>, bool)> {
        if is_me(self.auth, by) {
            return Some((Viewer::of(self.auth), false));
        }
        let device = self.auth.device.as_ref()?;
        self.device_accounts
            .iter()
            .find(|a| is_account(&a.user_id, a.role, a.unit_id.as_ref(), by))
            .map(|account| (Viewer::on_device(account, Some(device)), true))
    }

    /// A referral names a unit its author may see (the others are unknown to it).
    fn unit_rule(&self, author: &Viewer, step: &FollowUp) -> Result<(), Rejection> {
        let Action::Refer { unit_id, .. } = &step.action else {
            return Ok(());
        };
        let visible = self
            .units
            .iter()
            .any(|unit| &unit.id == unit_id && viewer_may_see_unit(author, self.hierarchy, unit));
        if visible {
            Ok(())
        } else {
            Err(Rejection {
                code: RejectCode::Invalid,
                errors: ValidationErrors(vec![(Field::Unit, FieldError::UnknownChoice)]),
                transition: None,
            })
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
                // with the name, role or unit of an account that never used it.
                let Some((author, on_behalf)) = self.author(&step.by) else {
                    return forbidden();
                };
                if author.role == Role::HandlingUnit {
                    // Whether the unit holds the item now is the lifecycle's check; an item
                    // never referred to it does not exist for it.
                    if !current.is_some_and(|r| referred_to(r, author.unit_id)) {
                        return forbidden();
                    }
                }
                // A unit's own session has no station scope; everyone else's, and any session
                // pushing for another account, must be allowed to write the item's station.
                if author.role != Role::HandlingUnit || on_behalf {
                    self.station_rule(record_station(mutation, current))?;
                }
                // A step taken before is answered as before (the store does not apply it
                // twice), whatever became of the units since.
                let repeated = current.is_some_and(|r| r.steps().any(|s| s.id == step.id));
                if !repeated {
                    self.unit_rule(&author, step)?;
                }
                Ok(())
            }
            MutationKind::MarkAttendance { mark } => {
                self.station_rule(Some(&mark.key.station_id))?;
                // Off a tablet a deputy signs in and out for itself. On a device (confined to
                // its station by the rule above) the deputy on duty is picked without signing
                // in, so any deputy serving the station, checked below.
                if self.auth.device.is_none()
                    && self.auth.role == Role::Deputy
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
