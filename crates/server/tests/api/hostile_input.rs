//! Bad input to every `/api` route: missing, forged and malformed tokens; malformed JSON, wrong
//! types, missing fields, bodies over the limit (declared and streamed), deeply nested JSON,
//! unknown mutation kinds, wrong content types, unknown fields, odd path parameters, and another
//! station's ids. Every refusal must be a 4xx with the JSON error shape
//! `{"error":{"code":..,"message":..}}` (axum's own rejections answer `text/plain`; the
//! `json_error_bodies` layer in `error.rs` gives them the shape and keeps their text as the
//! message), nothing may be stored, and
//! nothing may panic or answer 5xx. Property tests then throw arbitrary bytes, arbitrary JSON
//! and damaged valid requests at push and pull, and at every route of the access matrix
//! (`access_matrix.rs`) with arbitrary query strings and content types, comparing the content
//! of every table before and after each refusal.

use super::accounts::app_with_accounts;
use super::sync::{client, count, create, opinion_id, scalar, set, stamp, text, valid_opinion};
use super::{TestApp, body_json};
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use liaison_domain::sync::{
    Change, Cursor, Mutation, MutationKind, OpinionFieldValue, PROTOCOL_VERSION, PullResponse,
    PushRequest, PushResponse, RejectCode, Seq,
};
use liaison_server::Settings;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use serde_json::{Value, json};

const PUSH: &str = "/api/v1/sync/push";
const PULL: &str = "/api/v1/sync/pull";

/// Every route under `/api`, the body a well-behaved client would send, and whether it needs a
/// bearer token. `{id}` is filled with a device id.
fn routes() -> Vec<(Method, &'static str, Option<Value>, bool)> {
    let push = serde_json::to_value(PushRequest {
        protocol: PROTOCOL_VERSION,
        app_version: Settings::DEFAULT_MIN_APP_VERSION.into(),
        client_id: client(1),
        mutations: vec![create(
            client(1),
            1,
            0,
            valid_opinion(opinion_id(1), "station-xingfuli"),
        )],
    })
    .unwrap();
    vec![
        (
            Method::POST,
            "/api/v1/session",
            Some(json!({"username": "staff-xingfuli", "password": "wrong password"})),
            false,
        ),
        (Method::DELETE, "/api/v1/session", None, true),
        (Method::GET, "/api/v1/me", None, true),
        (
            Method::POST,
            "/api/v1/devices",
            Some(json!({"station_id": "station-xingfuli", "name": "平板"})),
            true,
        ),
        (Method::DELETE, "/api/v1/devices/{id}", None, true),
        (Method::GET, "/api/v1/devices", None, true),
        (
            Method::POST,
            "/api/v1/devices/status",
            Some(json!({"device_token": "not a device token"})),
            false,
        ),
        (
            Method::POST,
            "/api/v1/device-keys",
            Some(json!({"usernames": ["deputy-xingfuli"]})),
            true,
        ),
        (Method::POST, PUSH, Some(push), true),
        (
            Method::POST,
            PULL,
            Some(json!({"protocol": PROTOCOL_VERSION, "cursor": 0, "limit": 10})),
            true,
        ),
        (Method::GET, "/api/v1/sync/events", None, true),
        (Method::PUT, "/api/v1/photos/{id}", None, true),
        (Method::GET, "/api/v1/photos/{id}", None, true),
        (Method::GET, "/api/v1/units", None, true),
        (Method::GET, "/api/v1/calendar", None, true),
        // Every field of a calendar is optional (an empty list), so it has no body to damage
        // here; `followup.rs` sends it bad ones.
        (Method::PUT, "/api/v1/calendar", None, true),
        (Method::GET, "/api/v1/ledger", None, true),
        (Method::GET, "/api/v1/opinions/{id}", None, true),
        (
            Method::POST,
            "/api/v1/opinions/0190a8b4-0000-7000-8000-000000000001/steps",
            Some(json!({"action": "note", "kind": "reminder", "text": "催办"})),
            true,
        ),
        (Method::GET, "/api/v1/attendance", None, true),
        (Method::GET, "/api/v1/roster", None, true),
        (
            Method::PUT,
            "/api/v1/roster",
            Some(json!({
                "station_id": "station-xingfuli",
                "day": "2026-11-27",
                "deputy_ids": ["deputy-demo-zhang"],
            })),
            true,
        ),
        (Method::GET, "/api/v1/activities", None, true),
        (
            Method::POST,
            "/api/v1/activities",
            Some(json!({
                "id": "0190a8b4-0000-7000-8000-000000000002",
                "station_id": "station-xingfuli",
                "kind": "collective_reception",
                "title": "集体接待",
                "day": "2026-11-27",
                "attendees": ["deputy-demo-zhang"],
                "citizens_received": 12,
                "note": "",
            })),
            true,
        ),
        (
            Method::POST,
            "/api/v1/opinions/0190a8b4-0000-7000-8000-000000000001/personal-data",
            Some(json!({"purpose": "回访群众"})),
            true,
        ),
        (Method::GET, "/api/v1/audit", None, true),
        (Method::GET, "/api/v1/accounts", None, true),
        // Every field but the role is optional; `access_matrix.rs` and `audit_log.rs` send it
        // whole and wrong.
        (Method::PUT, "/api/v1/accounts/{id}", None, true),
        (Method::GET, "/api/v1/directory", None, false),
        (Method::GET, "/api/health", None, false),
    ]
}

/// What the server holds: a refused request must leave all of it as it was.
#[derive(Debug, PartialEq, Eq)]
struct Stored {
    rows: Vec<(&'static str, i64)>,
    change_counter: i64,
    failed_sign_ins: i64,
}

async fn stored(app: &TestApp) -> Stored {
    let mut rows = Vec::new();
    for table in [
        "users",
        "sessions",
        "devices",
        "sync_clients",
        "mutations",
        "opinions",
        "attendance",
        "calendar_days",
        "roster",
        "activities",
    ] {
        rows.push((table, count(&app.db, table).await));
    }
    let change_counter = scalar(&app.db, "SELECT value FROM sync_counter").await;
    let failed_sign_ins = scalar(
        &app.db,
        "SELECT CAST(COALESCE(SUM(failed_attempts), 0) AS BIGINT) AS value FROM users",
    )
    .await;
    Stored {
        rows,
        change_counter,
        failed_sign_ins,
    }
}

/// A request with a raw body and headers as given.
fn raw(
    method: &Method,
    uri: &str,
    authorization: Option<HeaderValue>,
    content_type: Option<&str>,
    body: Body,
) -> Request<Body> {
    let mut request = Request::builder().method(method.clone()).uri(uri);
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    request.body(body).unwrap()
}

fn bearer(token: &str) -> Option<HeaderValue> {
    Some(HeaderValue::from_str(&format!("Bearer {token}")).unwrap())
}

/// Checks the refusal: a 4xx (the given one if any), the JSON error shape, and returns the code.
async fn assert_refused(
    response: Response<Body>,
    status: Option<StatusCode>,
    what: &str,
) -> String {
    let actual = response.status();
    match status {
        Some(status) => assert_eq!(actual, status, "{what}"),
        None => assert!(actual.is_client_error(), "{what}: {actual}"),
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "{what}: {actual}"
    );
    let body = body_json(response).await;
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: {body}"));
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    let code = error["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {body}"));
    assert!(!code.is_empty(), "{what}: {body}");
    code.to_owned()
}

/// 1 MiB of nesting would be cut by the body limit; this is deep enough for serde's recursion
/// limit (128) and small enough to pass the body limit.
fn deeply_nested(depth: usize) -> String {
    format!(
        "{{\"username\": {}1{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

#[tokio::test]
async fn authenticated_routes_refuse_missing_forged_and_malformed_tokens() {
    let app = app_with_accounts().await;
    let staff = app.token("staff-xingfuli", None).await;
    let device = body_json(app.enroll(&staff, "station-xingfuli").await).await;
    let device_id = device["id"].as_str().unwrap();
    let before = stored(&app).await;

    let authorizations: Vec<(&str, Option<HeaderValue>)> = vec![
        ("none", None),
        ("empty", Some(HeaderValue::from_static(""))),
        ("scheme only", Some(HeaderValue::from_static("Bearer"))),
        ("blank token", Some(HeaderValue::from_static("Bearer    "))),
        (
            "forged",
            bearer("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        ("valid token plus a byte", bearer(&format!("{staff}x"))),
        (
            "valid token without scheme",
            Some(HeaderValue::from_str(&staff).unwrap()),
        ),
        (
            "basic auth",
            Some(HeaderValue::from_static("Basic c3RhZmY6cGFzc3dvcmQ=")),
        ),
        ("huge", bearer(&"A".repeat(16 * 1024))),
        (
            "not UTF-8",
            Some(HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap()),
        ),
        (
            "device token as session",
            bearer(device["device_token"].as_str().unwrap()),
        ),
    ];
    for (method, path, body, needs_auth) in routes() {
        if !needs_auth {
            continue;
        }
        let uri = path.replace("{id}", device_id);
        for (what, authorization) in &authorizations {
            let request = raw(
                &method,
                &uri,
                authorization.clone(),
                body.as_ref().map(|_| "application/json"),
                body.as_ref()
                    .map_or(Body::empty(), |b| Body::from(b.to_string())),
            );
            let what = format!("{method} {uri}: {what}");
            let code = assert_refused(
                app.request(request).await,
                Some(StatusCode::UNAUTHORIZED),
                &what,
            )
            .await;
            assert_eq!(code, "unauthenticated", "{what}");
        }
    }
    assert_eq!(
        stored(&app).await,
        before,
        "nothing stored, nothing revoked"
    );
}

#[tokio::test]
async fn bad_bodies_get_a_json_4xx_on_every_route_that_takes_one() {
    let app = app_with_accounts().await;
    let staff = app.token("staff-xingfuli", None).await;
    let before = stored(&app).await;

    let too_big = Settings::DEFAULT_BODY_LIMIT + 1;
    for (method, uri, body, needs_auth) in routes() {
        let Some(good) = body else { continue };
        let token = needs_auth.then(|| bearer(&staff)).flatten();
        let json = Some("application/json");

        let mut wrong_types = Vec::new();
        let mut missing_fields = Vec::new();
        for key in good.as_object().unwrap().keys() {
            let mut wrong = good.clone();
            wrong[key] = match &good[key] {
                Value::String(_) => json!(12345),
                _ => json!("a string"),
            };
            wrong_types.push((format!("{key} of the wrong type"), wrong.to_string()));
            let mut missing = good.clone();
            missing.as_object_mut().unwrap().remove(key);
            // Optional fields may be left out; the route's required ones may not.
            missing_fields.push((format!("{key} missing"), missing.to_string()));
        }

        let mut cases: Vec<(String, Option<&str>, Body, Option<StatusCode>)> = vec![
            (
                "syntax error".into(),
                json,
                Body::from("{not json"),
                Some(StatusCode::BAD_REQUEST),
            ),
            (
                "empty body".into(),
                json,
                Body::empty(),
                Some(StatusCode::BAD_REQUEST),
            ),
            (
                "truncated".into(),
                json,
                Body::from(good.to_string().chars().take(10).collect::<String>()),
                Some(StatusCode::BAD_REQUEST),
            ),
            (
                "null".into(),
                json,
                Body::from("null"),
                Some(StatusCode::UNPROCESSABLE_ENTITY),
            ),
            (
                "array".into(),
                json,
                Body::from("[1, 2]"),
                Some(StatusCode::UNPROCESSABLE_ENTITY),
            ),
            (
                "number".into(),
                json,
                Body::from("42"),
                Some(StatusCode::UNPROCESSABLE_ENTITY),
            ),
            (
                "empty object".into(),
                json,
                Body::from("{}"),
                Some(StatusCode::UNPROCESSABLE_ENTITY),
            ),
            (
                "deeply nested".into(),
                json,
                Body::from(deeply_nested(100_000)),
                None,
            ),
            (
                "nested past serde's limit".into(),
                json,
                Body::from(deeply_nested(200)),
                None,
            ),
            (
                "not UTF-8".into(),
                json,
                Body::from(&b"{\"username\": \"\xff\xfe\"}"[..]),
                None,
            ),
            (
                "text/plain".into(),
                Some("text/plain"),
                Body::from(good.to_string()),
                Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ),
            (
                "form".into(),
                Some("application/x-www-form-urlencoded"),
                Body::from("username=a&password=b"),
                Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ),
            (
                "no content type".into(),
                None,
                Body::from(good.to_string()),
                Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ),
            (
                "over the limit, declared".into(),
                json,
                Body::from(vec![b' '; too_big]),
                Some(StatusCode::PAYLOAD_TOO_LARGE),
            ),
            (
                "over the limit, streamed without a length".into(),
                json,
                Body::from_stream(futures_util::stream::iter(
                    (0..17).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 64 * 1024]))),
                )),
                Some(StatusCode::PAYLOAD_TOO_LARGE),
            ),
            (
                "a JSON string over the limit".into(),
                json,
                Body::from(format!("{{\"username\": \"{}\"}}", "x".repeat(too_big))),
                Some(StatusCode::PAYLOAD_TOO_LARGE),
            ),
        ];
        for (what, body) in wrong_types.into_iter().chain(missing_fields) {
            // Optional fields: the request is whole without them.
            if [
                "device_token missing",
                "citizens_received missing",
                "note missing",
            ]
            .contains(&what.as_str())
            {
                continue;
            }
            // serde_json reads a number where a plain enum's name belongs (an activity's `kind`)
            // as a syntax error, so axum answers 400 there rather than 422.
            let status = if uri == "/api/v1/activities" && what == "kind of the wrong type" {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            cases.push((what, json, Body::from(body), Some(status)));
        }

        for (what, content_type, body, status) in cases {
            let declared = what == "over the limit, declared";
            let mut request = raw(&method, uri, token.clone(), content_type, body);
            if declared {
                request
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(too_big));
            }
            let what = format!("{method} {uri}: {what}");
            assert_refused(app.request(request).await, status, &what).await;
        }
    }
    assert_eq!(stored(&app).await, before);
}

#[tokio::test]
async fn routes_without_a_body_refuse_bodies_over_the_limit_odd_ids_and_wrong_methods() {
    let app = app_with_accounts().await;
    let staff = app.token("staff-xingfuli", None).await;
    let before = stored(&app).await;
    let too_big = Settings::DEFAULT_BODY_LIMIT + 1;

    for (method, path, _, needs_auth) in routes() {
        let uri = path.replace("{id}", "some-device");
        let token = needs_auth.then(|| bearer(&staff)).flatten();
        let mut request = raw(
            &method,
            &uri,
            token.clone(),
            None,
            Body::from(vec![b'x'; too_big]),
        );
        request
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(too_big));
        let what = format!("{method} {uri} with a huge body");
        assert_refused(
            app.request(request).await,
            Some(StatusCode::PAYLOAD_TOO_LARGE),
            &what,
        )
        .await;

        // No route takes PATCH.
        let request = raw(
            &Method::PATCH,
            &uri,
            token,
            Some("application/json"),
            Body::from("{}"),
        );
        let what = format!("PATCH {uri}");
        let code = assert_refused(
            app.request(request).await,
            Some(StatusCode::METHOD_NOT_ALLOWED),
            &what,
        )
        .await;
        assert_eq!(code, "method_not_allowed", "{what}");
    }

    // Device ids that are not ids: unknown (404), not even a path segment (400), or text the
    // database cannot hold (422 `unstorable_text`: a NUL on PostgreSQL), never more.
    let long = format!("/api/v1/devices/{}", "9".repeat(10_000));
    for uri in [
        "/api/v1/devices/nope",
        "/api/v1/devices/%FF%FE",
        "/api/v1/devices/..%2F..%2Fsession",
        "/api/v1/devices/%00",
        "/api/v1/devices/'%20OR%201=1%20--",
        "/api/v1/devices/%E5%B9%B3%E6%9D%BF",
        long.as_str(),
    ] {
        let response = app.call(Method::DELETE, uri, Some(&staff), None).await;
        let status = response.status();
        assert!(
            [
                StatusCode::NOT_FOUND,
                StatusCode::BAD_REQUEST,
                StatusCode::UNPROCESSABLE_ENTITY
            ]
            .contains(&status),
            "{uri}: {status}"
        );
        assert_refused(response, None, &uri[..uri.len().min(60)]).await;
    }

    // Query strings the routes do not read are ignored, whatever they hold.
    let response = app.get("/api/v1/directory?cursor=%FF&limit=-1").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(stored(&app).await, before);
}

#[tokio::test]
async fn unknown_mutation_kinds_and_fields_are_refused_and_store_nothing() {
    let app = app_with_accounts().await;
    let staff = app.token("staff-xingfuli", None).await;
    let (_, _, Some(good), _) = routes().into_iter().find(|r| r.1 == PUSH).unwrap() else {
        unreachable!()
    };
    let before = stored(&app).await;

    let mut bodies: Vec<(&str, Value)> = Vec::new();
    let mut kind = good.clone();
    kind["mutations"][0]["kind"]["type"] = json!("drop_table");
    bodies.push(("unknown kind", kind));
    let mut no_kind = good.clone();
    no_kind["mutations"][0]["kind"]
        .as_object_mut()
        .unwrap()
        .remove("type");
    bodies.push(("kind without a type", no_kind));
    let edit = set(
        client(1),
        1,
        0,
        opinion_id(1),
        vec![OpinionFieldValue::Summary("x".into())],
    );
    let mut field = good.clone();
    field["mutations"][0] = serde_json::to_value(&edit).unwrap();
    field["mutations"][0]["kind"]["fields"][0] =
        json!({"field": "station_id", "value": "station-heping"});
    bodies.push(("unknown field of an opinion", field));
    let mut stamp_text = good.clone();
    stamp_text["mutations"][0]["hlc"] = json!("yesterday");
    bodies.push(("not a stamp", stamp_text));
    let mut negative = good.clone();
    negative["mutations"][0]["seq"] = json!(-1);
    bodies.push(("negative seq", negative));
    let mut huge = good.clone();
    huge["mutations"][0]["seq"] = json!(1e300);
    bodies.push(("float seq", huge));
    let mut client_text = good.clone();
    client_text["client_id"] = json!("not-a-uuid");
    bodies.push(("not a client id", client_text));

    for (what, body) in bodies {
        let response = app.call(Method::POST, PUSH, Some(&staff), Some(body)).await;
        assert_refused(response, Some(StatusCode::UNPROCESSABLE_ENTITY), what).await;
    }
    assert_eq!(stored(&app).await, before);
}

/// Unknown fields are ignored, not refused: the protocol grows by additions that older peers
/// skip (see `protocol.rs`), and the account routes follow suit. What matters is that an unknown
/// field can smuggle nothing in: not a role, not another user, not a station.
#[tokio::test]
async fn unknown_fields_are_ignored_and_grant_nothing() {
    let app = app_with_accounts().await;
    let response = app
        .call(
            Method::POST,
            "/api/v1/session",
            None,
            Some(json!({
                "username": "deputy-zhang",
                "password": "correct horse battery",
                "role": "admin",
                "scopes": [{"region": "region-demo-city"}],
                "user_id": "someone-else",
            })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let session = body_json(response).await;
    assert_eq!(session["user"]["role"], "deputy");
    assert_eq!(session["user"]["username"], "deputy-zhang");
    assert_eq!(
        session["user"]["scopes"],
        json!([{"station": "station-xingfuli"}])
    );
    let deputy = session["token"].as_str().unwrap().to_owned();

    // A deputy may not enrol devices, whatever the body claims.
    let response = app
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(&deputy),
            Some(json!({"station_id": "station-xingfuli", "name": "x", "role": "admin"})),
        )
        .await;
    assert_refused(response, Some(StatusCode::FORBIDDEN), "deputy enrolling").await;

    // A push with extra fields everywhere is taken, and the extras are not stored.
    let c = client(1);
    let mut body = serde_json::to_value(PushRequest {
        protocol: PROTOCOL_VERSION,
        app_version: Settings::DEFAULT_MIN_APP_VERSION.into(),
        client_id: c,
        mutations: vec![create(
            c,
            1,
            0,
            valid_opinion(opinion_id(1), "station-xingfuli"),
        )],
    })
    .unwrap();
    body["station_id"] = json!("station-heping");
    body["mutations"][0]["authorised"] = json!(true);
    body["mutations"][0]["kind"]["opinion"]["secret_note"] = json!("extra");
    let response = app
        .call(Method::POST, PUSH, Some(&deputy), Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let stored_body: String = text(&app.db, "SELECT body AS value FROM mutations").await;
    assert!(!stored_body.contains("secret_note") && !stored_body.contains("authorised"));
    let station: String = text(&app.db, "SELECT station_id AS value FROM opinions").await;
    assert_eq!(station, "station-xingfuli");
}

/// A deputy on a 幸福里 tablet tries to write into 和平 (station B): create there, edit and
/// delete B's opinion. By the protocol each such mutation is rejected `forbidden` inside a 200
/// answer (its seq consumed, so the tablet's outbox moves on instead of being stuck behind a
/// 4xx), and nothing of B changes. Device management across stations is a 403.
#[tokio::test]
async fn another_stations_ids_are_refused_and_change_nothing() {
    let app = app_with_accounts().await;
    let staff = app.token("staff-xingfuli", None).await;
    let device = body_json(app.enroll(&staff, "station-xingfuli").await).await;
    let deputy = app
        .token(
            "deputy-zhang",
            Some(device["device_token"].as_str().unwrap()),
        )
        .await;

    // Station B's opinion, written by B's staff, and B's tablet.
    let heping = app.token("staff-heping", None).await;
    let b = client(9);
    let b_opinion = valid_opinion(opinion_id(9), "station-heping");
    let response = app
        .call(
            Method::POST,
            PUSH,
            Some(&heping),
            Some(
                serde_json::to_value(PushRequest {
                    protocol: PROTOCOL_VERSION,
                    app_version: Settings::DEFAULT_MIN_APP_VERSION.into(),
                    client_id: b,
                    mutations: vec![create(b, 1, 0, b_opinion.clone())],
                })
                .unwrap(),
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let b_device = body_json(app.enroll(&heping, "station-heping").await).await;
    let b_state_before: String = text(&app.db, "SELECT state AS value FROM opinions").await;

    let a = client(1);
    let attack = vec![
        create(a, 1, 0, valid_opinion(opinion_id(2), "station-heping")),
        set(
            a,
            2,
            1,
            opinion_id(9),
            vec![OpinionFieldValue::Summary("篡改".into())],
        ),
        Mutation::new(
            a,
            Seq(3),
            stamp(a, 2),
            MutationKind::DeleteOpinion { id: opinion_id(9) },
        ),
    ];
    let response = app
        .call(
            Method::POST,
            PUSH,
            Some(&deputy),
            Some(
                serde_json::to_value(PushRequest {
                    protocol: PROTOCOL_VERSION,
                    app_version: Settings::DEFAULT_MIN_APP_VERSION.into(),
                    client_id: a,
                    mutations: attack,
                })
                .unwrap(),
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response: PushResponse = serde_json::from_value(body_json(response).await).unwrap();
    assert_eq!(response.acknowledged_through, Seq(3));
    assert_eq!(
        response
            .rejected
            .iter()
            .map(|r| (r.seq, r.code))
            .collect::<Vec<_>>(),
        vec![
            (Seq(1), RejectCode::Forbidden),
            (Seq(2), RejectCode::Forbidden),
            (Seq(3), RejectCode::Forbidden),
        ]
    );
    assert_eq!(
        count(&app.db, "opinions").await,
        1,
        "no opinion created at B"
    );
    let b_state_after: String = text(&app.db, "SELECT state AS value FROM opinions").await;
    assert_eq!(b_state_after, b_state_before, "B's opinion untouched");
    let counter: i64 = scalar(&app.db, "SELECT value FROM sync_counter").await;
    assert_eq!(counter, 1, "no change recorded");

    // The deputy's pull shows nothing of B; B's pull shows B's opinion as it was.
    let pull = json!({"protocol": PROTOCOL_VERSION, "cursor": 0, "limit": 100});
    let response = app
        .call(Method::POST, PULL, Some(&deputy), Some(pull.clone()))
        .await;
    let pulled: PullResponse = serde_json::from_value(body_json(response).await).unwrap();
    assert!(pulled.changes.is_empty(), "{pulled:?}");
    assert_eq!(pulled.next_cursor, Cursor::START);
    let response = app
        .call(Method::POST, PULL, Some(&heping), Some(pull))
        .await;
    let pulled: PullResponse = serde_json::from_value(body_json(response).await).unwrap();
    let opinions: Vec<_> = pulled
        .changes
        .iter()
        .filter_map(|change| match change {
            Change::Opinion { state, .. } => state.opinion(),
            Change::Attendance { .. } => None,
        })
        .collect();
    assert_eq!(opinions, vec![b_opinion.with_citizen_masked()]);

    // Devices of another station: neither enrolled nor revoked from station A.
    let response = app.enroll(&staff, "station-heping").await;
    assert_refused(response, Some(StatusCode::FORBIDDEN), "enrol at B").await;
    let uri = format!("/api/v1/devices/{}", b_device["id"].as_str().unwrap());
    let response = app.call(Method::DELETE, &uri, Some(&staff), None).await;
    assert_refused(response, Some(StatusCode::FORBIDDEN), "revoke B's device").await;
    let b_tablet = app
        .token(
            "staff-heping",
            Some(b_device["device_token"].as_str().unwrap()),
        )
        .await;
    let response = app
        .call(Method::GET, "/api/v1/me", Some(&b_tablet), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK, "B's device still works");
}

/// A JSON value of any shape, with keys that the sync messages use mixed with random ones so
/// that the deserialiser gets past the first field now and then.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,24}".prop_map(Value::String),
        Just(json!(PROTOCOL_VERSION)),
        Just(json!(client(1).to_string())),
    ];
    let key = prop_oneof![
        3 => prop::sample::select(vec![
            "protocol", "app_version", "client_id", "mutations", "cursor", "limit", "seq", "hlc",
            "kind_version", "kind", "type", "opinion", "id", "fields", "field", "value",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z_]{0,12}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the node at `at` (in document order) of `value` with `with`, or removes it from its
/// parent object when `with` is `None`.
fn damage(value: &mut Value, at: &Index, with: Option<Value>) {
    fn paths(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
        out.push(path.clone());
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    path.push(json!(k));
                    paths(v, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(json!(i));
                    paths(v, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut all = Vec::new();
    paths(value, &mut Vec::new(), &mut all);
    let path = at.get(&all).clone();
    let Some((last, parents)) = path.split_last() else {
        *value = with.unwrap_or(Value::Null);
        return;
    };
    let mut parent = value;
    for step in parents {
        parent = match step {
            Value::String(k) => &mut parent[k.as_str()],
            _ => &mut parent[step.as_u64().unwrap() as usize],
        };
    }
    match (last, with, parent) {
        (Value::String(k), None, Value::Object(map)) => {
            map.remove(k);
        }
        (Value::String(k), Some(with), parent) => parent[k.as_str()] = with,
        (i, with, parent) => parent[i.as_u64().unwrap() as usize] = with.unwrap_or(Value::Null),
    }
}

#[derive(Clone, Debug)]
enum Hostile {
    Bytes(Vec<u8>),
    Json(Value),
    /// A valid request with one node replaced (or removed, when `None`).
    Damaged(Index, Option<Value>),
}

fn hostile() -> impl Strategy<Value = (bool, Hostile)> {
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256).prop_map(Hostile::Bytes),
        any_json().prop_map(Hostile::Json),
        (any::<Index>(), prop::option::weighted(0.8, any_json()))
            .prop_map(|(at, with)| Hostile::Damaged(at, with)),
    ];
    (any::<bool>(), body)
}

/// Arbitrary bytes, arbitrary JSON and damaged valid requests at push and pull: never a 5xx (nor
/// a panic, which would fail the test), a refusal always has the JSON error shape and stores
/// nothing, and a 200 is a well-formed answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_bodies_at_push_and_pull_never_get_a_5xx_and_refusals_store_nothing() {
    let app = app_with_accounts().await;
    let staff = app.token("staff-xingfuli", None).await;
    let routes = routes();
    let valid_push = routes
        .iter()
        .find(|r| r.1 == PUSH)
        .unwrap()
        .2
        .clone()
        .unwrap();
    let valid_pull = routes
        .iter()
        .find(|r| r.1 == PULL)
        .unwrap()
        .2
        .clone()
        .unwrap();

    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        source_file: Some(file!()),
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner.run(&hostile(), |(to_push, input)| {
            handle.block_on(async {
                let (uri, valid) = if to_push {
                    (PUSH, &valid_push)
                } else {
                    (PULL, &valid_pull)
                };
                let body = match &input {
                    Hostile::Bytes(bytes) => bytes.clone(),
                    Hostile::Json(value) => value.to_string().into_bytes(),
                    Hostile::Damaged(at, with) => {
                        let mut value = valid.clone();
                        damage(&mut value, at, with.clone());
                        value.to_string().into_bytes()
                    }
                };
                let before = stored(&app).await;
                let request = raw(
                    &Method::POST,
                    uri,
                    bearer(&staff),
                    Some("application/json"),
                    Body::from(body),
                );
                let response = app.request(request).await;
                let status = response.status();
                prop_assert!(!status.is_server_error(), "{uri}: {status}");
                if status == StatusCode::OK {
                    let answer = body_json(response).await;
                    if to_push {
                        prop_assert!(serde_json::from_value::<PushResponse>(answer).is_ok());
                    } else {
                        prop_assert!(serde_json::from_value::<PullResponse>(answer).is_ok());
                    }
                } else {
                    prop_assert!(status.is_client_error(), "{uri}: {status}");
                    assert_refused(response, None, uri).await;
                    prop_assert_eq!(stored(&app).await, before);
                }
                Ok(())
            })
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // Only a damaged but still valid push could store anything, and only the one opinion.
    assert!(count(&app.db, "opinions").await <= 1);
}

/// axum's rejections are `text/plain`; the error layer keeps their text as the JSON message, so
/// a client developer reads what is wrong instead of a bare status name.
#[tokio::test]
async fn refusals_of_bad_bodies_say_what_is_wrong() {
    let app = app_with_accounts().await;
    let staff = app.token("staff-xingfuli", None).await;
    let (_, _, Some(good), _) = routes().into_iter().find(|r| r.1 == PUSH).unwrap() else {
        unreachable!()
    };
    let message = |body: Value| async {
        let body = body_json(body_response(&app, &staff, body).await).await;
        body["error"]["message"].as_str().unwrap().to_owned()
    };
    let mut kind = good.clone();
    kind["mutations"][0]["kind"]["type"] = json!("drop_table");
    let text = message(kind).await;
    assert!(text.contains("unknown variant `drop_table`"), "{text}");
    let mut seq = good.clone();
    seq["mutations"][0]["seq"] = json!("one");
    let text = message(seq).await;
    assert!(text.contains("mutations[0].seq"), "{text}");

    let request = raw(
        &Method::POST,
        PUSH,
        bearer(&staff),
        None,
        Body::from(good.to_string()),
    );
    let body = body_json(app.request(request).await).await;
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    let text = body["error"]["message"].as_str().unwrap();
    assert!(text.contains("Content-Type: application/json"), "{text}");
}

async fn body_response(app: &TestApp, token: &str, body: Value) -> Response<Body> {
    app.call(Method::POST, PUSH, Some(token), Some(body)).await
}

/// What a fuzzed request sends besides its body.
#[derive(Clone, Debug)]
enum ContentType {
    Json,
    None,
    Other(&'static str),
}

fn content_type() -> impl Strategy<Value = ContentType> {
    prop_oneof![
        6 => Just(ContentType::Json),
        1 => Just(ContentType::None),
        1 => prop::sample::select(vec![
            "text/plain",
            "image/jpeg",
            "application/x-www-form-urlencoded",
            "application/problem+json",
        ])
        .prop_map(ContentType::Other),
    ]
}

/// A query string of arbitrary text (percent-encoded), sometimes.
fn query() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(
        0.3,
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| {
            bytes
                .iter()
                .map(|b| match b {
                    b'=' | b'&' => (*b as char).to_string(),
                    b'a'..=b'z' | b'0'..=b'9' => (*b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect()
        }),
    )
}

/// Arbitrary bytes, arbitrary JSON and damaged valid requests, with arbitrary query strings
/// and content types, at every route of the access matrix with a valid token (station staff
/// of 幸福里, whose own opinion and tablet the paths name): never a 5xx or a panic; a refusal
/// always has the JSON error shape and stores nothing (every table's content, the audit log
/// aside: refusals such as failed sign-ins are audited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_input_at_every_route_never_gets_a_5xx_and_refusals_store_nothing() {
    use super::access_matrix::{Payload, Target, fingerprint, matrix};
    let app = app_with_accounts().await;
    let staff = app.token("staff-xingfuli", None).await;
    let device = body_json(app.enroll(&staff, "station-xingfuli").await).await;
    let opinion = opinion_id(1);
    let response = app
        .call(
            Method::POST,
            PUSH,
            Some(&staff),
            Some(
                serde_json::to_value(PushRequest {
                    protocol: PROTOCOL_VERSION,
                    app_version: Settings::DEFAULT_MIN_APP_VERSION.into(),
                    client_id: client(1),
                    mutations: vec![create(
                        client(1),
                        1,
                        0,
                        valid_opinion(opinion, "station-xingfuli"),
                    )],
                })
                .unwrap(),
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let target = Target {
        opinion,
        photo: liaison_domain::PhotoId::new_v7(0, [1; 10]),
        jpeg: b"\xff\xd8\xff not a photo".to_vec(),
        device: device["id"].as_str().unwrap().to_owned(),
    };
    // Signing out would end the fuzzing token; it takes no body, so it has nothing to fuzz.
    let entries: Vec<_> = matrix(&target, 1)
        .into_iter()
        .filter(|e| !(e.method == Method::DELETE && e.route == "/api/v1/session"))
        .collect();

    let mut runner = TestRunner::new(Config {
        cases: 384,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        source_file: Some(file!()),
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let strategy = (any::<Index>(), hostile(), content_type(), query());
    // The failure carries the whole failing input; it is printed once, so its size is moot.
    #[allow(clippy::result_large_err)]
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |(which, (_, input), content_type, query)| {
            handle.block_on(async {
                let entry = which.get(&entries);
                let body = match (&input, &entry.payload) {
                    (Hostile::Bytes(bytes), _) => bytes.clone(),
                    (Hostile::Json(value), _) => value.to_string().into_bytes(),
                    (Hostile::Damaged(at, with), Payload::Json(valid)) => {
                        let mut value = valid.clone();
                        damage(&mut value, at, with.clone());
                        value.to_string().into_bytes()
                    }
                    (Hostile::Damaged(_, with), _) => {
                        with.clone().unwrap_or(Value::Null).to_string().into_bytes()
                    }
                };
                let mut uri = entry.uri.clone();
                if let Some(query) = &query {
                    uri.push(if uri.contains('?') { '&' } else { '?' });
                    uri.push_str(query);
                }
                let content_type = match content_type {
                    ContentType::Json => Some("application/json"),
                    ContentType::None => None,
                    ContentType::Other(other) => Some(other),
                };
                // A failed sign-in counts against the account it names: a refusal that
                // changes `users`, by design. So does an account's first online step, taken or
                // refused: it allots the account's server-side sync client (`users`), once.
                let except: &[&str] = if entry.route == "/api/v1/session"
                    || entry.route == "/api/v1/opinions/{id}/steps"
                {
                    &["audit_log", "users"]
                } else {
                    &["audit_log"]
                };
                let before = fingerprint(&app, except).await;
                let request = raw(
                    &entry.method,
                    &uri,
                    bearer(&staff),
                    content_type,
                    Body::from(body),
                );
                let response = app.request(request).await;
                let status = response.status();
                let what = format!("{} {uri}", entry.method);
                prop_assert!(!status.is_server_error(), "{what}: {status}");
                if entry.route == "/api/v1/sync/events" {
                    // A stream that never ends: its status says enough.
                    return Ok(());
                }
                if status.is_client_error() {
                    assert_refused(response, None, &what).await;
                    prop_assert_eq!(fingerprint(&app, except).await, before, "{}", what);
                } else {
                    prop_assert!(status.is_success(), "{what}: {status}");
                }
                Ok(())
            })
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
