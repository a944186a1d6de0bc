//! The audit log: what is recorded (sign-ins and failures without the password, lockouts,
//! sign-outs, devices, steps online and pushed, account changes), that the database keeps it
//! append-only (both backends), the viewer's filters and scopes; the sign-in rate limit; and
//! the account administration routes.

use super::accounts::app_with_accounts;
use super::followup::{HEPING, XINGFULI, create, intake, step_by, the_loop};
use super::{assert_json_error, body_json, header, spawn_app_with};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use liaison_domain::followup::{Action, NoteKind};
use liaison_domain::sync::{Mutation, MutationKind, Seq};
use liaison_domain::{OutcomeKind, Role, Scope};
use liaison_server::rate_limit::Rate;
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";

async fn records(app: &super::TestApp, token: &str, query: &str) -> Vec<Value> {
    let response = app
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

fn actions(records: &[Value]) -> Vec<(String, String)> {
    records
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["username"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn sign_ins_failures_lockouts_sign_outs_and_devices_are_recorded_without_passwords() {
    let app = app_with_accounts().await;
    app.add_user("admin", Role::Admin, None, &[]).await;
    let admin = app.token("admin", None).await;
    let staff = app.token("staff-xingfuli", None).await;
    for _ in 0..5 {
        let response = app
            .sign_in_with("deputy-zhang", "wrong secret 42", None)
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app
        .sign_in_with("Nobody\0Here", "wrong secret 42", None)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let device = body_json(app.enroll(&staff, XINGFULI).await).await;
    let device_id = device["id"].as_str().unwrap();
    let response = app
        .call(
            Method::DELETE,
            &format!("/api/v1/devices/{device_id}"),
            Some(&staff),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .call(Method::DELETE, "/api/v1/session", Some(&staff), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let all = records(&app, &admin, "?limit=1000").await;
    let text = Value::Array(all.clone()).to_string();
    assert!(
        !text.contains("wrong secret 42") && !text.contains(PASSWORD),
        "no password"
    );
    let mut seen = actions(&all);
    seen.reverse();
    let expected: Vec<(String, String)> = [
        ("sign_in", "admin"),
        ("sign_in", "staff-xingfuli"),
        ("sign_in_failed", "deputy-zhang"),
        ("sign_in_failed", "deputy-zhang"),
        ("sign_in_failed", "deputy-zhang"),
        ("sign_in_failed", "deputy-zhang"),
        ("lockout", "deputy-zhang"),
        ("device_enrolled", "staff-xingfuli"),
        ("device_revoked", "staff-xingfuli"),
        ("sign_out", "staff-xingfuli"),
    ]
    .iter()
    .map(|(a, u)| (a.to_string(), u.to_string()))
    .collect();
    // The NUL username is refused before it is looked up, and recorded without the NUL.
    let without_unknown: Vec<_> = seen
        .iter()
        .filter(|(_, u)| !u.to_lowercase().starts_with("nobody"))
        .cloned()
        .collect();
    assert_eq!(without_unknown, expected);
    let nul = all
        .iter()
        .find(|r| r["username"] == "Nobody\u{fffd}Here")
        .expect("the NUL username's failure");
    assert_eq!(nul["detail"]["reason"], "control_character");
    assert_eq!(nul["user_id"], "");
    let failure = all
        .iter()
        .find(|r| r["action"] == "sign_in_failed" && r["username"] == "deputy-zhang")
        .unwrap();
    assert_eq!(failure["detail"]["reason"], "wrong_password");
    assert_eq!(failure["detail"]["username"], "deputy-zhang");
    let enrolled = all
        .iter()
        .find(|r| r["action"] == "device_enrolled")
        .unwrap();
    assert_eq!(enrolled["station_id"], XINGFULI);
    assert_eq!(enrolled["detail"]["device_id"], device_id);
    // While locked, a right password is a recorded failure too.
    let response = app.sign_in_with("deputy-zhang", PASSWORD, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let latest = &records(&app, &admin, "?limit=1").await[0];
    assert_eq!(latest["detail"]["reason"], "locked");
}

#[tokio::test]
async fn steps_online_and_pushed_are_recorded_with_their_station() {
    let l = the_loop().await;
    let app = &l.app;
    let opinion = intake(1, XINGFULI, "deputy-demo-zhang", OutcomeKind::ToBeReferred);
    let id = opinion.id;
    let c = l.tablet_client;
    let answer = app.push_ok(&l.tablet, c, vec![create(c, 1, opinion)]).await;
    assert!(answer.rejected.is_empty());
    let by = app.actor(&l.tablet).await;
    let note = Action::Note {
        kind: NoteKind::ReturnVisit,
        text: "回访".into(),
    };
    let step = step_by(&by, super::followup::now_ms() - 1000, note);
    let pushed = Mutation::new(
        c,
        Seq(2),
        super::sync::stamp(c, 20),
        MutationKind::RecordFollowUp {
            opinion_id: id,
            step: step.clone(),
        },
    );
    let answer = app.push_ok(&l.tablet, c, vec![pushed.clone()]).await;
    assert!(answer.rejected.is_empty(), "{answer:?}");
    // The same step again changes nothing and is not recorded again.
    let again = Mutation {
        seq: Seq(3),
        ..pushed
    };
    app.push_ok(&l.tablet, c, vec![again]).await;
    let response = app
        .call(
            Method::POST,
            &format!("/api/v1/opinions/{id}/steps"),
            Some(&l.office),
            Some(json!({"action": "note", "kind": "reminder", "text": "催办"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let steps = records(app, &l.admin, "?action=step").await;
    assert_eq!(
        actions(&steps),
        [
            ("step".to_owned(), "office".to_owned()),
            ("step".to_owned(), "deputy-zhang".to_owned()),
        ]
    );
    for record in &steps {
        assert_eq!(record["station_id"], XINGFULI);
        assert_eq!(record["detail"]["opinion_id"], json!(id));
        assert_eq!(record["detail"]["action"], "note");
    }
    assert_eq!(steps[1]["detail"]["step_id"], json!(step.id));
    assert_eq!(steps[1]["detail"]["client_id"], json!(c));
}

#[tokio::test]
async fn the_database_refuses_to_change_or_delete_young_audit_records() {
    let app = app_with_accounts().await;
    app.token("staff-xingfuli", None).await;
    let mut conn = app.db.acquire().await.unwrap();
    for sql in [
        "UPDATE audit_log SET username = 'someone else'",
        "UPDATE audit_log SET at_ms = 0",
        "DELETE FROM audit_log",
    ] {
        assert!(conn.query(sql).execute().await.is_err(), "{sql}");
    }
    drop(conn);
    let now = super::followup::now_ms() as i64;
    let day = 86_400_000i64;
    let mut conn = app.db.acquire().await.unwrap();
    for age in [179, 181, 400] {
        conn.query(
            "INSERT INTO audit_log (at_ms, user_id, username, display_name, action, detail) \
             VALUES ($1, 'u', 'old', 'old', 'sign_in', '{}')",
        )
        .bind(now - age * day)
        .execute()
        .await
        .unwrap();
    }
    drop(conn);
    let total = super::sync::count(&app.db, "audit_log").await;
    // Asked for 30 days, the purge keeps 180.
    assert_eq!(app.db.purge_audit(30, now).await.unwrap(), 2);
    assert_eq!(app.db.purge_audit(365, now).await.unwrap(), 0);
    // Two records of the purges themselves.
    assert_eq!(
        super::sync::count(&app.db, "audit_log").await,
        total - 2 + 2
    );
}

#[tokio::test]
async fn the_viewer_filters_pages_and_keeps_office_staff_to_their_stations() {
    let l = the_loop().await;
    let app = &l.app;
    // Records about each station: a device enrolled at each.
    app.enroll(&l.heping, HEPING).await;
    let street = {
        app.add_user(
            "office-street",
            Role::OfficeStaff,
            None,
            &[Scope::Region("region-demo-street".into())],
        )
        .await;
        app.token("office-street", None).await
    };
    let all = records(app, &l.admin, "?limit=1000").await;
    assert!(
        all.windows(2)
            .all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()),
        "newest first"
    );

    let by_actor = records(app, &l.admin, "?actor=STAFF-HEPING").await;
    assert!(!by_actor.is_empty() && by_actor.iter().all(|r| r["username"] == "staff-heping"));
    let by_station = records(app, &l.admin, &format!("?station={HEPING}")).await;
    assert!(!by_station.is_empty() && by_station.iter().all(|r| r["station_id"] == HEPING));
    let today = super::followup::today();
    let in_period = records(
        app,
        &l.admin,
        &format!("?from={today}&to={today}&limit=1000"),
    )
    .await;
    assert_eq!(in_period.len(), all.len());
    let tomorrow = today.add_days(1);
    assert!(
        records(app, &l.admin, &format!("?from={tomorrow}"))
            .await
            .is_empty()
    );
    // Paging by id: two pages of 2 are the first 4.
    let first = records(app, &l.admin, "?limit=2").await;
    let next = records(
        app,
        &l.admin,
        &format!("?limit=2&before={}", first[1]["id"]),
    )
    .await;
    let ids: Vec<_> = first.iter().chain(&next).map(|r| r["id"].clone()).collect();
    let expected: Vec<_> = all[..4].iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids, expected);

    // The district's office reads both stations' records; the street's only 幸福里's; neither
    // reads what belongs to no station (sign-ins).
    let district = records(app, &l.office, "?limit=1000").await;
    assert!(district.iter().any(|r| r["station_id"] == HEPING));
    let mine = records(app, &street, "?limit=1000").await;
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|r| r["station_id"] == XINGFULI), "{mine:?}");
    let asked = records(app, &street, &format!("?station={HEPING}")).await;
    assert!(asked.is_empty());
    for token in [&l.staff, &l.tablet, &l.housing] {
        let response = app
            .call(Method::GET, "/api/v1/audit", Some(token), None)
            .await;
        assert_json_error(response, StatusCode::FORBIDDEN, "forbidden", "audit").await;
    }
    for (query, code) in [
        ("?from=yesterday", "invalid_date"),
        ("?before=x", "invalid_number"),
    ] {
        let response = app
            .call(
                Method::GET,
                &format!("/api/v1/audit{query}"),
                Some(&l.admin),
                None,
            )
            .await;
        assert_json_error(response, StatusCode::BAD_REQUEST, code, query).await;
    }
}

#[tokio::test]
async fn sign_ins_are_rate_limited_per_username_and_per_address() {
    let app = spawn_app_with(|settings| {
        settings.sign_in_per_username = Rate {
            burst: 3,
            every: Duration::from_secs(60),
        };
        settings.sign_in_per_address = Rate {
            burst: 5,
            every: Duration::from_secs(60),
        };
        settings.trust_forwarded_for = true;
    })
    .await;
    app.db.seed_demo().await.unwrap();
    app.add_user(
        "staff",
        Role::StationStaff,
        None,
        &[Scope::Station(XINGFULI.into())],
    )
    .await;
    let sign_in = |username: &str, address: &str| {
        Request::post("/api/v1/session")
            .header("content-type", "application/json")
            .header("x-forwarded-for", format!("10.0.0.1, {address}"))
            .body(Body::from(
                json!({"username": username, "password": "wrong"}).to_string(),
            ))
            .unwrap()
    };
    // Right passwords do not use the buckets up: a shift change of many sign-ins goes through.
    for _ in 0..8 {
        let response = app.sign_in_with("staff", PASSWORD, None).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    for n in 0..3 {
        let response = app.request(sign_in("staff", &format!("192.0.2.{n}"))).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // The username's bucket is empty, from any address; even the right password waits.
    let response = app.request(sign_in("Staff", "192.0.2.9")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header(&response, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_json_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_sign_ins",
        "user",
    )
    .await;
    let response = app.sign_in_with("staff", PASSWORD, None).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // One address trying many usernames.
    for n in 0..5 {
        let response = app
            .request(sign_in(&format!("guess-{n}"), "198.51.100.7"))
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{n}");
    }
    let response = app.request(sign_in("guess-9", "198.51.100.7")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let response = app.request(sign_in("guess-9", "198.51.100.8")).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "another address"
    );
    // Throttled attempts are neither counted against the account nor recorded.
    let failed: i64 = super::sync::scalar(
        &app.db,
        "SELECT CAST(failed_attempts AS BIGINT) AS value FROM users WHERE username = 'staff'",
    )
    .await;
    assert_eq!(failed, 3);
}

#[tokio::test]
async fn administrators_list_and_change_accounts_and_each_change_is_recorded() {
    let l = the_loop().await;
    let app = &l.app;
    let response = app
        .call(Method::GET, "/api/v1/accounts", Some(&l.admin), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let accounts = body_json(response).await;
    let names: Vec<&str> = accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"staff-heping") && !names.contains(&"system"),
        "{names:?}"
    );
    assert!(
        !accounts.to_string().contains("argon2"),
        "no password hashes"
    );
    for token in [&l.office, &l.staff, &l.tablet, &l.housing] {
        let response = app
            .call(Method::GET, "/api/v1/accounts", Some(token), None)
            .await;
        assert_json_error(response, StatusCode::FORBIDDEN, "forbidden", "list").await;
    }

    // 和平's staff moves to 幸福里.
    let change = json!({"role": "station_staff", "scopes": [{"station": XINGFULI}]});
    let uri = "/api/v1/accounts/staff-heping";
    let response = app
        .call(Method::PUT, uri, Some(&l.office), Some(change.clone()))
        .await;
    assert_json_error(response, StatusCode::FORBIDDEN, "forbidden", "office").await;
    let response = app
        .call(Method::PUT, uri, Some(&l.admin), Some(change))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let me = body_json(
        app.call(Method::GET, "/api/v1/me", Some(&l.heping), None)
            .await,
    )
    .await;
    assert_eq!(me["scopes"], json!([{"station": XINGFULI}]));
    let record = &records(app, &l.admin, "?action=account_changed").await[0];
    assert_eq!(record["username"], "admin");
    assert_eq!(
        record["detail"]["before"]["scopes"],
        json!([{"station": HEPING}])
    );
    assert_eq!(
        record["detail"]["after"]["scopes"],
        json!([{"station": XINGFULI}])
    );

    // Disabled: its sessions end at once.
    let disable = json!({"role": "station_staff", "scopes": [], "disabled": true});
    let response = app
        .call(Method::PUT, uri, Some(&l.admin), Some(disable))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .call(Method::GET, "/api/v1/me", Some(&l.heping), None)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    for (uri, body, code) in [
        (
            uri,
            json!({"role": "station_staff", "scopes": [{"station": "nowhere"}]}),
            "unknown_scope",
        ),
        (
            uri,
            json!({"role": "deputy", "scopes": []}),
            "unknown_deputy",
        ),
        (
            uri,
            json!({"role": "handling_unit", "unit_id": "nope"}),
            "unknown_unit",
        ),
        (
            "/api/v1/accounts/admin",
            json!({"role": "deputy"}),
            "own_account",
        ),
    ] {
        let response = app.call(Method::PUT, uri, Some(&l.admin), Some(body)).await;
        assert_json_error(response, StatusCode::UNPROCESSABLE_ENTITY, code, code).await;
    }
    let response = app
        .call(
            Method::PUT,
            "/api/v1/accounts/system",
            Some(&l.admin),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_json_error(response, StatusCode::NOT_FOUND, "not_found", "system").await;
}
