//! The sync routes over HTTP (`POST /api/v1/sync/push`, `POST /api/v1/sync/pull`): bearer
//! tokens, authorisation by station (forbidden mutations rejected, pulls limited to readable
//! stations), the device ↔ sync-client binding, and the status of whole-push refusals.

use super::accounts::app_with_accounts;
use super::sync::{NOW, client, count, create, opinion_id, set, valid_opinion};
use super::{TestApp, assert_json_error, body_bytes, body_json, header};
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use liaison_domain::sync::{
    Change, Cursor, MAX_PUSH_MUTATIONS, Mutation, OpinionFieldValue, PROTOCOL_VERSION,
    PullResponse, PushRequest, PushResponse, RejectCode, Seq,
};
use liaison_domain::{ClientId, Opinion, Role};
use liaison_server::Settings;
use serde_json::{Value, json};
use tokio::task::JoinSet;

const PUSH: &str = "/api/v1/sync/push";
const PULL: &str = "/api/v1/sync/pull";

pub(super) fn push_body(client_id: ClientId, mutations: Vec<Mutation>) -> Value {
    serde_json::to_value(PushRequest {
        protocol: PROTOCOL_VERSION,
        app_version: Settings::DEFAULT_MIN_APP_VERSION.into(),
        client_id,
        mutations,
    })
    .unwrap()
}

fn pull_body(cursor: u64) -> Value {
    json!({"protocol": PROTOCOL_VERSION, "cursor": cursor, "limit": 500})
}

impl TestApp {
    async fn push(&self, token: &str, body: Value) -> Response<Body> {
        self.call(Method::POST, PUSH, Some(token), Some(body)).await
    }

    /// Pushes and expects a 200 [`PushResponse`].
    pub(super) async fn push_ok(
        &self,
        token: &str,
        client_id: ClientId,
        mutations: Vec<Mutation>,
    ) -> PushResponse {
        let response = self.push(token, push_body(client_id, mutations)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "cache-control"), "no-store");
        serde_json::from_value(body_json(response).await).unwrap()
    }

    pub(super) async fn pull(&self, token: &str) -> PullResponse {
        let response = self
            .call(Method::POST, PULL, Some(token), Some(pull_body(0)))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        serde_json::from_value(body_json(response).await).unwrap()
    }

    /// A raw JSON (or not) body, to test what serde refuses.
    async fn push_raw(&self, token: &str, body: &str) -> Response<Body> {
        let request = Request::post(PUSH)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        self.request(request).await
    }
}

fn pulled_opinions(response: &PullResponse) -> Vec<Opinion> {
    response
        .changes
        .iter()
        .filter_map(|change| match change {
            Change::Opinion { state, .. } => state.opinion(),
            Change::Attendance { .. } => None,
        })
        .collect()
}

/// `app_with_accounts` plus a handling unit.
async fn app() -> TestApp {
    let app = app_with_accounts().await;
    app.add_user("unit", Role::HandlingUnit, None, &[]).await;
    app
}

#[tokio::test]
async fn sync_routes_need_a_bearer_token() {
    let app = app().await;
    let body = push_body(client(1), vec![]);
    for (uri, body) in [(PUSH, body), (PULL, pull_body(0))] {
        let response = app.call(Method::POST, uri, None, Some(body.clone())).await;
        assert_json_error(response, StatusCode::UNAUTHORIZED, "unauthenticated", uri).await;
        let response = app
            .call(Method::POST, uri, Some("not-a-token"), Some(body))
            .await;
        assert_json_error(response, StatusCode::UNAUTHORIZED, "unauthenticated", uri).await;
    }
}

#[tokio::test]
async fn push_and_pull_round_trip_as_demo_station_staff() {
    let app = app().await;
    app.db
        .seed_demo_accounts(&liaison_server::Passwords::insecure_for_tests())
        .await
        .unwrap();
    let token = app.token_for("demo-station", "demo-station-2026").await;
    let c = client(1);
    let opinion = valid_opinion(opinion_id(1), "station-xingfuli");
    let response = app
        .push_ok(&token, c, vec![create(c, 1, 0, opinion.clone())])
        .await;
    assert_eq!(
        response,
        PushResponse {
            acknowledged_through: Seq(1),
            rejected: vec![],
        }
    );
    // The pull sends the citizen masked: the clear name and phone never cross the wire (who
    // needs them asks for one record's, for a purpose, audited: `privacy.rs`).
    let response = app
        .call(Method::POST, PULL, Some(&token), Some(pull_body(0)))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let raw = String::from_utf8(body_bytes(response).await).unwrap();
    assert!(opinion.citizen.phone.is_some() && opinion.citizen.name.is_some());
    for clear in ["13812341234", "张三"] {
        assert!(!raw.contains(clear), "{clear} in the pull: {raw}");
    }
    let pulled: PullResponse = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        pulled_opinions(&pulled),
        vec![opinion.with_citizen_masked()]
    );
    assert_eq!(pulled.next_cursor, Cursor(1));
    assert!(!pulled.more);

    // Pulling from the returned cursor gives nothing new.
    let response = app
        .call(Method::POST, PULL, Some(&token), Some(pull_body(1)))
        .await;
    let again: PullResponse = serde_json::from_value(body_json(response).await).unwrap();
    assert!(again.changes.is_empty());
    assert_eq!(again.next_cursor, Cursor(1));
}

#[tokio::test]
async fn a_mutation_for_another_station_is_rejected_forbidden_and_consumes_its_seq() {
    let app = app().await;
    let staff = app.token("staff-xingfuli", None).await;
    let device = body_json(app.enroll(&staff, "station-xingfuli").await).await;
    let device_token = device["device_token"].as_str().unwrap();
    let deputy = app.token("deputy-zhang", Some(device_token)).await;

    // The deputy's tablet: one opinion for its own station, one for 和平.
    let c = client(1);
    let response = app
        .push_ok(
            &deputy,
            c,
            vec![
                create(c, 1, 0, valid_opinion(opinion_id(1), "station-xingfuli")),
                create(c, 2, 1, valid_opinion(opinion_id(2), "station-heping")),
            ],
        )
        .await;
    assert_eq!(response.acknowledged_through, Seq(2), "seq 2 consumed");
    assert_eq!(response.rejected.len(), 1);
    assert_eq!(response.rejected[0].seq, Seq(2));
    assert_eq!(response.rejected[0].code, RejectCode::Forbidden);
    assert_eq!(count(&app.db, "opinions").await, 1, "only the allowed one");
    let outcomes: Vec<(i64, String, Option<String>)> = app
        .db
        .acquire()
        .await
        .unwrap()
        .query("SELECT seq, outcome, reject_code FROM mutations ORDER BY seq")
        .fetch_all()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get("seq").unwrap(),
                r.try_get("outcome").unwrap(),
                r.try_get("reject_code").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (1, "applied".into(), None),
            (2, "rejected".into(), Some("forbidden".into())),
        ]
    );

    // Resent: rejected again with the stored reason, nothing applied.
    let again = app
        .push_ok(
            &deputy,
            c,
            vec![create(
                c,
                2,
                1,
                valid_opinion(opinion_id(2), "station-heping"),
            )],
        )
        .await;
    assert_eq!(again, response);

    // Station staff (no device) may not write to another station either, nor edit or delete its
    // stored opinions.
    let office = app.token("office", None).await;
    let o = client(2);
    app.push_ok(
        &office,
        o,
        vec![create(
            o,
            1,
            0,
            valid_opinion(opinion_id(3), "station-heping"),
        )],
    )
    .await;
    let s = client(3);
    let response = app
        .push_ok(
            &staff,
            s,
            vec![
                create(s, 1, 0, valid_opinion(opinion_id(4), "station-heping")),
                set(
                    s,
                    2,
                    1,
                    opinion_id(3),
                    vec![OpinionFieldValue::Summary("改掉".into())],
                ),
                Mutation::new(
                    s,
                    Seq(3),
                    super::sync::stamp(s, 2),
                    liaison_domain::sync::MutationKind::DeleteOpinion { id: opinion_id(3) },
                ),
            ],
        )
        .await;
    assert_eq!(response.acknowledged_through, Seq(3));
    let codes: Vec<_> = response.rejected.iter().map(|r| (r.seq, r.code)).collect();
    assert_eq!(
        codes,
        vec![
            (Seq(1), RejectCode::Forbidden),
            (Seq(2), RejectCode::Forbidden),
            (Seq(3), RejectCode::Forbidden),
        ]
    );
    let heping = app.token("staff-heping", None).await;
    let pulled = pulled_opinions(&app.pull(&heping).await);
    assert_eq!(pulled.len(), 1);
    assert_eq!(pulled[0].id, opinion_id(3));
    assert_eq!(pulled[0].summary, "小区停车难", "the edit was not applied");
}

#[tokio::test]
async fn pull_never_returns_another_stations_rows() {
    let app = app().await;
    let office = app.token("office", None).await;
    let c = client(1);
    app.push_ok(
        &office,
        c,
        vec![
            create(c, 1, 0, valid_opinion(opinion_id(1), "station-heping")),
            create(c, 2, 1, valid_opinion(opinion_id(2), "station-xingfuli")),
        ],
    )
    .await;

    let xingfuli = app.token("staff-xingfuli", None).await;
    let pulled = pulled_opinions(&app.pull(&xingfuli).await);
    assert_eq!(pulled.len(), 1);
    assert_eq!(pulled[0].id, opinion_id(2));

    let heping = app.token("staff-heping", None).await;
    let pulled = pulled_opinions(&app.pull(&heping).await);
    assert_eq!(
        pulled.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![opinion_id(1)]
    );

    // The region's office staff read both; a handling unit reads no station.
    assert_eq!(pulled_opinions(&app.pull(&office).await).len(), 2);
    let unit = app.token("unit", None).await;
    let pulled = app.pull(&unit).await;
    assert!(pulled.changes.is_empty());
    assert_eq!(pulled.next_cursor, Cursor::START);

    // Office staff signed in on a 幸福里 tablet read only 幸福里 there.
    let staff = app.token("staff-xingfuli", None).await;
    let device = body_json(app.enroll(&staff, "station-xingfuli").await).await;
    let on_tablet = app
        .token("office", Some(device["device_token"].as_str().unwrap()))
        .await;
    let pulled = pulled_opinions(&app.pull(&on_tablet).await);
    assert_eq!(
        pulled.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![opinion_id(2)]
    );
}

#[tokio::test]
async fn a_gap_is_409_with_the_expected_seq() {
    let app = app().await;
    let token = app.token("staff-xingfuli", None).await;
    let c = client(1);
    let response = app
        .push(
            &token,
            push_body(
                c,
                vec![create(
                    c,
                    2,
                    0,
                    valid_opinion(opinion_id(1), "station-xingfuli"),
                )],
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = body_json(response).await;
    assert_eq!(body["error"]["code"], "gap");
    assert_eq!(body["error"]["expected"], 1);
    assert!(body["error"]["message"].is_string());
    assert_eq!(count(&app.db, "mutations").await, 0);
    assert_eq!(count(&app.db, "opinions").await, 0);
}

#[tokio::test]
async fn an_old_app_or_protocol_is_426_with_the_minimum() {
    let app = app().await;
    let token = app.token("staff-xingfuli", None).await;
    let c = client(1);
    let mut body = push_body(
        c,
        vec![create(
            c,
            1,
            0,
            valid_opinion(opinion_id(1), "station-xingfuli"),
        )],
    );
    // 0.1.0 cannot read the follow-up steps and attendance records that pulls carry since
    // 0.2.0: it is told to update (and keeps its outbox).
    for too_old in ["0.0.9", "0.1.0", "0.1.9"] {
        body["app_version"] = json!(too_old);
        let response = app.push(&token, body.clone()).await;
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED, "{too_old}");
        let error = body_json(response).await["error"].clone();
        assert_eq!(error["code"], "app_too_old", "{too_old}");
        assert_eq!(error["minimum"], Settings::DEFAULT_MIN_APP_VERSION);
    }
    // The app built with this server (one workspace version) is new enough for it.
    let mut current = body.clone();
    current["app_version"] = json!(env!("CARGO_PKG_VERSION"));

    body["app_version"] = json!(Settings::DEFAULT_MIN_APP_VERSION);
    body["protocol"] = json!(PROTOCOL_VERSION + 1);
    let response = app.push(&token, body).await;
    assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
    let error = body_json(response).await["error"].clone();
    assert_eq!(error["code"], "protocol_unsupported");
    assert_eq!(error["supported"], PROTOCOL_VERSION);

    let response = app
        .call(
            Method::POST,
            PULL,
            Some(&token),
            Some(json!({"protocol": PROTOCOL_VERSION + 1, "cursor": 0, "limit": 10})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
    assert_eq!(
        body_json(response).await["error"]["code"],
        "protocol_unsupported"
    );
    assert_eq!(count(&app.db, "mutations").await, 0);
    assert_eq!(count(&app.db, "opinions").await, 0);

    assert_eq!(app.push(&token, current).await.status(), StatusCode::OK);
    assert_eq!(count(&app.db, "opinions").await, 1);
}

#[tokio::test]
async fn bad_bodies_get_json_4xx_errors_and_store_nothing() {
    let app = app().await;
    let token = app.token("staff-xingfuli", None).await;
    let c = client(1);
    let good = push_body(
        c,
        vec![create(
            c,
            1,
            0,
            valid_opinion(opinion_id(1), "station-xingfuli"),
        )],
    );

    let response = app.push_raw(&token, "{not json").await;
    assert_json_error(response, StatusCode::BAD_REQUEST, "bad_request", "syntax").await;

    let mut wrong_type = good.clone();
    wrong_type["mutations"][0]["seq"] = json!("one");
    let response = app.push(&token, wrong_type).await;
    assert_json_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable_entity",
        "wrong type",
    )
    .await;

    let mut unknown_kind = good.clone();
    unknown_kind["mutations"][0]["kind"]["type"] = json!("launch_rocket");
    let response = app.push(&token, unknown_kind).await;
    assert_json_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable_entity",
        "unknown kind",
    )
    .await;

    let response = app
        .request(
            Request::post(PUSH)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::from(good.to_string()))
                .unwrap(),
        )
        .await;
    assert_json_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "no content type",
    )
    .await;

    // Well-formed JSON the protocol refuses.
    let mut another_client = good.clone();
    another_client["mutations"][0]["client_id"] = json!(client(2).to_string());
    let response = app.push(&token, another_client).await;
    assert_json_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "malformed",
        "mutation of another client",
    )
    .await;

    let mut new_kind = good.clone();
    new_kind["mutations"][0]["kind_version"] = json!(99);
    let response = app.push(&token, new_kind).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = body_json(response).await["error"].clone();
    assert_eq!(error["code"], "kind_version_unsupported");
    assert_eq!(error["version"], 99);

    let too_many: Vec<Mutation> = (1..=MAX_PUSH_MUTATIONS as u64 + 1)
        .map(|seq| {
            set(
                c,
                seq,
                seq,
                opinion_id(1),
                vec![OpinionFieldValue::Summary("x".into())],
            )
        })
        .collect();
    let response = app.push(&token, push_body(c, too_many)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error = body_json(response).await["error"].clone();
    assert_eq!(error["code"], "batch_too_large");
    assert_eq!(error["max"], MAX_PUSH_MUTATIONS);

    assert_eq!(count(&app.db, "mutations").await, 0);
    assert_eq!(count(&app.db, "opinions").await, 0);
    assert_eq!(count(&app.db, "sync_clients").await, 0);

    // The server is still fine.
    assert_eq!(app.push(&token, good).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_revoked_devices_token_is_401_on_push() {
    let app = app().await;
    let staff = app.token("staff-xingfuli", None).await;
    let device = body_json(app.enroll(&staff, "station-xingfuli").await).await;
    let deputy = app
        .token(
            "deputy-zhang",
            Some(device["device_token"].as_str().unwrap()),
        )
        .await;
    let c = client(1);
    app.push_ok(
        &deputy,
        c,
        vec![create(
            c,
            1,
            0,
            valid_opinion(opinion_id(1), "station-xingfuli"),
        )],
    )
    .await;

    let uri = format!("/api/v1/devices/{}", device["id"].as_str().unwrap());
    let response = app.call(Method::DELETE, &uri, Some(&staff), None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let response = app
        .push(
            &deputy,
            push_body(
                c,
                vec![create(
                    c,
                    2,
                    1,
                    valid_opinion(opinion_id(2), "station-xingfuli"),
                )],
            ),
        )
        .await;
    assert_json_error(
        response,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "revoked",
    )
    .await;
    let response = app
        .call(Method::POST, PULL, Some(&deputy), Some(pull_body(0)))
        .await;
    assert_json_error(
        response,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "revoked",
    )
    .await;
    assert_eq!(count(&app.db, "opinions").await, 1);
}

#[tokio::test]
async fn a_device_is_bound_to_the_first_sync_client_it_pushes_with() {
    let app = app().await;
    let staff = app.token("staff-xingfuli", None).await;
    let device = body_json(app.enroll(&staff, "station-xingfuli").await).await;
    let device_token = device["device_token"].as_str().unwrap();
    let deputy = app.token("deputy-zhang", Some(device_token)).await;

    let c = client(1);
    app.push_ok(&deputy, c, vec![]).await;
    app.push_ok(
        &deputy,
        c,
        vec![create(
            c,
            1,
            0,
            valid_opinion(opinion_id(1), "station-xingfuli"),
        )],
    )
    .await;

    // Another client id from the same device, even in another session on it: refused.
    let other = client(2);
    let body = push_body(
        other,
        vec![create(
            other,
            1,
            0,
            valid_opinion(opinion_id(2), "station-xingfuli"),
        )],
    );
    let response = app.push(&deputy, body.clone()).await;
    assert_json_error(
        response,
        StatusCode::CONFLICT,
        "client_mismatch",
        "other client",
    )
    .await;
    let staff_on_tablet = app.token("staff-xingfuli", Some(device_token)).await;
    let response = app.push(&staff_on_tablet, body.clone()).await;
    assert_json_error(
        response,
        StatusCode::CONFLICT,
        "client_mismatch",
        "same device",
    )
    .await;

    // A browser session (no device) may not feed the tablet's stream, but pushes with its own.
    let response = app
        .push(
            &staff,
            push_body(
                c,
                vec![create(
                    c,
                    2,
                    1,
                    valid_opinion(opinion_id(3), "station-xingfuli"),
                )],
            ),
        )
        .await;
    assert_json_error(response, StatusCode::CONFLICT, "client_mismatch", "browser").await;
    assert_eq!(app.push(&staff, body).await.status(), StatusCode::OK);

    // A second tablet cannot take over the first one's client id.
    let second = body_json(app.enroll(&staff, "station-xingfuli").await).await;
    let on_second = app
        .token(
            "deputy-zhang",
            Some(second["device_token"].as_str().unwrap()),
        )
        .await;
    let response = app.push(&on_second, push_body(c, vec![])).await;
    assert_json_error(
        response,
        StatusCode::CONFLICT,
        "client_mismatch",
        "second tablet",
    )
    .await;

    assert_eq!(count(&app.db, "opinions").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_push_fired_ten_times_at_once_over_http_is_taken_once() {
    let app = app().await;
    let token = app.token("staff-xingfuli", None).await;
    let c = client(1);
    let body = push_body(
        c,
        vec![
            create(c, 1, 0, valid_opinion(opinion_id(1), "station-xingfuli")),
            create(c, 2, 1, valid_opinion(opinion_id(2), "station-heping")),
        ],
    )
    .to_string();

    let mut pushes = JoinSet::new();
    for _ in 0..10 {
        let router = app.router.clone();
        let request = Request::post(PUSH)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.clone()))
            .unwrap();
        pushes.spawn(async move {
            use tower::ServiceExt;
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            (status, super::body_json(response).await)
        });
    }
    let mut answers = Vec::new();
    while let Some(result) = pushes.join_next().await {
        answers.push(result.unwrap());
    }
    assert_eq!(answers.len(), 10);
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(body, &answers[0].1);
    }
    assert_eq!(answers[0].1["acknowledged_through"], 2);
    assert_eq!(answers[0].1["rejected"][0]["code"], "forbidden");
    assert_eq!(count(&app.db, "mutations").await, 2);
    assert_eq!(count(&app.db, "opinions").await, 1);
}

#[tokio::test]
async fn a_full_push_of_typical_opinions_fits_the_body_limit() {
    let app = app().await;
    let token = app.token("staff-xingfuli", None).await;
    let c = ClientId::new_v7(NOW, [9; 10]);
    let mutations: Vec<Mutation> = (1..=MAX_PUSH_MUTATIONS as u64)
        .map(|seq| {
            let id = liaison_domain::OpinionId::new_v7(NOW - 3_600_000 + seq, [7; 10]);
            create(c, seq, seq, valid_opinion(id, "station-xingfuli"))
        })
        .collect();
    let body = push_body(c, mutations);
    // About 125 KiB (~640 bytes per opinion) against the 1 MiB limit.
    let size = body.to_string().len();
    assert!(
        size < Settings::DEFAULT_BODY_LIMIT / 4,
        "{size} bytes for {MAX_PUSH_MUTATIONS} opinions"
    );
    let response = app.push(&token, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response: PushResponse = serde_json::from_value(body_json(response).await).unwrap();
    assert_eq!(
        response.acknowledged_through,
        Seq(MAX_PUSH_MUTATIONS as u64)
    );
    assert!(response.rejected.is_empty());
    assert_eq!(count(&app.db, "opinions").await, MAX_PUSH_MUTATIONS as i64);
}
