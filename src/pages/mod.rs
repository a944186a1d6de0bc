//! One module per route.
pub mod capture;
pub mod duty;
pub mod item;
pub mod ledger;
pub mod record;
pub mod records;
pub mod sync;
