//! Accounts: who a user is ([`Role`]), where they act ([`Scope`]), and the pure authorisation
//! rules over the region → station hierarchy ([`can_read_station`], [`can_write_station`],
//! [`can_manage_devices`]). The server runs these for every request; nothing here knows about
//! passwords, tokens or the database.
//!
//! A region scope covers every station in its subtree: a district's office staff see the stations
//! of each township below the district. The walk up from a station's region is bounded
//! ([`MAX_DEPTH`]), so a cycle of `parent_id`s in bad data ends in "not covered", never in a hang.

use crate::directory::Directory;
use crate::error::FieldError;
use crate::ids::{RegionId, StationId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a user does. Stored and sent as the snake_case name (`"station_staff"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the installation: every station, every account.
    Admin,
    /// Congress office staff (人大常委会代表工作机构): oversee the stations in their regions.
    OfficeStaff,
    /// Station head or liaison officer: keep the ledger, enrol the station's tablets.
    StationStaff,
    /// A deputy (人大代表) on duty at the stations in scope.
    Deputy,
    /// A handling unit (承办单位). It will see the items referred to it, not stations.
    HandlingUnit,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::OfficeStaff,
        Role::StationStaff,
        Role::Deputy,
        Role::HandlingUnit,
    ];

    /// The stored name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::OfficeStaff => "office_staff",
            Role::StationStaff => "station_staff",
            Role::Deputy => "deputy",
            Role::HandlingUnit => "handling_unit",
        }
    }

    /// The inverse of [`Role::as_str`].
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a user may act: a whole region (with every region and station below it) or one station.
/// JSON: `{"region": "region-id"}` or `{"station": "station-id"}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Region(RegionId),
    Station(StationId),
}

/// The part of the directory the rules need: which region a station is in, and each region's
/// parent. Implemented by [`Directory`]; the server may implement it over a lighter structure.
pub trait Hierarchy {
    fn station_region(&self, station: &StationId) -> Option<&RegionId>;
    fn region_parent(&self, region: &RegionId) -> Option<&RegionId>;
}

impl Hierarchy for Directory {
    fn station_region(&self, station: &StationId) -> Option<&RegionId> {
        self.station(station).map(|s| &s.region_id)
    }

    fn region_parent(&self, region: &RegionId) -> Option<&RegionId> {
        self.regions
            .iter()
            .find(|r| &r.id == region)
            .and_then(|r| r.parent_id.as_ref())
    }
}

/// The deepest hierarchy walked (city → district → township → ... is far shallower). Beyond it,
/// or on a cycle, a region scope does not cover the station.
pub const MAX_DEPTH: usize = 32;

/// Does one of `scopes` cover `station`? A station scope covers that station; a region scope
/// covers each station whose region is that region or lies below it. An unknown station is
/// covered by its own station scope only.
pub fn covers(scopes: &[Scope], station: &StationId, hierarchy: &impl Hierarchy) -> bool {
    if scopes
        .iter()
        .any(|s| matches!(s, Scope::Station(id) if id == station))
    {
        return true;
    }
    let mut region = hierarchy.station_region(station);
    for _ in 0..MAX_DEPTH {
        let Some(current) = region else {
            return false;
        };
        if scopes
            .iter()
            .any(|s| matches!(s, Scope::Region(id) if id == current))
        {
            return true;
        }
        region = hierarchy.region_parent(current);
    }
    false
}

/// May this user see the station's records? Administrators everywhere; office staff, station
/// staff and deputies where their scopes cover it; handling units never through a station (they
/// will see the items referred to their unit).
pub fn can_read_station(
    role: Role,
    scopes: &[Scope],
    station: &StationId,
    hierarchy: &impl Hierarchy,
) -> bool {
    match role {
        Role::Admin => true,
        Role::OfficeStaff | Role::StationStaff | Role::Deputy => covers(scopes, station, hierarchy),
        Role::HandlingUnit => false,
    }
}

/// May this user record or change the station's records? Today the same as reading: deputies
/// capture, staff correct and follow up. Kept separate so the two can part later.
pub fn can_write_station(
    role: Role,
    scopes: &[Scope],
    station: &StationId,
    hierarchy: &impl Hierarchy,
) -> bool {
    can_read_station(role, scopes, station, hierarchy)
}

/// May this role ask for citizens' personal data unmasked (in an export, and later on screen)?
/// Staff who keep the ledger and the office; never deputies on a shared tablet or handling units
/// (they reply through the station). Every unmasked export is written to the audit log.
pub fn may_unmask_personal_data(role: Role) -> bool {
    matches!(role, Role::Admin | Role::OfficeStaff | Role::StationStaff)
}

/// The longest purpose of an unmasking, in characters.
pub const MAX_PURPOSE_CHARS: usize = 200;

/// Why someone asks to see a citizen's personal data unmasked (回访, 核实身份, ...): required,
/// one line, at most [`MAX_PURPOSE_CHARS`]. Returned trimmed; it goes into the audit log.
pub fn check_unmask_purpose(purpose: &str) -> Result<String, FieldError> {
    let purpose = purpose.trim();
    if purpose.is_empty() {
        return Err(FieldError::Required);
    }
    if purpose.chars().count() > MAX_PURPOSE_CHARS {
        return Err(FieldError::TooLong {
            max: MAX_PURPOSE_CHARS,
        });
    }
    crate::text::check_single_line(purpose)?;
    Ok(purpose.to_owned())
}

/// May this role read the statistics? Everyone with stations in scope (the figures are counted
/// over the stations they may read); handling units have no stations.
pub fn may_read_figures(role: Role) -> bool {
    role != Role::HandlingUnit
}

/// May this user enrol (and revoke) the station's tablets? Station staff and above, in scope.
pub fn can_manage_devices(
    role: Role,
    scopes: &[Scope],
    station: &StationId,
    hierarchy: &impl Hierarchy,
) -> bool {
    match role {
        Role::Admin => true,
        Role::OfficeStaff | Role::StationStaff => covers(scopes, station, hierarchy),
        Role::Deputy | Role::HandlingUnit => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{Region, Station};

    fn region(id: &str, parent: Option<&str>) -> Region {
        Region {
            id: id.into(),
            name: id.to_owned(),
            parent_id: parent.map(Into::into),
        }
    }

    fn station(id: &str, region: &str) -> Station {
        Station {
            id: id.into(),
            region_id: region.into(),
            name: id.to_owned(),
            address: String::new(),
        }
    }

    /// city ─ district ─ street ─ st-street
    ///      │          └ st-district
    ///      └ other ─ st-other
    fn hierarchy() -> Directory {
        Directory {
            regions: vec![
                region("city", None),
                region("district", Some("city")),
                region("street", Some("district")),
                region("other", Some("city")),
            ],
            stations: vec![
                station("st-street", "street"),
                station("st-district", "district"),
                station("st-other", "other"),
            ],
            ..Directory::default()
        }
    }

    fn st(id: &str) -> StationId {
        id.into()
    }

    #[test]
    fn roles_round_trip_through_their_names_and_json() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(
                serde_json::to_string(&role).unwrap(),
                format!("\"{}\"", role.as_str())
            );
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(
            serde_json::to_value(Scope::Region("city".into())).unwrap(),
            serde_json::json!({"region": "city"})
        );
    }

    #[test]
    fn a_region_scope_covers_its_whole_subtree() {
        let h = hierarchy();
        let district = [Scope::Region("district".into())];
        assert!(covers(&district, &st("st-street"), &h), "two levels down");
        assert!(covers(&district, &st("st-district"), &h), "directly in it");
        assert!(!covers(&district, &st("st-other"), &h), "a sibling subtree");

        let city = [Scope::Region("city".into())];
        for s in ["st-street", "st-district", "st-other"] {
            assert!(covers(&city, &st(s), &h), "{s}");
        }
    }

    #[test]
    fn a_station_scope_covers_that_station_only() {
        let h = hierarchy();
        let scopes = [Scope::Station("st-street".into())];
        assert!(covers(&scopes, &st("st-street"), &h));
        assert!(!covers(&scopes, &st("st-district"), &h));
        assert!(!covers(&scopes, &st("unknown"), &h));
        assert!(!covers(&[], &st("st-street"), &h), "no scope, nothing");
    }

    #[test]
    fn a_narrower_region_does_not_cover_what_is_above_it() {
        let h = hierarchy();
        let street = [Scope::Region("street".into())];
        assert!(!covers(&street, &st("st-district"), &h));
        assert!(!covers(&street, &st("unknown"), &h));
    }

    #[test]
    fn a_cycle_in_the_hierarchy_ends_in_denial() {
        let mut h = hierarchy();
        h.regions = vec![region("a", Some("b")), region("b", Some("a"))];
        h.stations = vec![station("st-a", "a")];
        assert!(!covers(&[Scope::Region("city".into())], &st("st-a"), &h));
        assert!(covers(&[Scope::Region("b".into())], &st("st-a"), &h));
    }

    #[test]
    fn reading_and_writing_by_role() {
        let h = hierarchy();
        let scopes = [Scope::Region("district".into())];
        for role in [Role::OfficeStaff, Role::StationStaff, Role::Deputy] {
            assert!(
                can_read_station(role, &scopes, &st("st-street"), &h),
                "{role}"
            );
            assert!(
                can_write_station(role, &scopes, &st("st-street"), &h),
                "{role}"
            );
            assert!(
                !can_read_station(role, &scopes, &st("st-other"), &h),
                "{role}"
            );
            assert!(
                !can_write_station(role, &scopes, &st("st-other"), &h),
                "{role}"
            );
        }
        assert!(can_read_station(Role::Admin, &[], &st("st-other"), &h));
        assert!(can_write_station(Role::Admin, &[], &st("st-other"), &h));
        assert!(
            !can_read_station(Role::HandlingUnit, &scopes, &st("st-street"), &h),
            "handling units never read through a station scope"
        );
        assert!(!can_write_station(
            Role::HandlingUnit,
            &scopes,
            &st("st-street"),
            &h
        ));
    }

    #[test]
    fn an_unmasking_needs_a_one_line_purpose() {
        assert_eq!(
            check_unmask_purpose("  回访群众 ").as_deref(),
            Ok("回访群众")
        );
        assert_eq!(check_unmask_purpose(" "), Err(FieldError::Required));
        assert_eq!(
            check_unmask_purpose(&"因".repeat(MAX_PURPOSE_CHARS + 1)),
            Err(FieldError::TooLong {
                max: MAX_PURPOSE_CHARS
            })
        );
        assert_eq!(
            check_unmask_purpose("回访\n伪造的第二行"),
            Err(FieldError::ControlCharacter)
        );
    }

    #[test]
    fn managing_devices_needs_station_staff_or_above_in_scope() {
        let h = hierarchy();
        let street = [Scope::Station("st-street".into())];
        assert!(can_manage_devices(
            Role::StationStaff,
            &street,
            &st("st-street"),
            &h
        ));
        assert!(!can_manage_devices(
            Role::StationStaff,
            &street,
            &st("st-other"),
            &h
        ));
        assert!(can_manage_devices(
            Role::OfficeStaff,
            &[Scope::Region("city".into())],
            &st("st-other"),
            &h
        ));
        assert!(can_manage_devices(Role::Admin, &[], &st("st-other"), &h));
        assert!(!can_manage_devices(
            Role::Deputy,
            &street,
            &st("st-street"),
            &h
        ));
        assert!(!can_manage_devices(
            Role::HandlingUnit,
            &street,
            &st("st-street"),
            &h
        ));
    }
}
