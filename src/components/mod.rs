//! Pieces shared by the screens.
pub mod duty;
pub mod export;
pub mod fetched;
pub mod figures;
pub mod header;
pub mod item;
pub mod lock;
pub mod period;
pub mod print;
pub mod sync_status;
pub mod unmask;
