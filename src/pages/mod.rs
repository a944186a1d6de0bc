//! One module per route.
pub mod capture;
pub mod records;
pub mod sync;
