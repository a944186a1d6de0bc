//! Pieces shared by the screens.
pub mod duty;
pub mod header;
pub mod item;
pub mod sync_status;
