//! One module per route.
pub mod audit;
pub mod capture;
pub mod dashboard;
pub mod duty;
pub mod item;
pub mod ledger;
pub mod record;
pub mod records;
pub mod register;
pub mod station_figures;
pub mod sync;
