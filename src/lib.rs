//! The station tablet app: offline capture of citizens' opinions (Leptos, client-side rendered).
//!
//! - [`app`]: the root component; opens storage, provides [`state::AppState`], routes.
//! - [`pages`]: one module per route (`/` capture, `/records`, `/sync` account and sync status,
//!   `/ledger`, `/items/<id>`, `/duty`, `/dashboard` statistics, `/register` the printable
//!   reception register, `/station-figures` the tablet's offline figures).
//! - [`figures`]: periods, scopes and query strings of the statistics; the tablet's own figures.
//! - [`charts`]: the dashboard's charts, drawn by plotters into SVG.
//! - [`names`]: stations' names and categories' labels from the directory copy.
//! - [`components`]: the header (online state, language, update prompt), the duty picker, and
//!   the pieces the statistics pages share (periods, figures, print, export, loading).
//! - [`storage`]: the only module that touches IndexedDB.
//! - [`sync`]: the sync engine (sign-in, push and pull rounds, one uploader across tabs, status).
//! - [`i18n`]: Chinese and English texts from `locales/`.
//! - [`photo`]: camera photos downscaled in the browser.
//! - [`pwa`]: the service worker and the "update available" prompt.
//! - [`platform`]: time, random ids and other small browser wrappers.
//! - [`crypto`]: WebCrypto sealing (AES-GCM) and data keys wrapped by a PIN key (PBKDF2).
//! - [`protection`]: protected tablets: PIN set-up, unlocking (PIN, server key, tab resume),
//!   locking, and opening a locked account's waiting work for a push.
//! - [`web_locks`]: one uploader per device; a page frozen while it opened the database evicted.
//!
//! Validation, ids and the domain types come from `liaison-domain`, shared with the server.

pub mod app;
pub mod charts;
pub mod components;
pub mod crypto;
pub mod figures;
pub mod i18n;
pub mod names;
pub mod pages;
pub mod photo;
pub mod platform;
pub mod protection;
pub mod pwa;
pub mod state;
pub mod storage;
pub mod sync;
pub mod web_locks;

pub use app::App;
