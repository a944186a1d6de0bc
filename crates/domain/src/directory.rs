//! The directory: regions, stations and deputies. The tablet keeps a copy so that the duty
//! context (which station, which deputy on duty) can be chosen with no network.

use crate::category::Category;
use crate::ids::{DeputyId, RegionId, StationId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub id: RegionId,
    pub name: String,
    /// The region above this one (city above district above township); `None` at the top.
    pub parent_id: Option<RegionId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Station {
    pub id: StationId,
    pub region_id: RegionId,
    pub name: String,
    pub address: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deputy {
    pub id: DeputyId,
    pub name: String,
    /// The congress level, e.g. "区人大代表" (district people's congress).
    pub level: String,
    /// Stations where the deputy takes duty shifts.
    pub station_ids: Vec<StationId>,
}

/// Everything the tablet needs to fill in the duty context and the category list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub regions: Vec<Region>,
    pub stations: Vec<Station>,
    pub deputies: Vec<Deputy>,
    pub categories: Vec<Category>,
}

impl Directory {
    pub fn station(&self, id: &StationId) -> Option<&Station> {
        self.stations.iter().find(|s| &s.id == id)
    }

    pub fn deputy(&self, id: &DeputyId) -> Option<&Deputy> {
        self.deputies.iter().find(|d| &d.id == id)
    }

    /// The deputies who take duty at a station, in directory order.
    pub fn deputies_at<'a>(&'a self, station: &'a StationId) -> impl Iterator<Item = &'a Deputy> {
        self.deputies
            .iter()
            .filter(move |d| d.station_ids.contains(station))
    }
}
