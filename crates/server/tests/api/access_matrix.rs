//! The access matrix: one table ([`matrix`]) lists every `/api` route with a request a
//! well-behaved client of the right station would send, and how the route is guarded:
//!
//! - [`Guard::Public`]: no token needed (sign-in, health, the directory of stations and deputies
//!   that the tablet reads before anyone signs in).
//! - [`Guard::Own`]: needs a token and touches only the caller's own session (`/me`, sign-out,
//!   the change-event stream, which carries a cursor and no data).
//! - [`Guard::Read`] / [`Guard::Write`]: data of a station. The target is 和平 (station B): an
//!   opinion with a photo, referred to the housing unit, a tablet, a roster day and an event,
//!   all written by B's own staff.
//!
//! For every guarded route: no token is 401 `unauthenticated`. For every read and write, each
//! outsider (the station staff and the deputy of 幸福里, the office staff of a region that does
//! not hold B, and a handling unit B's item was never referred to) is answered 403 or 404, or,
//! for a list, 2xx without any trace of B ([`MARKERS`]: B's station id and name, the opinion's
//! id); a write is always 403 or 404 except the sync push, whose protocol answers 200 with each
//! mutation rejected `forbidden`. After every call by an outsider the [`fingerprint`] of the
//! database (every table's content, the logs of requests aside) is as before. And B's own staff
//! read every list with B's data in it, so that the marker check would catch a leak.
//!
//! [`every_route_is_in_the_matrix`] reads the server's sources for `.route("…", get(…)…)` and
//! fails when a route is added without a line here.

use super::accounts::app_with_accounts;
use super::followup::{
    HEPING, HOUSING, HOUSING_NAME, URBAN, XINGFULI, create, intake, refer, today,
};
use super::sync::{client, set, stamp};
use super::{TestApp, body_bytes, body_json};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use liaison_domain::followup::{
    AttendanceKey, AttendanceMark, CHINA_UTC_OFFSET_MINUTES, Date, Mark,
};
use liaison_domain::sync::{Mutation, MutationKind, OpinionFieldValue, PROTOCOL_VERSION, Seq};
use liaison_domain::{OpinionId, OutcomeKind, PhotoId, PhotoRef, Role, Scope};
use liaison_server::Settings;
use liaison_server::db::Backend;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// What B's data looks like in any answer: an outsider's answer must hold none of these.
const MARKERS: [&str; 2] = [HEPING, "和平街道代表之家"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Guard {
    Public,
    Own,
    Read,
    Write,
}

#[derive(Clone, Debug)]
pub(super) enum Payload {
    None,
    Json(Value),
    Bytes(&'static str, Vec<u8>),
}

/// One line of the matrix: the route as the router names it, the request to send.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub method: Method,
    /// As in the router: `/api/v1/opinions/{id}`.
    pub route: &'static str,
    pub uri: String,
    pub payload: Payload,
    pub guard: Guard,
}

impl Entry {
    fn new(
        method: Method,
        route: &'static str,
        uri: String,
        payload: Payload,
        guard: Guard,
    ) -> Self {
        Entry {
            method,
            route,
            uri,
            payload,
            guard,
        }
    }

    pub(super) fn request(&self, token: Option<&str>) -> Request<Body> {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(&self.uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match &self.payload {
            Payload::None => Body::empty(),
            Payload::Json(value) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(value.to_string())
            }
            Payload::Bytes(content_type, bytes) => {
                request = request.header(header::CONTENT_TYPE, *content_type);
                Body::from(bytes.clone())
            }
        };
        request.body(body).unwrap()
    }
}

/// B's records the matrix aims at.
pub(super) struct Target {
    pub opinion: OpinionId,
    pub photo: PhotoId,
    pub jpeg: Vec<u8>,
    pub device: String,
}

fn photo_id() -> PhotoId {
    PhotoId::new_v7(super::followup::now_ms() - 60_000, [0x77; 10])
}

/// Every `/api` route. `caller` makes the push's client id the caller's own.
pub(super) fn matrix(target: &Target, caller: u8) -> Vec<Entry> {
    use Guard::*;
    use Method as M;
    let opinion = target.opinion;
    let from = today().add_days(-30);
    let to = today();
    let period = format!("from={from}&to={to}");
    let c = client(100 + caller);
    let push = json!({
        "protocol": PROTOCOL_VERSION,
        "app_version": Settings::DEFAULT_MIN_APP_VERSION,
        "client_id": c,
        "mutations": [
            create(c, 1, intake(60 + caller, HEPING, "deputy-demo-wang", OutcomeKind::ToBeReferred)),
            set(c, 2, 20, opinion, vec![OpinionFieldValue::Summary("篡改".into())]),
            Mutation::new(c, Seq(3), stamp(c, 30), MutationKind::DeleteOpinion { id: opinion }),
        ],
    });
    let digest = hex_digest(&target.jpeg);
    let photo = target.photo;
    vec![
        Entry::new(
            M::GET,
            "/api/health",
            "/api/health".into(),
            Payload::None,
            Public,
        ),
        Entry::new(
            M::GET,
            "/api/v1/directory",
            "/api/v1/directory".into(),
            Payload::None,
            Public,
        ),
        Entry::new(
            M::POST,
            "/api/v1/session",
            "/api/v1/session".into(),
            Payload::Json(json!({"username": "staff-heping", "password": "not the password"})),
            Public,
        ),
        Entry::new(
            M::DELETE,
            "/api/v1/session",
            "/api/v1/session".into(),
            Payload::None,
            Own,
        ),
        Entry::new(
            M::GET,
            "/api/v1/me",
            "/api/v1/me".into(),
            Payload::None,
            Own,
        ),
        Entry::new(
            M::GET,
            "/api/v1/sync/events",
            "/api/v1/sync/events".into(),
            Payload::None,
            Own,
        ),
        Entry::new(
            M::POST,
            "/api/v1/devices",
            "/api/v1/devices".into(),
            Payload::Json(json!({"station_id": HEPING, "name": "平板"})),
            Write,
        ),
        Entry::new(
            M::GET,
            "/api/v1/devices",
            format!("/api/v1/devices?station={HEPING}"),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::DELETE,
            "/api/v1/devices/{id}",
            format!("/api/v1/devices/{}", target.device),
            Payload::None,
            Write,
        ),
        Entry::new(
            M::POST,
            "/api/v1/devices/status",
            "/api/v1/devices/status".into(),
            Payload::Json(json!({"device_token": "not a device token"})),
            Public,
        ),
        Entry::new(
            M::POST,
            "/api/v1/device-keys",
            "/api/v1/device-keys".into(),
            Payload::Json(json!({"usernames": ["staff-heping", "deputy-heping"]})),
            Own,
        ),
        Entry::new(
            M::POST,
            "/api/v1/sync/push",
            "/api/v1/sync/push".into(),
            Payload::Json(push),
            Write,
        ),
        Entry::new(
            M::POST,
            "/api/v1/sync/pull",
            "/api/v1/sync/pull".into(),
            Payload::Json(json!({"protocol": PROTOCOL_VERSION, "cursor": 0, "limit": 500})),
            Read,
        ),
        Entry::new(
            M::PUT,
            "/api/v1/photos/{id}",
            format!("/api/v1/photos/{photo}?opinion={opinion}&sha256={digest}"),
            Payload::Bytes("image/jpeg", target.jpeg.clone()),
            Write,
        ),
        Entry::new(
            M::GET,
            "/api/v1/photos/{id}",
            format!("/api/v1/photos/{photo}?opinion={opinion}"),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::GET,
            "/api/v1/units",
            "/api/v1/units".into(),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::GET,
            "/api/v1/calendar",
            "/api/v1/calendar".into(),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::PUT,
            "/api/v1/calendar",
            "/api/v1/calendar".into(),
            Payload::Json(json!({"holidays": [], "make_up_working_days": []})),
            Write,
        ),
        Entry::new(
            M::GET,
            "/api/v1/ledger",
            "/api/v1/ledger".into(),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::GET,
            "/api/v1/opinions/{id}",
            format!("/api/v1/opinions/{opinion}"),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::POST,
            "/api/v1/opinions/{id}/steps",
            format!("/api/v1/opinions/{opinion}/steps"),
            Payload::Json(json!({"action": "note", "kind": "reminder", "text": "催办"})),
            Write,
        ),
        Entry::new(
            M::POST,
            "/api/v1/opinions/{id}/personal-data",
            format!("/api/v1/opinions/{opinion}/personal-data"),
            Payload::Json(json!({"purpose": "回访群众"})),
            Read,
        ),
        Entry::new(
            M::GET,
            "/api/v1/attendance",
            "/api/v1/attendance".into(),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::GET,
            "/api/v1/roster",
            format!("/api/v1/roster?{period}"),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::PUT,
            "/api/v1/roster",
            "/api/v1/roster".into(),
            Payload::Json(json!({"station_id": HEPING, "day": to, "deputy_ids": []})),
            Write,
        ),
        Entry::new(
            M::GET,
            "/api/v1/activities",
            format!("/api/v1/activities?{period}"),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::POST,
            "/api/v1/activities",
            "/api/v1/activities".into(),
            Payload::Json(activity(HEPING, 0x51 + caller, "外人登记的活动")),
            Write,
        ),
        Entry::new(
            M::GET,
            "/api/v1/figures",
            format!("/api/v1/figures?{period}&by=station"),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::GET,
            "/api/v1/register",
            format!("/api/v1/register?{period}"),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::GET,
            "/api/v1/audit",
            "/api/v1/audit".into(),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::GET,
            "/api/v1/exports/register",
            format!("/api/v1/exports/register?format=csv&{period}"),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::GET,
            "/api/v1/exports/ledger",
            "/api/v1/exports/ledger?format=csv".into(),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::GET,
            "/api/v1/accounts",
            "/api/v1/accounts".into(),
            Payload::None,
            Read,
        ),
        Entry::new(
            M::PUT,
            "/api/v1/accounts/{username}",
            "/api/v1/accounts/staff-heping".into(),
            Payload::Json(json!({
                "role": "station_staff",
                "scopes": [{"station": XINGFULI}],
                "disabled": false,
            })),
            Write,
        ),
    ]
}

fn activity(station: &str, n: u8, title: &str) -> Value {
    json!({
        "id": OpinionId::new_v7(super::followup::now_ms() - 60_000, [n; 10]),
        "station_id": station,
        "kind": "collective_reception",
        "title": title,
        "day": today(),
        "attendees": ["deputy-demo-wang"],
        "citizens_received": 12,
        "note": "",
    })
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The content of every table but `except`, each table's rows hashed in a stable order: two
/// fingerprints are equal when nothing was inserted, changed or deleted.
pub(super) async fn fingerprint(app: &TestApp, except: &[&str]) -> Vec<(String, String)> {
    let mut conn = app.db.acquire().await.unwrap();
    let backend = app.db.backend();
    let tables_sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%' ORDER BY name"
        }
    };
    let tables: Vec<String> = conn
        .query(tables_sql)
        .fetch_all()
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get("name").unwrap())
        .filter(|name: &String| !except.contains(&name.as_str()))
        .collect();
    let mut out = Vec::new();
    for table in tables {
        let sql = match backend {
            Backend::Sqlite => {
                let columns: Vec<String> = conn
                    .query("SELECT name FROM pragma_table_info($1)")
                    .bind(table.as_str())
                    .fetch_all()
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| row.try_get("name").unwrap())
                    .collect();
                let row = columns
                    .iter()
                    .map(|c| format!("quote(\"{c}\")"))
                    .collect::<Vec<_>>()
                    .join(" || ',' || ");
                format!(
                    "SELECT COALESCE(group_concat(r, '|'), '') AS value \
                     FROM (SELECT {row} AS r FROM \"{table}\" ORDER BY r)"
                )
            }
            Backend::Postgres => format!(
                "SELECT COALESCE(string_agg(CAST(t AS TEXT), '|' ORDER BY CAST(t AS TEXT)), '') \
                 AS value FROM \"{table}\" AS t"
            ),
        };
        let content: String = conn
            .query(&sql)
            .fetch_one()
            .await
            .unwrap()
            .try_get("value")
            .unwrap();
        let digest = hex_digest(content.as_bytes());
        out.push((table, digest));
    }
    out
}

/// Tables that a refused request may write to: the audit log (refusals and sign-in failures
/// are audited), and the sync protocol's record of a rejected mutation (its seq is consumed).
pub(super) const REQUEST_LOGS: [&str; 3] = ["audit_log", "mutations", "sync_clients"];

/// The demo accounts, an office of the street only (幸福里's region, not 和平's), an
/// administrator, the two units, and B's records, written by B's staff.
async fn world() -> (TestApp, Target, Vec<(&'static str, String)>, String, String) {
    let app = app_with_accounts().await;
    for (id, name) in [(HOUSING, HOUSING_NAME), (URBAN, "区城市管理局")] {
        app.db
            .put_unit(&liaison_domain::followup::HandlingUnit {
                id: id.into(),
                name: name.into(),
                region_id: "region-demo-district".into(),
            })
            .await
            .unwrap();
    }
    app.add_user(
        "office-street",
        Role::OfficeStaff,
        None,
        &[Scope::Region("region-demo-street".into())],
    )
    .await;
    app.add_user("admin", Role::Admin, None, &[]).await;
    app.add_unit_user("unit-housing", HOUSING).await;
    app.add_unit_user("unit-urban", URBAN).await;
    let heping = app.token("staff-heping", None).await;
    let admin = app.token("admin", None).await;

    // B's opinion with a photo, referred to the housing unit.
    let photo = photo_id();
    let jpeg = b"\xff\xd8\xff\xe0 B's photo \xff\xd9".to_vec();
    let mut opinion = intake(50, HEPING, "deputy-demo-wang", OutcomeKind::ToBeReferred);
    opinion.photos = vec![PhotoRef {
        id: photo,
        mime: "image/jpeg".into(),
        width: 1600,
        height: 1200,
        bytes: jpeg.len() as u32,
    }];
    let id = opinion.id;
    let c = client(90);
    let now = super::followup::now_ms();
    let mark = MutationKind::MarkAttendance {
        mark: AttendanceMark {
            key: AttendanceKey {
                station_id: HEPING.into(),
                deputy_id: "deputy-demo-wang".into(),
                day: Date::from_unix_ms(now as i64, CHINA_UTC_OFFSET_MINUTES),
            },
            mark: Mark::SignIn,
            at_ms: now,
        },
    };
    let signed_in = Mutation::new(c, Seq(2), stamp(c, 20), mark);
    let answer = app
        .push_ok(&heping, c, vec![create(c, 1, opinion), signed_in])
        .await;
    assert!(answer.rejected.is_empty(), "{answer:?}");
    let response = app
        .request(
            Entry::new(
                Method::PUT,
                "",
                format!(
                    "/api/v1/photos/{photo}?opinion={id}&sha256={}",
                    hex_digest(&jpeg)
                ),
                Payload::Bytes("image/jpeg", jpeg.clone()),
                Guard::Write,
            )
            .request(Some(&heping)),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let calendar = app.db.work_calendar().await.unwrap();
    let due = calendar.add_working_days(today(), 5);
    let response = app
        .call(
            Method::POST,
            &format!("/api/v1/opinions/{id}/steps"),
            Some(&heping),
            Some(refer(HOUSING, HOUSING_NAME, 5, due)),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let device = body_json(app.enroll(&heping, HEPING).await).await;
    let response = app
        .call(
            Method::PUT,
            "/api/v1/roster",
            Some(&heping),
            Some(json!({"station_id": HEPING, "day": today(), "deputy_ids": ["deputy-demo-wang"]})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .call(
            Method::POST,
            "/api/v1/activities",
            Some(&heping),
            Some(activity(HEPING, 0x50, "和平的集体接待")),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // An export by B's staff: an audit record about B.
    let uri = "/api/v1/exports/ledger?format=csv&personal=true";
    assert_eq!(
        app.call(Method::GET, uri, Some(&heping), None)
            .await
            .status(),
        StatusCode::OK
    );

    // A tablet of 幸福里, on which B's own staff signs in: a tablet shows its own station only.
    let staff_a = app.token("staff-xingfuli", None).await;
    let tablet_a = body_json(app.enroll(&staff_a, XINGFULI).await).await;
    let tablet_a = tablet_a["device_token"].as_str().unwrap().to_owned();
    let outsiders = vec![
        (
            "B's staff on another station's tablet",
            app.token("staff-heping", Some(&tablet_a)).await,
        ),
        (
            "another station's staff",
            app.token("staff-xingfuli", None).await,
        ),
        (
            "another station's deputy",
            app.token("deputy-zhang", None).await,
        ),
        (
            "another region's office",
            app.token("office-street", None).await,
        ),
        (
            "a unit never referred to",
            app.token("unit-urban", None).await,
        ),
    ];
    let target = Target {
        opinion: id,
        photo,
        jpeg,
        device: device["id"].as_str().unwrap().to_owned(),
    };
    (app, target, outsiders, heping, admin)
}

#[tokio::test]
async fn every_guarded_route_answers_401_without_a_token_and_stores_nothing() {
    let (app, target, _, _, _) = world().await;
    let before = fingerprint(&app, &["audit_log"]).await;
    for entry in matrix(&target, 0) {
        if entry.guard == Guard::Public {
            continue;
        }
        let what = format!("{} {}", entry.method, entry.route);
        let response = app.request(entry.request(None)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            body_json(response).await["error"]["code"],
            "unauthenticated",
            "{what}"
        );
    }
    assert_eq!(fingerprint(&app, &["audit_log"]).await, before);
}

#[tokio::test]
async fn outsiders_can_neither_read_nor_write_another_stations_data() {
    let (app, target, outsiders, _, _) = world().await;
    let opinion = target.opinion.to_string();
    for (n, (who, token)) in outsiders.iter().enumerate() {
        for entry in matrix(&target, n as u8) {
            if !matches!(entry.guard, Guard::Read | Guard::Write) {
                continue;
            }
            let what = format!("{who}: {} {}", entry.method, entry.uri);
            // A tablet's first push binds its sync client to the device: bookkeeping of the
            // protocol, like the rejected mutations' seqs.
            let except: Vec<&str> = if entry.route == "/api/v1/sync/push" {
                REQUEST_LOGS.iter().copied().chain(["devices"]).collect()
            } else {
                REQUEST_LOGS.to_vec()
            };
            let before = fingerprint(&app, &except).await;
            let response = app.request(entry.request(Some(token))).await;
            let status = response.status();
            let body = String::from_utf8_lossy(&body_bytes(response).await).into_owned();
            let refused = [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&status);
            let is_push = entry.route == "/api/v1/sync/push";
            if entry.guard == Guard::Write && !is_push {
                assert!(refused, "{what}: {status} {body}");
            } else {
                assert!(refused || status.is_success(), "{what}: {status} {body}");
            }
            if is_push && status.is_success() {
                let answer: Value = serde_json::from_str(&body).unwrap();
                let codes: Vec<&str> = answer["rejected"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["code"].as_str().unwrap())
                    .collect();
                assert_eq!(codes, ["forbidden"; 3], "{what}: {body}");
            }
            for marker in MARKERS.iter().copied().chain([opinion.as_str()]) {
                assert!(!body.contains(marker), "{what}: {marker} in {body}");
            }
            let after = fingerprint(&app, &except).await;
            let changed: Vec<&str> = after
                .iter()
                .zip(&before)
                .filter(|(a, b)| a != b)
                .map(|(a, _)| a.0.as_str())
                .collect();
            assert!(
                changed.is_empty() && after.len() == before.len(),
                "{what}: stored in {changed:?}"
            );
        }
    }
}

/// B's own staff (and the administrator where the route is theirs alone) read B's data on every
/// list: the markers the outsiders' test looks for are really there.
#[tokio::test]
async fn insiders_read_what_outsiders_cannot() {
    let (app, target, _, heping, admin) = world().await;
    for entry in matrix(&target, 9) {
        if entry.guard != Guard::Read {
            continue;
        }
        let token = if entry.route == "/api/v1/accounts" || entry.route == "/api/v1/audit" {
            &admin
        } else {
            &heping
        };
        let what = format!("{} {}", entry.method, entry.uri);
        let response = app.request(entry.request(Some(token))).await;
        let status = response.status();
        let body = String::from_utf8_lossy(&body_bytes(response).await).into_owned();
        assert!(status.is_success(), "{what}: {status} {body}");
        // Lists that hold nothing of a station: units, the calendar; a photo is bytes.
        let without_station = ["/api/v1/units", "/api/v1/calendar", "/api/v1/photos/{id}"];
        if !without_station.contains(&entry.route) {
            assert!(
                MARKERS.iter().any(|m| body.contains(m))
                    || body.contains(&target.opinion.to_string()),
                "{what}: no trace of B in {body}"
            );
        }
    }
}

/// The routes of the server's sources: `.route("/path", get(a).put(b))` in `src/*.rs`, under
/// `/api` in `api.rs` and `/api/v1` elsewhere (as `api::router` nests them).
fn routes_in_sources() -> BTreeSet<(String, String)> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut routes = BTreeSet::new();
    for file in std::fs::read_dir(&src).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let prefix = if path.file_name().unwrap() == "api.rs" {
            "/api"
        } else {
            "/api/v1"
        };
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(\"") {
            rest = &rest[at + ".route(\"".len()..];
            let end = rest.find('"').unwrap();
            let route = format!("{prefix}{}", &rest[..end]);
            // The handlers up to the next route, or the end of the builder.
            let until = [rest.find(".route("), rest.find("\n}")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(rest.len());
            let expression = &rest[end..until];
            for method in ["get", "post", "put", "delete", "patch"] {
                let call = format!("{method}(");
                let mut at = 0;
                while let Some(found) = expression[at..].find(&call) {
                    let start = at + found;
                    let before = expression[..start].chars().last();
                    if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                        routes.insert((method.to_uppercase(), route.clone()));
                    }
                    at = start + call.len();
                }
            }
        }
    }
    routes
}

#[test]
fn every_route_is_in_the_matrix() {
    let target = Target {
        opinion: OpinionId::new_v7(0, [0; 10]),
        photo: PhotoId::new_v7(0, [0; 10]),
        jpeg: Vec::new(),
        device: String::new(),
    };
    let listed: BTreeSet<(String, String)> = matrix(&target, 0)
        .into_iter()
        .map(|e| (e.method.to_string(), e.route.to_owned()))
        .collect();
    let routed = routes_in_sources();
    assert!(
        routed.len() > 20,
        "the source scan finds the routes: {routed:?}"
    );
    let missing: Vec<_> = routed.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&routed).collect();
    assert!(
        missing.is_empty(),
        "routes without a line in the matrix: {missing:?}"
    );
    assert!(stale.is_empty(), "matrix lines without a route: {stale:?}");
}
