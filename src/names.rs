//! How the pages name what the server and the records name by id or code: a station's name, a
//! category's label, from the directory copy on this device. One lookup each, so the ledger, the
//! register, the dashboard and the station figures never name the same thing two ways.

use liaison_domain::{Directory, StationId};

/// The station's name as the directory has it; its id when the directory does not know it
/// (yet: a copy older than the station).
pub fn station_name(directory: &Directory, id: &StationId) -> String {
    directory
        .station(id)
        .map_or_else(|| id.0.clone(), |s| s.name.clone())
}

/// The category's label in English (`english`) or Chinese, as the directory has it; `None` for a
/// code it does not know (the caller shows the code, or the server's own label).
pub fn category_label(directory: &Directory, code: &str, english: bool) -> Option<String> {
    directory
        .categories
        .iter()
        .find(|c| c.code == code)
        .map(|c| c.label(english).to_owned())
}
