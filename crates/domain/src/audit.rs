//! The audit log as both sides name it: the action codes the server writes (and the viewer
//! filters and names in words), and a record as `GET /api/v1/audit` sends it.

use crate::account::Role;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// May this role read the audit log? Administrators read all of it, office staff the records
/// about the stations their scopes cover; nobody else reads any.
pub fn may_read_audit_log(role: Role) -> bool {
    matches!(role, Role::Admin | Role::OfficeStaff)
}

/// The action codes of the audit log. The server writes these; the app's viewer offers them as
/// its filter and translates `audit.action.<code>`.
pub mod actions {
    pub const SIGN_IN: &str = "sign_in";
    /// A failed sign-in: `detail.username` is what was typed, `detail.reason` why.
    pub const SIGN_IN_FAILED: &str = "sign_in_failed";
    /// The failure that locked the account.
    pub const LOCKOUT: &str = "lockout";
    pub const SIGN_OUT: &str = "sign_out";
    pub const DEVICE_ENROLLED: &str = "device_enrolled";
    pub const DEVICE_REVOKED: &str = "device_revoked";
    /// `detail.purpose` is why, `detail.fields` what was shown.
    pub const UNMASK: &str = "unmask_personal_data";
    /// `detail.format`, `detail.personal` (whether personal data went out), `detail.rows`.
    pub const EXPORT_REGISTER: &str = "export_register";
    pub const EXPORT_LEDGER: &str = "export_ledger";
    /// A follow-up step (`detail.action` is the step's action code).
    pub const STEP: &str = "step";
    pub const ACCOUNT_CREATED: &str = "account_created";
    pub const ACCOUNT_CHANGED: &str = "account_changed";
    pub const RETENTION_PURGE: &str = "retention_purge";
    pub const AUDIT_PURGE: &str = "audit_purge";

    /// Every action code, in the order the viewer's filter lists them.
    pub const ALL: [&str; 14] = [
        SIGN_IN,
        SIGN_IN_FAILED,
        LOCKOUT,
        SIGN_OUT,
        DEVICE_ENROLLED,
        DEVICE_REVOKED,
        UNMASK,
        EXPORT_REGISTER,
        EXPORT_LEDGER,
        STEP,
        ACCOUNT_CREATED,
        ACCOUNT_CHANGED,
        RETENTION_PURGE,
        AUDIT_PURGE,
    ];
}

/// One record as the server sends it (`GET /api/v1/audit`) and the viewer reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Numbers the records in the order they were written; the next page is `before` the last.
    pub id: i64,
    /// Server time in milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    /// One of [`actions::ALL`] (a newer server may write others).
    pub action: String,
    /// The action's detail; its shape belongs to the action.
    #[serde(default)]
    pub detail: Value,
    /// The station the record is about; `None` for what belongs to no one station.
    #[serde(default)]
    pub station_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_administrators_and_office_staff_read_the_log() {
        let readers: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| may_read_audit_log(*r))
            .collect();
        assert_eq!(readers, vec![Role::Admin, Role::OfficeStaff]);
    }

    #[test]
    fn every_action_code_is_listed_once() {
        let mut codes = actions::ALL.to_vec();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), actions::ALL.len());
    }

    #[test]
    fn a_record_reads_as_the_server_sends_it() {
        let record: AuditRecord = serde_json::from_str(
            r#"{"id":7,"at_ms":1700000000000,"user_id":"u-1","username":"office",
                "display_name":"办公室","action":"unmask_personal_data",
                "detail":{"purpose":"回访"},"station_id":"st-a"}"#,
        )
        .unwrap();
        assert_eq!(record.id, 7);
        assert_eq!(record.detail["purpose"], "回访");
        assert_eq!(record.station_id.as_deref(), Some("st-a"));
    }
}
