//! The tablet's side of the protocol, as plain functions so they are tested natively: what an
//! HTTP answer to a push or a pull means for the outbox ([`read_push_answer`],
//! [`read_pull_answer`], and a photo upload's, [`read_photo_answer`]), how long to wait after a
//! failure ([`retry_delay_ms`]), and what the
//! tablet shows for a record ([`local_view`]).
//!
//! The rule behind every answer: **the outbox is only ever shortened by a 200 answer in our own
//! JSON shape.** Anything else (a network error, a 5xx, a captive portal's HTML page with 200, a
//! proxy's error page) leaves it as it is, so the worst a bad network can do is delay.

use crate::ids::OpinionId;
use crate::opinion::Opinion;
use crate::sync::merge::OpinionReplica;
use crate::sync::protocol::{Mutation, PullResponse, PushResponse, Seq};
use serde::Deserialize;

/// What the tablet does after a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushAnswer {
    /// The server took the batch: mark the rejected entries, then clear the outbox through
    /// `acknowledged_through`.
    Accepted(PushResponse),
    /// 413: send half as many mutations (one at a time, and still too large, is a [`Problem`]).
    HalveBatch,
    /// Not now: the server or the network is in trouble. Retry later with backoff.
    Retry(RetryReason),
    /// The tablet cannot go on without the user or an administrator.
    Stop(Problem),
}

/// What the tablet does after a pull.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullAnswer {
    Accepted(PullResponse),
    Retry(RetryReason),
    Stop(Problem),
}

/// Why a sync round will be retried by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryReason {
    /// No answer at all (no network, server down, connection cut).
    Unreachable,
    /// A 5xx, 408 or 429 answer.
    ServerBusy,
    /// An answer that is not the server's JSON: a captive portal or a proxy's page.
    NotOurServer,
}

impl RetryReason {
    /// Stable code; the UI translates `sync.retry.<code>`.
    pub fn code(self) -> &'static str {
        match self {
            RetryReason::Unreachable => "unreachable",
            RetryReason::ServerBusy => "server_busy",
            RetryReason::NotOurServer => "not_our_server",
        }
    }
}

/// Why sync stopped until someone acts. The outbox is kept in every case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// 401: nobody is signed in, or the session expired or was revoked.
    SignInNeeded,
    /// 426: this app version is too old for the server (or speaks another protocol).
    UpdateNeeded { minimum: Option<String> },
    /// 409 `gap`: the server is missing mutations this tablet no longer has (the server was
    /// restored from an old backup). Needs an administrator.
    ServerMissingData { expected: Seq },
    /// 409 `client_mismatch`: this device is bound to another sync identity.
    ClientMismatch,
    /// One mutation alone is larger than the server accepts.
    MutationTooLarge,
    /// The server refused the request as malformed (a bug, here or there). Needs support.
    Refused { code: String, message: String },
}

impl Problem {
    /// Stable code; the UI translates `sync.problem.<code>`.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::SignInNeeded => "sign_in_needed",
            Problem::UpdateNeeded { .. } => "update_needed",
            Problem::ServerMissingData { .. } => "server_missing_data",
            Problem::ClientMismatch => "client_mismatch",
            Problem::MutationTooLarge => "mutation_too_large",
            Problem::Refused { .. } => "refused",
        }
    }
}

/// The server's error shape: `{"error": {"code", "message", ...detail}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    expected: Option<Seq>,
    #[serde(default)]
    minimum: Option<String>,
}

/// The answer to a push, from its HTTP status and body. `None` for `status` means no answer
/// arrived (network error).
pub fn read_push_answer(status: Option<u16>, body: &str) -> PushAnswer {
    let Some(status) = status else {
        return PushAnswer::Retry(RetryReason::Unreachable);
    };
    match status {
        200 => match serde_json::from_str::<PushResponse>(body) {
            Ok(response) => PushAnswer::Accepted(response),
            Err(_) => PushAnswer::Retry(RetryReason::NotOurServer),
        },
        413 => PushAnswer::HalveBatch,
        _ => match read_refusal(status, body) {
            Ok(problem) => PushAnswer::Stop(problem),
            Err(reason) => PushAnswer::Retry(reason),
        },
    }
}

/// The answer to a pull, from its HTTP status and body (see [`read_push_answer`]).
pub fn read_pull_answer(status: Option<u16>, body: &str) -> PullAnswer {
    let Some(status) = status else {
        return PullAnswer::Retry(RetryReason::Unreachable);
    };
    if status == 200 {
        return match serde_json::from_str::<PullResponse>(body) {
            Ok(response) => PullAnswer::Accepted(response),
            Err(_) => PullAnswer::Retry(RetryReason::NotOurServer),
        };
    }
    match read_refusal(status, body) {
        Ok(problem) => PullAnswer::Stop(problem),
        Err(reason) => PullAnswer::Retry(reason),
    }
}

/// A non-200 answer: a [`Problem`] when it is the server's own refusal, else a reason to retry.
fn read_refusal(status: u16, body: &str) -> Result<Problem, RetryReason> {
    if status >= 500 || status == 408 || status == 429 {
        return Err(RetryReason::ServerBusy);
    }
    // Only our JSON error shape is believed: a hotel Wi-Fi answering 401 or 426 with its own
    // page must not sign the deputy out or ask for an update.
    let Ok(ErrorBody { error }) = serde_json::from_str::<ErrorBody>(body) else {
        return Err(RetryReason::NotOurServer);
    };
    Ok(match (status, error.code.as_str()) {
        (401, _) => Problem::SignInNeeded,
        (426, _) => Problem::UpdateNeeded {
            minimum: error.minimum,
        },
        (409, "gap") => Problem::ServerMissingData {
            expected: error.expected.unwrap_or(Seq::NONE),
        },
        (409, "client_mismatch") => Problem::ClientMismatch,
        _ => Problem::Refused {
            code: error.code,
            message: error.message,
        },
    })
}

/// What the tablet does with a photo after uploading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhotoAnswer {
    /// The server has it (now or from before): take it off the queue.
    Stored,
    /// Its opinion is not on the server (not pushed yet, or refused): leave it queued, go on
    /// with the next photo.
    NotYet,
    /// The server will never take it (too large, not an image, the id holds another picture,
    /// not allowed): keep it on the tablet, stop sending it.
    RefusedForGood {
        code: String,
    },
    Retry(RetryReason),
    Stop(Problem),
}

/// The answer to a photo upload of content `sha256` (hex), from its HTTP status and body. A
/// success counts only when the body is the server's JSON naming that content: a captive portal
/// also says 200.
pub fn read_photo_answer(status: Option<u16>, body: &str, sha256: &str) -> PhotoAnswer {
    #[derive(Deserialize)]
    struct Stored {
        sha256: String,
    }
    let Some(status) = status else {
        return PhotoAnswer::Retry(RetryReason::Unreachable);
    };
    match status {
        200 | 201 => match serde_json::from_str::<Stored>(body) {
            Ok(stored) if stored.sha256.eq_ignore_ascii_case(sha256) => PhotoAnswer::Stored,
            _ => PhotoAnswer::Retry(RetryReason::NotOurServer),
        },
        413 | 415 => PhotoAnswer::RefusedForGood {
            code: if status == 413 {
                "too_large"
            } else {
                "not_an_image"
            }
            .into(),
        },
        _ => match read_refusal(status, body) {
            Err(reason) => PhotoAnswer::Retry(reason),
            Ok(Problem::Refused { code, .. }) if code == "not_found" => PhotoAnswer::NotYet,
            // Cut off on the way: send it again.
            Ok(Problem::Refused { code, .. }) if code == "digest_mismatch" => {
                PhotoAnswer::Retry(RetryReason::Unreachable)
            }
            Ok(Problem::Refused { code, .. }) => PhotoAnswer::RefusedForGood { code },
            Ok(problem) => PhotoAnswer::Stop(problem),
        },
    }
}

/// First wait after a failure, in milliseconds.
pub const RETRY_FIRST_MS: u64 = 1_000;
/// Longest wait between attempts: a station that was offline all morning syncs within five
/// minutes of the network coming back even without an `online` event.
pub const RETRY_MAX_MS: u64 = 5 * 60 * 1_000;

/// How long to wait before attempt `failures + 1`, after `failures` failures in a row (at
/// least 1): doubling from [`RETRY_FIRST_MS`] up to [`RETRY_MAX_MS`], with the upper half
/// jittered by `random` (any `u32`) so that 200 tablets coming back after the same outage do not
/// all knock at once.
pub fn retry_delay_ms(failures: u32, random: u32) -> u64 {
    let exponent = failures.saturating_sub(1).min(20);
    let ceiling = RETRY_FIRST_MS
        .saturating_mul(1u64 << exponent)
        .min(RETRY_MAX_MS);
    let half = ceiling / 2;
    half + u64::from(random) % (ceiling - half + 1)
}

/// The record the tablet shows: the server's state (from the last pull; `None` before one) with
/// this tablet's unacknowledged mutations applied on top. `None` when the record is deleted or
/// not yet created. Rebuilt from both whenever either changes: merging a pulled state into the
/// local copy instead would keep a stamp the server had clamped winning forever (see
/// [`crate::sync::merge`]).
pub fn local_view(
    id: OpinionId,
    server_state: Option<&OpinionReplica>,
    pending: &[Mutation],
) -> Option<Opinion> {
    let mut view = server_state
        .cloned()
        .unwrap_or_else(|| OpinionReplica::new(id));
    for mutation in pending.iter().filter(|m| m.kind.opinion_id() == Some(id)) {
        view.apply(mutation);
    }
    view.opinion()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::citizen::Citizen;
    use crate::ids::ClientId;
    use crate::opinion::Outcome;
    use crate::sync::hlc::Hlc;
    use crate::sync::protocol::{MutationKind, OpinionFieldValue, RejectCode, Rejected};
    use crate::sync::{Cursor, Seq};
    use crate::{DeputyId, StationId};

    #[test]
    fn only_a_200_in_our_json_shape_is_accepted() {
        let body = r#"{"acknowledged_through": 7, "rejected": []}"#;
        assert_eq!(
            read_push_answer(Some(200), body),
            PushAnswer::Accepted(PushResponse {
                acknowledged_through: Seq(7),
                rejected: vec![]
            })
        );
        let portal = "<html><body>Welcome to Hotel Wi-Fi, please log in</body></html>";
        assert_eq!(
            read_push_answer(Some(200), portal),
            PushAnswer::Retry(RetryReason::NotOurServer)
        );
        assert_eq!(
            read_pull_answer(Some(200), portal),
            PullAnswer::Retry(RetryReason::NotOurServer)
        );
        assert_eq!(
            read_push_answer(Some(200), "{}"),
            PushAnswer::Retry(RetryReason::NotOurServer)
        );
    }

    #[test]
    fn rejections_come_back_with_the_acceptance() {
        let body = r#"{"acknowledged_through": 3, "rejected": [
            {"seq": 2, "code": "forbidden", "message": "not your station"}]}"#;
        let PushAnswer::Accepted(response) = read_push_answer(Some(200), body) else {
            panic!("accepted expected");
        };
        assert_eq!(
            response.rejected,
            vec![Rejected {
                seq: Seq(2),
                code: RejectCode::Forbidden,
                message: "not your station".into(),
                errors: Default::default(),
                transition: None,
            }]
        );
    }

    #[test]
    fn network_failures_and_server_trouble_are_retried() {
        assert_eq!(
            read_push_answer(None, ""),
            PushAnswer::Retry(RetryReason::Unreachable)
        );
        for status in [500, 502, 503, 504, 408, 429] {
            assert_eq!(
                read_push_answer(Some(status), "oops"),
                PushAnswer::Retry(RetryReason::ServerBusy),
                "{status}"
            );
            assert_eq!(
                read_pull_answer(Some(status), "oops"),
                PullAnswer::Retry(RetryReason::ServerBusy),
                "{status}"
            );
        }
    }

    #[test]
    fn a_413_halves_the_batch() {
        assert_eq!(read_push_answer(Some(413), ""), PushAnswer::HalveBatch);
        assert_eq!(
            read_push_answer(
                Some(413),
                r#"{"error":{"code":"batch_too_large","max":200}}"#
            ),
            PushAnswer::HalveBatch
        );
    }

    #[test]
    fn the_servers_refusals_stop_sync_with_a_reason() {
        let cases = [
            (
                401,
                r#"{"error":{"code":"unauthenticated","message":"Sign in"}}"#,
                Problem::SignInNeeded,
            ),
            (
                426,
                r#"{"error":{"code":"app_too_old","message":"update","minimum":"2.0.0"}}"#,
                Problem::UpdateNeeded {
                    minimum: Some("2.0.0".into()),
                },
            ),
            (
                426,
                r#"{"error":{"code":"protocol_unsupported","message":"x","supported":2}}"#,
                Problem::UpdateNeeded { minimum: None },
            ),
            (
                409,
                r#"{"error":{"code":"gap","message":"gap","expected":5}}"#,
                Problem::ServerMissingData { expected: Seq(5) },
            ),
            (
                409,
                r#"{"error":{"code":"client_mismatch","message":"x"}}"#,
                Problem::ClientMismatch,
            ),
            (
                422,
                r#"{"error":{"code":"malformed","message":"seqs","seq":3}}"#,
                Problem::Refused {
                    code: "malformed".into(),
                    message: "seqs".into(),
                },
            ),
        ];
        for (status, body, problem) in cases {
            assert_eq!(
                read_push_answer(Some(status), body),
                PushAnswer::Stop(problem.clone()),
                "{status} {body}"
            );
            assert_eq!(
                read_pull_answer(Some(status), body),
                PullAnswer::Stop(problem),
                "{status} {body}"
            );
        }
    }

    #[test]
    fn a_foreign_page_with_an_alarming_status_is_not_believed() {
        for status in [401, 403, 409, 422, 426, 404] {
            assert_eq!(
                read_push_answer(Some(status), "<html>Log in to the hotel Wi-Fi</html>"),
                PushAnswer::Retry(RetryReason::NotOurServer),
                "{status}"
            );
        }
    }

    #[test]
    fn a_page_of_changes_is_read() {
        let body = r#"{"changes": [], "next_cursor": 12, "more": false, "reset_required": false}"#;
        assert_eq!(
            read_pull_answer(Some(200), body),
            PullAnswer::Accepted(PullResponse {
                changes: vec![],
                next_cursor: Cursor(12),
                more: false,
                reset_required: false,
            })
        );
    }

    #[test]
    fn retry_delays_double_stay_jittered_and_are_capped() {
        assert!((500..=1_000).contains(&retry_delay_ms(1, 0)));
        assert_eq!(retry_delay_ms(1, 0), 500);
        assert_eq!(retry_delay_ms(1, 500), 1_000);
        assert!((1_000..=2_000).contains(&retry_delay_ms(2, 12_345)));
        assert!((4_000..=8_000).contains(&retry_delay_ms(4, u32::MAX)));
        for failures in [12, 30, 1_000, u32::MAX] {
            let delay = retry_delay_ms(failures, u32::MAX);
            assert!(
                (RETRY_MAX_MS / 2..=RETRY_MAX_MS).contains(&delay),
                "{delay}"
            );
        }
        // Zero failures is treated as one, never as no wait.
        assert!(retry_delay_ms(0, 0) >= 500);
    }

    #[test]
    fn a_photo_counts_as_stored_only_when_the_server_names_its_content() {
        let sha = "ab12";
        assert_eq!(
            read_photo_answer(Some(201), r#"{"id":"x","sha256":"AB12"}"#, sha),
            PhotoAnswer::Stored
        );
        assert_eq!(
            read_photo_answer(Some(200), r#"{"id":"x","sha256":"ab12"}"#, sha),
            PhotoAnswer::Stored
        );
        assert_eq!(
            read_photo_answer(Some(200), "<html>portal</html>", sha),
            PhotoAnswer::Retry(RetryReason::NotOurServer)
        );
        assert_eq!(
            read_photo_answer(Some(201), r#"{"id":"x","sha256":"ffff"}"#, sha),
            PhotoAnswer::Retry(RetryReason::NotOurServer)
        );
        assert_eq!(
            read_photo_answer(None, "", sha),
            PhotoAnswer::Retry(RetryReason::Unreachable)
        );
        assert_eq!(
            read_photo_answer(Some(503), "", sha),
            PhotoAnswer::Retry(RetryReason::ServerBusy)
        );
        assert_eq!(
            read_photo_answer(
                Some(404),
                r#"{"error":{"code":"not_found","message":"x"}}"#,
                sha
            ),
            PhotoAnswer::NotYet
        );
        assert_eq!(
            read_photo_answer(
                Some(422),
                r#"{"error":{"code":"digest_mismatch","message":"x"}}"#,
                sha
            ),
            PhotoAnswer::Retry(RetryReason::Unreachable)
        );
        for (status, body, code) in [
            (413, "", "too_large"),
            (415, "", "not_an_image"),
            (
                422,
                r#"{"error":{"code":"photo_conflict","message":"x"}}"#,
                "photo_conflict",
            ),
            (
                403,
                r#"{"error":{"code":"forbidden","message":"x"}}"#,
                "forbidden",
            ),
        ] {
            assert_eq!(
                read_photo_answer(Some(status), body, sha),
                PhotoAnswer::RefusedForGood { code: code.into() },
                "{status}"
            );
        }
        assert_eq!(
            read_photo_answer(
                Some(401),
                r#"{"error":{"code":"unauthenticated","message":"x"}}"#,
                sha
            ),
            PhotoAnswer::Stop(Problem::SignInNeeded)
        );
    }

    fn client() -> ClientId {
        ClientId::new_v7(1_767_225_600_000, [3; 10])
    }

    fn other_client() -> ClientId {
        ClientId::new_v7(1_767_225_600_000, [4; 10])
    }

    fn opinion(id: OpinionId) -> Opinion {
        Opinion {
            id,
            station_id: StationId("st-1".into()),
            deputy_id: DeputyId("dep-1".into()),
            category: "parking".into(),
            summary: "停车难".into(),
            details: String::new(),
            place: String::new(),
            citizen: Citizen::default(),
            outcome: Outcome::ToBeReferred,
            on_site_reply: String::new(),
            photos: vec![],
            created_at_ms: 1_767_225_601_000,
        }
    }

    fn stamp(node: ClientId, wall_ms: u64) -> Hlc {
        Hlc {
            wall_ms,
            counter: 0,
            node,
        }
    }

    #[test]
    fn the_view_is_the_server_state_with_pending_edits_on_top() {
        let id = OpinionId::new_v7(1_767_225_601_000, [9; 10]);
        let create = Mutation::new(
            other_client(),
            Seq(1),
            stamp(other_client(), 1_000),
            MutationKind::CreateOpinion {
                opinion: Box::new(opinion(id)),
            },
        );
        let mut server = OpinionReplica::new(id);
        server.apply(&create);
        let edit = |seq, wall_ms, summary: &str| {
            Mutation::new(
                client(),
                Seq(seq),
                stamp(client(), wall_ms),
                MutationKind::SetOpinionFields {
                    id,
                    fields: vec![OpinionFieldValue::Summary(summary.into())],
                },
            )
        };
        // Before any pull, a pending creation alone makes the record.
        assert_eq!(
            local_view(id, None, std::slice::from_ref(&create)),
            Some(opinion(id))
        );
        assert_eq!(local_view(id, None, &[]), None);
        // A pending edit shows on top of the server's state.
        let view = local_view(id, Some(&server), &[edit(1, 2_000, "新摘要")]).unwrap();
        assert_eq!(view.summary, "新摘要");
        // Mutations about other records are ignored.
        let other = OpinionId::new_v7(1_767_225_601_000, [8; 10]);
        assert_eq!(
            local_view(
                other,
                Some(&OpinionReplica::new(other)),
                &[edit(1, 2_000, "x")]
            ),
            None
        );
        // A pending edit older than the server's newer value loses, as on the server.
        let mut newer = server.clone();
        newer.apply(&Mutation::new(
            other_client(),
            Seq(2),
            stamp(other_client(), 3_000),
            MutationKind::SetOpinionFields {
                id,
                fields: vec![OpinionFieldValue::Summary("服务器".into())],
            },
        ));
        let view = local_view(id, Some(&newer), &[edit(1, 2_000, "旧")]).unwrap();
        assert_eq!(view.summary, "服务器");
        // A deleted record is not shown, whatever is pending.
        let mut deleted = server.clone();
        deleted.apply(&Mutation::new(
            other_client(),
            Seq(3),
            stamp(other_client(), 4_000),
            MutationKind::DeleteOpinion { id },
        ));
        assert_eq!(local_view(id, Some(&deleted), &[edit(1, 5_000, "x")]), None);
    }
}
