//! Citizens' personal data: masked in every answer but the tablets' own pull, unmasked item by
//! item with a purpose and an audit record written first, and purged after the retention
//! period through the sync store (a new change the tablets pull), the opinion and its figures
//! kept. Also: control characters in pushed texts and ids, and the JSON depth limit.

use super::followup::{Loop, XINGFULI, create, intake, the_loop};
use super::sync::{count, scalar, text};
use super::{TestApp, assert_json_error, body_bytes, body_json};
use axum::http::{Method, StatusCode};
use liaison_domain::sync::{Change, MutationKind, PullResponse};
use liaison_domain::{OpinionId, OutcomeKind};
use liaison_server::privacy::purge_personal_data;
use serde_json::{Value, json};

const PHONE: &str = "13812341234";
const NAME: &str = "张三";
const ADDRESS: &str = "幸福里 3 号楼 2 单元";
const DAY_MS: i64 = 86_400_000;

/// An opinion of 幸福里 with the citizen's name, phone and address, pushed from the tablet.
async fn captured(l: &Loop, n: u8, seq: u64, outcome: OutcomeKind) -> OpinionId {
    let opinion = intake(n, XINGFULI, "deputy-demo-zhang", outcome);
    let id = opinion.id;
    let answer = l
        .app
        .push_ok(
            &l.tablet,
            l.tablet_client,
            vec![create(l.tablet_client, seq, opinion)],
        )
        .await;
    assert!(answer.rejected.is_empty(), "{answer:?}");
    id
}

impl TestApp {
    async fn unmask(
        &self,
        token: &str,
        id: OpinionId,
        purpose: &str,
    ) -> axum::http::Response<axum::body::Body> {
        self.call(
            Method::POST,
            &format!("/api/v1/opinions/{id}/personal-data"),
            Some(token),
            Some(json!({"purpose": purpose})),
        )
        .await
    }

    async fn audit_records(&self, token: &str, query: &str) -> Vec<Value> {
        let response = self
            .call(
                Method::GET,
                &format!("/api/v1/audit{query}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "audit{query}");
        body_json(response).await.as_array().unwrap().clone()
    }
}

fn assert_masked(body: &str, what: &str) {
    for secret in [PHONE, NAME, ADDRESS] {
        assert!(!body.contains(secret), "{what}: {secret} in {body}");
    }
}

#[tokio::test]
async fn every_answer_but_the_tablets_pull_masks_the_citizen_and_keeps_the_consent() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let today = super::followup::today();
    let period = format!("from={}&to={}", today.add_days(-1), today);
    for (token, uri) in [
        (&l.staff, format!("/api/v1/opinions/{id}")),
        (&l.office, format!("/api/v1/opinions/{id}")),
        (&l.admin, format!("/api/v1/opinions/{id}")),
        (&l.staff, "/api/v1/ledger".to_owned()),
        (&l.staff, format!("/api/v1/register?{period}")),
        (
            &l.staff,
            format!("/api/v1/exports/register?format=csv&{period}"),
        ),
        (&l.staff, "/api/v1/exports/ledger?format=csv".to_owned()),
        (
            &l.staff,
            format!("/api/v1/exports/register?format=csv&personal=false&{period}"),
        ),
    ] {
        let response = app.call(Method::GET, &uri, Some(token), None).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        let body = String::from_utf8(body_bytes(response).await).unwrap();
        assert_masked(&body, &uri);
        // The ledger shows no citizen at all; the others the masked line.
        if !uri.contains("ledger") {
            assert!(
                body.contains("138****1234"),
                "{uri}: the masked phone in {body}"
            );
        }
    }
    // The item view keeps the consent: which notice was shown and when.
    let view = body_json(
        app.call(
            Method::GET,
            &format!("/api/v1/opinions/{id}"),
            Some(&l.staff),
            None,
        )
        .await,
    )
    .await;
    let consent = &view["opinion"]["citizen"]["consent"];
    assert_eq!(
        consent["notice_version"],
        liaison_domain::citizen::CONSENT_NOTICE_VERSION
    );
    assert!(consent["given_at_ms"].as_u64().unwrap() > 0);
    // Asked for and permitted, the export carries it (and says so in the audit log).
    let uri = format!("/api/v1/exports/register?format=csv&personal=true&{period}");
    let response = app.call(Method::GET, &uri, Some(&l.staff), None).await;
    let body = String::from_utf8(body_bytes(response).await).unwrap();
    assert!(body.contains(PHONE) && body.contains(NAME), "{body}");
}

#[tokio::test]
async fn unmasking_shows_one_citizen_to_permitted_readers_and_is_audited_first() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured(&l, 1, 1, OutcomeKind::ToBeReferred).await;

    let response = app.unmask(&l.staff, id, "  回访群众  ").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(super::header(&response, "cache-control"), "no-store");
    let data = body_json(response).await;
    assert_eq!(data["opinion_id"], json!(id));
    assert_eq!(data["citizen"]["name"], NAME);
    assert_eq!(data["citizen"]["phone"], PHONE);
    assert_eq!(data["citizen"]["address"], ADDRESS);
    assert!(data["citizen"]["consent"]["notice_version"].is_string());

    let records = app
        .audit_records(&l.admin, "?action=unmask_personal_data")
        .await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record["username"], "staff-xingfuli");
    assert_eq!(record["station_id"], XINGFULI);
    assert_eq!(record["detail"]["opinion_id"], json!(id));
    assert_eq!(record["detail"]["purpose"], "回访群众");
    assert_eq!(
        record["detail"]["fields"],
        json!(["name", "phone", "address"])
    );
    assert_masked(&record.to_string(), "the audit record");

    // Office staff of the district may too; deputies and units may not, even where they read.
    assert_eq!(
        app.unmask(&l.office, id, "核实").await.status(),
        StatusCode::OK
    );
    let response = app.unmask(&l.tablet, id, "核实").await;
    assert_json_error(
        response,
        StatusCode::FORBIDDEN,
        "personal_data_not_permitted",
        "deputy",
    )
    .await;
    // Another station's staff and a unit it was never referred to: as if it did not exist.
    for token in [&l.heping, &l.housing, &l.wang] {
        let response = app.unmask(token, id, "核实").await;
        assert_json_error(response, StatusCode::NOT_FOUND, "not_found", "outsider").await;
    }
    // A purpose is needed, on one line.
    for purpose in ["", "   ", "回访\n第二行"] {
        let response = app.unmask(&l.staff, id, purpose).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{purpose:?}"
        );
        let body = body_json(response).await;
        assert_eq!(body["error"]["code"], "invalid");
        assert_eq!(body["error"]["errors"][0][0], "purpose");
    }
    let unmasked = app
        .audit_records(&l.admin, "?action=unmask_personal_data")
        .await;
    assert_eq!(unmasked.len(), 2, "refusals unmask nothing");
}

#[tokio::test]
async fn nothing_is_unmasked_when_the_audit_record_cannot_be_written() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    app.db
        .acquire()
        .await
        .unwrap()
        .query("DROP TABLE audit_log")
        .execute()
        .await
        .unwrap();
    let response = app.unmask(&l.staff, id, "回访").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = String::from_utf8(body_bytes(response).await).unwrap();
    assert_masked(&body, "the failed unmasking");
}

/// Archives `id` as 幸福里's staff (an opinion answered on the spot may be archived at once).
async fn archive(l: &Loop, id: OpinionId) {
    let response = l
        .app
        .call(
            Method::POST,
            &format!("/api/v1/opinions/{id}/steps"),
            Some(&l.staff),
            Some(json!({"action": "archive"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

fn now_ms() -> i64 {
    super::followup::now_ms() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_purge_clears_personal_data_through_the_change_feed_once() {
    let l = the_loop().await;
    let app = &l.app;
    let old = captured(&l, 1, 1, OutcomeKind::AnsweredOnSpot).await;
    let open = captured(&l, 2, 2, OutcomeKind::ToBeReferred).await;
    archive(&l, old).await;
    let tablet_before: PullResponse = app.pull(&l.tablet).await;
    let facts_before = count(&app.db, "opinion_facts").await;
    let counter_before = scalar(&app.db, "SELECT value FROM sync_counter").await;

    // Not yet: archived today, kept for 730 days.
    let report = purge_personal_data(&app.db, 730, 1095, now_ms())
        .await
        .unwrap();
    assert_eq!((report.archived, report.purged), (1, 0));

    // 731 days on, two instances purge at once: the opinion is purged once.
    let later = now_ms() + 731 * DAY_MS;
    let other = app.storage.open().await;
    let (a, b) = tokio::join!(
        purge_personal_data(&app.db, 730, 1095, later),
        purge_personal_data(&other, 730, 1095, later),
    );
    assert_eq!(a.unwrap().purged + b.unwrap().purged, 1);

    // The opinion, its history and its figures stay; the citizen is gone, the consent stays.
    let state = app.db.opinion_state(old).await.unwrap().unwrap();
    let opinion = state.opinion().unwrap();
    assert_eq!(
        (
            &opinion.citizen.name,
            &opinion.citizen.phone,
            &opinion.citizen.address
        ),
        (&None, &None, &None)
    );
    assert!(opinion.citizen.consent.is_some());
    assert!(state.steps().count() >= 1);
    assert_eq!(count(&app.db, "opinion_facts").await, facts_before);
    let open_state = app.db.opinion_state(open).await.unwrap().unwrap();
    assert!(
        open_state.opinion().unwrap().citizen.has_personal_data(),
        "not archived: kept"
    );

    // One new change: the tablet pulls the purged state after its cursor.
    assert_eq!(
        scalar(&app.db, "SELECT value FROM sync_counter").await,
        counter_before + 1
    );
    let response = app
        .call(
            Method::POST,
            "/api/v1/sync/pull",
            Some(&l.tablet),
            Some(json!({
                "protocol": liaison_domain::sync::PROTOCOL_VERSION,
                "cursor": tablet_before.next_cursor,
                "limit": 100,
            })),
        )
        .await;
    let pulled: PullResponse = serde_json::from_value(body_json(response).await).unwrap();
    let purged: Vec<_> = pulled
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Opinion { state, .. } => state.opinion(),
            Change::Attendance { .. } => None,
        })
        .collect();
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0].id, old);
    assert!(!purged[0].citizen.has_personal_data());

    // Each run is audited with its counts, by the system account.
    let runs = app.audit_records(&l.admin, "?action=retention_purge").await;
    assert_eq!(runs.len(), 3);
    assert_eq!(
        runs.iter()
            .map(|r| r["detail"]["purged"].as_u64().unwrap())
            .sum::<u64>(),
        1
    );
    assert!(runs.iter().all(|r| r["username"] == "system"));
    // A run purges nothing again.
    let report = purge_personal_data(&app.db, 730, 1095, later)
        .await
        .unwrap();
    assert_eq!(report.purged, 0);
    let kind: String = text(
        &app.db,
        "SELECT kind AS value FROM mutations WHERE client_id = \
         (SELECT server_client_id FROM users WHERE id = 'system') AND outcome = 'applied'",
    )
    .await;
    assert_eq!(
        kind,
        MutationKind::SetOpinionFields {
            id: old,
            fields: vec![]
        }
        .name()
    );
}

#[tokio::test]
async fn control_characters_in_pushed_texts_and_ids_are_refused_with_their_code() {
    let l = the_loop().await;
    let app = &l.app;
    let mut nul_summary = intake(1, XINGFULI, "deputy-demo-zhang", OutcomeKind::ToBeReferred);
    nul_summary.summary = "路灯\0不亮".into();
    let mut escape_name = intake(2, XINGFULI, "deputy-demo-zhang", OutcomeKind::ToBeReferred);
    escape_name.citizen.name = Some("张\u{1b}[2J三".into());
    let mut newline_place = intake(3, XINGFULI, "deputy-demo-zhang", OutcomeKind::ToBeReferred);
    newline_place.place = "一楼\n二楼".into();
    let mut nul_deputy = intake(4, XINGFULI, "deputy-demo-zhang", OutcomeKind::ToBeReferred);
    nul_deputy.deputy_id = "deputy-demo-zhang\0".into();
    let c = l.tablet_client;
    let answer = app
        .push_ok(
            &l.tablet,
            c,
            vec![
                create(c, 1, nul_summary),
                create(c, 2, escape_name),
                create(c, 3, newline_place),
                create(c, 4, nul_deputy),
            ],
        )
        .await;
    let errors: Vec<Value> = answer
        .rejected
        .iter()
        .map(|r| serde_json::to_value(&r.errors).unwrap())
        .collect();
    assert_eq!(
        errors,
        [
            json!([["summary", {"code": "control_character"}]]),
            json!([["citizen_name", {"code": "control_character"}]]),
            json!([["place", {"code": "control_character"}]]),
            json!([["deputy", {"code": "control_character"}]]),
        ]
    );
    assert_eq!(count(&app.db, "opinions").await, 0);
    // A line break stays allowed where the form has several lines.
    let mut details = intake(5, XINGFULI, "deputy-demo-zhang", OutcomeKind::ToBeReferred);
    details.details = "第一行\n第二行".into();
    let answer = app.push_ok(&l.tablet, c, vec![create(c, 5, details)]).await;
    assert!(answer.rejected.is_empty(), "{answer:?}");
}

#[tokio::test]
async fn json_nested_deeper_than_the_limit_is_refused_before_any_handler() {
    let l = the_loop().await;
    let app = &l.app;
    let nested = |depth: usize| {
        format!(
            "{{\"protocol\": 1, \"cursor\": 0, \"x\": {}1{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    };
    for (method, uri) in [
        (Method::POST, "/api/v1/sync/pull"),
        (Method::POST, "/api/v1/session"),
        (Method::PUT, "/api/v1/roster"),
    ] {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", l.staff))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(nested(33)))
            .unwrap();
        let response = app.request(request).await;
        assert_json_error(response, StatusCode::BAD_REQUEST, "json_too_deep", uri).await;
    }
    let request = axum::http::Request::post("/api/v1/sync/pull")
        .header("authorization", format!("Bearer {}", l.staff))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(nested(32)))
        .unwrap();
    let response = app.request(request).await;
    assert_ne!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "32 levels pass the limit"
    );
}
