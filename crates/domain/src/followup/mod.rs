//! The follow-up loop: what happens to an opinion after intake, and the duty records around it.
//!
//! - [`lifecycle`]: the opinion lifecycle as a state machine over append-only steps
//!   ([`FollowUp`]), with who may take which step.
//! - [`calendar`]: dates, working days with public holidays and make-up days, and the three
//!   deadline colours.
//! - [`attendance`]: duty attendance keyed by `(station, deputy, day)` with merging marks, the
//!   roster and station events.
//! - [`ledger`]: the supervision ledger's query and rows, and the item view, as the server sends
//!   them to the back office and the handling units.

pub mod attendance;
pub mod calendar;
pub mod ledger;
pub mod lifecycle;

pub use attendance::{
    Activity, ActivityKind, Attendance, AttendanceError, AttendanceKey, AttendanceMark, Mark,
    RosterEntry,
};
pub use calendar::{
    CHINA_UTC_OFFSET_MINUTES, DUE_SOON_WORKING_DAYS, Date, DeadlineColour, Weekday, WorkCalendar,
    deadline_colour,
};
pub use ledger::{HandlingUnit, ItemView, LedgerQuery, LedgerRow, RegisterRow, StepRequest};
pub use lifecycle::{
    Action, ActionKind, Actor, Conclusion, Evaluation, FeedbackMethod, FollowUp, Lifecycle,
    NoteKind, Status, StatusKind, TransitionError, check_referral_deadline, check_step_time,
    role_may,
};
