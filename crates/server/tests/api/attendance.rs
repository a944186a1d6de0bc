//! Duty records over HTTP: attendance marks pushed from several tablets converging to one record
//! per deputy, station and day (pulled by the station's readers, listed by `GET /attendance`),
//! who may mark whose attendance, pulls interleaving opinions and attendance in change order,
//! the duty roster and station events, per role.

use super::followup::{Loop, intake, the_loop, today};
use super::sync::{client, count, scalar, stamp};
use super::{assert_json_error, body_json};
use axum::http::{Method, StatusCode};
use liaison_domain::followup::{
    Activity, ActivityKind, Attendance, AttendanceKey, AttendanceMark, Date, Mark, RosterEntry,
};
use liaison_domain::sync::{
    Change, Cursor, Mutation, MutationKind, PROTOCOL_VERSION, PullResponse, RejectCode, Seq,
};
use liaison_domain::{ClientId, OutcomeKind};
use serde_json::{Value, json};
use tokio::task::JoinSet;

const XINGFULI: &str = "station-xingfuli";
const ZHANG: &str = "deputy-demo-zhang";
const LI: &str = "deputy-demo-li";
const WANG: &str = "deputy-demo-wang";
const HOUR_MS: u64 = 3_600_000;

/// Yesterday in China: the marks of these tests are at fixed hours of a day, and every hour of
/// yesterday is past (the server refuses a mark stamped ahead of its clock).
fn a_past_day() -> Date {
    today().add_days(-1)
}

/// `hour` o'clock in China on `day`, in milliseconds since the epoch.
fn at(day: Date, hour: u64, minute: u64) -> u64 {
    let midnight_utc = day.days_since_epoch() as i64 * 86_400_000;
    (midnight_utc - 8 * HOUR_MS as i64) as u64 + hour * HOUR_MS + minute * 60_000
}

fn key(station: &str, deputy: &str, day: Date) -> AttendanceKey {
    AttendanceKey {
        station_id: station.into(),
        deputy_id: deputy.into(),
        day,
    }
}

fn mark(client: ClientId, seq: u64, key: AttendanceKey, mark: Mark, at_ms: u64) -> Mutation {
    Mutation::new(
        client,
        Seq(seq),
        stamp(client, seq * 10),
        MutationKind::MarkAttendance {
            mark: AttendanceMark { key, mark, at_ms },
        },
    )
}

/// A second 幸福里 tablet with 张建国 signed in: its bearer token.
async fn second_tablet(l: &Loop) -> String {
    let device = body_json(l.app.enroll(&l.staff, XINGFULI).await).await;
    l.app
        .token("deputy-zhang", device["device_token"].as_str())
        .await
}

async fn attendance(l: &Loop, token: &str, query: &str) -> Vec<Attendance> {
    let response = l
        .app
        .call(
            Method::GET,
            &format!("/api/v1/attendance{query}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "attendance{query}");
    serde_json::from_value(body_json(response).await).unwrap()
}

fn pulled_attendance(pulled: &PullResponse) -> Vec<Attendance> {
    pulled
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Attendance { state, .. } => Some(state.clone()),
            Change::Opinion { .. } => None,
        })
        .collect()
}

/// The deputy signs in on tablet A, then (A's battery died) again earlier-stamped on B, signs
/// out on B, and A's late sign-out arrives last: one record, the earliest sign-in and the latest
/// sign-out, on the server, in both tablets' pulls and in `GET /attendance`. Two tablets pushing
/// at the same moment converge the same way.
#[tokio::test]
async fn two_tablets_marking_one_deputy_on_one_day_converge_to_one_record() {
    let l = the_loop().await;
    let app = &l.app;
    let b_token = second_tablet(&l).await;
    let (a, b) = (l.tablet_client, client(2));
    let day = a_past_day();
    let k = key(XINGFULI, ZHANG, day);

    let pushes = [
        (
            &l.tablet,
            a,
            vec![mark(a, 1, k.clone(), Mark::SignIn, at(day, 9, 5))],
        ),
        (
            &b_token,
            b,
            vec![
                mark(b, 1, k.clone(), Mark::SignIn, at(day, 9, 0)),
                mark(b, 2, k.clone(), Mark::SignOut, at(day, 17, 0)),
            ],
        ),
        (
            &l.tablet,
            a,
            vec![
                mark(a, 2, k.clone(), Mark::SignOut, at(day, 16, 30)),
                mark(a, 3, k.clone(), Mark::SignIn, at(day, 9, 5)),
            ],
        ),
    ];
    for (token, c, mutations) in pushes {
        let answer = app.push_ok(token, c, mutations).await;
        assert!(answer.rejected.is_empty(), "{answer:?}");
    }
    let expected = Attendance {
        key: k.clone(),
        signed_in_at_ms: Some(at(day, 9, 0)),
        signed_out_at_ms: Some(at(day, 17, 0)),
    };
    assert_eq!(
        count(&app.db, "attendance").await,
        1,
        "one row, not one per tablet"
    );
    assert_eq!(attendance(&l, &l.staff, "").await, vec![expected.clone()]);
    for token in [&l.tablet, &b_token] {
        let pulled = app.pull(token).await;
        assert_eq!(pulled_attendance(&pulled), vec![expected.clone()]);
    }
    // Five marks in the log under the record's key; the repeated sign-in changed nothing.
    let logged = scalar(
        &app.db,
        &format!(
            "SELECT COUNT(*) AS value FROM mutations \
             WHERE kind = 'mark_attendance' AND opinion_id = '{}'",
            k.id()
        ),
    )
    .await;
    assert_eq!(logged, 5);
    let changes = scalar(
        &app.db,
        "SELECT COUNT(change_seq) AS value FROM mutations WHERE kind = 'mark_attendance'",
    )
    .await;
    assert_eq!(
        changes, 3,
        "A's in, B's earlier in, B's out; A's out and repeat change nothing"
    );

    // The day before, both tablets push at the same moment.
    let yesterday = day.add_days(-1);
    let k = key(XINGFULI, ZHANG, yesterday);
    let mut pushes = JoinSet::new();
    for (token, c, seq, sign_in, sign_out) in [
        (
            l.tablet.clone(),
            a,
            4,
            at(yesterday, 8, 50),
            at(yesterday, 12, 0),
        ),
        (
            b_token.clone(),
            b,
            3,
            at(yesterday, 9, 10),
            at(yesterday, 18, 0),
        ),
    ] {
        let router = app.router.clone();
        let body = super::sync_routes::push_body(
            c,
            vec![
                mark(c, seq, k.clone(), Mark::SignIn, sign_in),
                mark(c, seq + 1, k.clone(), Mark::SignOut, sign_out),
            ],
        );
        pushes.spawn(async move {
            let request = axum::http::Request::post("/api/v1/sync/push")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            tower::ServiceExt::oneshot(router, request)
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = pushes.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    let rows = attendance(&l, &l.staff, &format!("?from={yesterday}&to={yesterday}")).await;
    assert_eq!(
        rows,
        vec![Attendance {
            key: k,
            signed_in_at_ms: Some(at(yesterday, 8, 50)),
            signed_out_at_ms: Some(at(yesterday, 18, 0)),
        }]
    );
    assert_eq!(count(&app.db, "attendance").await, 2);
}

/// Off a tablet a deputy marks only its own attendance, at a station it serves and may write; on
/// the station's tablet whoever is signed in marks any deputy of the station (the deputy on duty
/// is picked there without signing in); station staff mark any deputy of their station; nobody
/// marks at another station; a mark off its day is invalid.
#[tokio::test]
async fn who_may_mark_whose_attendance() {
    let l = the_loop().await;
    let app = &l.app;
    let day = a_past_day();
    let nine = at(day, 9, 0);
    let tc = l.tablet_client;
    let zhang_off_tablet = app.token("deputy-zhang", None).await;
    let cases = [
        // (who, token, client, mark, expected rejection)
        (
            "a deputy off a tablet marking another deputy",
            &zhang_off_tablet,
            client(25),
            key(XINGFULI, LI, day),
            Some(RejectCode::Forbidden),
        ),
        (
            "a deputy off a tablet marking itself",
            &zhang_off_tablet,
            client(25),
            key(XINGFULI, ZHANG, day),
            None,
        ),
        (
            "on the tablet, another deputy of the station",
            &l.tablet,
            tc,
            key(XINGFULI, LI, day),
            None,
        ),
        (
            "on the tablet, a deputy of another station",
            &l.tablet,
            tc,
            key(XINGFULI, WANG, day),
            Some(RejectCode::Invalid),
        ),
        (
            "a deputy marking itself",
            &l.tablet,
            tc,
            key(XINGFULI, ZHANG, day),
            None,
        ),
        (
            "a deputy at a station it does not serve",
            &l.wang,
            client(20),
            key(XINGFULI, WANG, day),
            Some(RejectCode::Forbidden),
        ),
        (
            "station staff marking a deputy of the station",
            &l.staff,
            client(21),
            key(XINGFULI, LI, day),
            None,
        ),
        (
            "station staff marking a deputy of another station",
            &l.staff,
            client(21),
            key(XINGFULI, WANG, day),
            Some(RejectCode::Invalid),
        ),
        (
            "station staff marking an unknown deputy",
            &l.staff,
            client(21),
            key(XINGFULI, "deputy-nobody", day),
            Some(RejectCode::Invalid),
        ),
        (
            "another station's staff",
            &l.heping,
            client(22),
            key(XINGFULI, ZHANG, day),
            Some(RejectCode::Forbidden),
        ),
        (
            "office staff of the district",
            &l.office,
            client(23),
            key(XINGFULI, "deputy-demo-chen", day),
            None,
        ),
        (
            "a handling unit",
            &l.housing,
            client(24),
            key(XINGFULI, ZHANG, day),
            Some(RejectCode::Forbidden),
        ),
    ];
    let mut seqs = std::collections::HashMap::new();
    for (who, token, c, k, expected) in cases {
        let seq = seqs.entry(c).and_modify(|s| *s += 1).or_insert(1u64);
        let answer = app
            .push_ok(token, c, vec![mark(c, *seq, k, Mark::SignIn, nine)])
            .await;
        assert_eq!(
            answer.rejected.first().map(|r| r.code),
            expected,
            "{who}: {answer:?}"
        );
        if expected == Some(RejectCode::Invalid) {
            assert_eq!(
                serde_json::to_value(&answer.rejected[0].errors).unwrap(),
                json!([["deputy", {"code": "unknown_choice"}]]),
                "{who}"
            );
        }
    }
    // A mark three days off its day.
    let answer = app
        .push_ok(
            &l.tablet,
            tc,
            vec![mark(
                tc,
                4,
                key(XINGFULI, ZHANG, day),
                Mark::SignOut,
                nine + 3 * 86_400_000,
            )],
        )
        .await;
    assert_eq!(answer.rejected[0].code, RejectCode::Invalid);

    let deputies: Vec<String> = attendance(&l, &l.office, "")
        .await
        .into_iter()
        .map(|a| a.key.deputy_id.0)
        .collect();
    assert_eq!(deputies, ["deputy-demo-chen", LI, ZHANG]);
}

/// Attendance is pulled and listed for the readers of its station only, within the period.
#[tokio::test]
async fn attendance_is_read_by_the_stations_readers_only() {
    let l = the_loop().await;
    let app = &l.app;
    let day = a_past_day();
    let tc = l.tablet_client;
    app.push_ok(
        &l.tablet,
        tc,
        vec![mark(
            tc,
            1,
            key(XINGFULI, ZHANG, day),
            Mark::SignIn,
            at(day, 9, 0),
        )],
    )
    .await;
    for (who, token) in [
        ("和平 staff", &l.heping),
        ("和平 deputy", &l.wang),
        ("a unit", &l.housing),
    ] {
        assert!(attendance(&l, token, "").await.is_empty(), "{who}");
        assert!(
            pulled_attendance(&app.pull(token).await).is_empty(),
            "{who}"
        );
    }
    assert_eq!(attendance(&l, &l.office, "").await.len(), 1);
    assert_eq!(attendance(&l, &l.tablet, "").await.len(), 1);
    let tomorrow = day.add_days(1);
    let yesterday = day.add_days(-1);
    for (query, n) in [
        (format!("?station={XINGFULI}&from={day}&to={day}"), 1),
        (format!("?from={tomorrow}"), 0),
        (format!("?to={yesterday}"), 0),
        ("?station=station-heping".to_owned(), 0),
        ("?station=&from=&to=".to_owned(), 1),
    ] {
        assert_eq!(attendance(&l, &l.office, &query).await.len(), n, "{query}");
    }
    let response = app
        .call(
            Method::GET,
            "/api/v1/attendance?from=today",
            Some(&l.office),
            None,
        )
        .await;
    assert_json_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_filter",
        "bad date",
    )
    .await;
}

/// One pull returns opinions and attendance interleaved in change order, page by page.
#[tokio::test]
async fn a_pull_interleaves_opinions_and_attendance_in_change_order() {
    let l = the_loop().await;
    let app = &l.app;
    let day = a_past_day();
    let tc = l.tablet_client;
    let create = |seq: u64, n: u8| {
        Mutation::new(
            tc,
            Seq(seq),
            stamp(tc, seq * 10),
            MutationKind::CreateOpinion {
                opinion: Box::new(intake(n, XINGFULI, ZHANG, OutcomeKind::ToBeReferred)),
            },
        )
    };
    let answer = app
        .push_ok(
            &l.tablet,
            tc,
            vec![
                create(1, 1),
                mark(
                    tc,
                    2,
                    key(XINGFULI, ZHANG, day),
                    Mark::SignIn,
                    at(day, 9, 0),
                ),
                create(3, 2),
            ],
        )
        .await;
    assert!(answer.rejected.is_empty());
    let staff_client = client(21);
    app.push_ok(
        &l.staff,
        staff_client,
        vec![mark(
            staff_client,
            1,
            key(XINGFULI, LI, day),
            Mark::SignIn,
            at(day, 9, 30),
        )],
    )
    .await;

    let kinds = |changes: &[Change]| -> Vec<(&'static str, u64)> {
        changes
            .iter()
            .map(|c| match c {
                Change::Opinion { cursor, .. } => ("opinion", cursor.0),
                Change::Attendance { cursor, .. } => ("attendance", cursor.0),
            })
            .collect()
    };
    let all = app.pull(&l.tablet).await;
    assert_eq!(
        kinds(&all.changes),
        [
            ("opinion", 1),
            ("attendance", 2),
            ("opinion", 3),
            ("attendance", 4)
        ]
    );
    let mut cursor = Cursor::START;
    let mut paged = Vec::new();
    loop {
        let response = app
            .call(
                Method::POST,
                "/api/v1/sync/pull",
                Some(&l.tablet),
                Some(json!({"protocol": PROTOCOL_VERSION, "cursor": cursor.0, "limit": 1})),
            )
            .await;
        let page: PullResponse = serde_json::from_value(body_json(response).await).unwrap();
        assert!(page.changes.len() <= 1);
        paged.extend(page.changes);
        cursor = page.next_cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(kinds(&paged), kinds(&all.changes));
    assert_eq!(cursor, Cursor(4));
}

async fn put_roster(l: &Loop, token: &str, body: Value) -> axum::http::Response<axum::body::Body> {
    l.app
        .call(Method::PUT, "/api/v1/roster", Some(token), Some(body))
        .await
}

async fn roster(l: &Loop, token: &str, query: &str) -> Vec<RosterEntry> {
    let response = l
        .app
        .call(
            Method::GET,
            &format!("/api/v1/roster{query}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    serde_json::from_value(body_json(response).await).unwrap()
}

/// Staff keep the roster of their station, a day at a time; deputies and units do not; only
/// deputies of the station go on it; readers of the station see it.
#[tokio::test]
async fn the_roster_is_kept_by_the_stations_staff() {
    let l = the_loop().await;
    let day = Date::parse("2026-12-01").unwrap();
    let entry = |deputy: &str, day: Date| RosterEntry {
        station_id: XINGFULI.into(),
        day,
        deputy_id: deputy.into(),
    };
    let body =
        |deputies: &[&str]| json!({"station_id": XINGFULI, "day": day, "deputy_ids": deputies});
    let response = put_roster(&l, &l.staff, body(&[ZHANG, LI])).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = put_roster(
        &l,
        &l.office,
        json!({"station_id": XINGFULI, "day": day.add_days(1), "deputy_ids": [LI]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        roster(&l, &l.tablet, "").await,
        vec![
            entry(LI, day),
            entry(ZHANG, day),
            entry(LI, day.add_days(1))
        ]
    );

    // Replaced for that day only.
    let response = put_roster(&l, &l.staff, body(&["deputy-demo-chen"])).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        roster(&l, &l.staff, &format!("?from={day}&to={day}")).await,
        vec![entry("deputy-demo-chen", day)]
    );
    assert_eq!(roster(&l, &l.staff, "").await.len(), 2);

    // Refused.
    for (who, token, body, status, code) in [
        (
            "a deputy",
            &l.tablet,
            body(&[ZHANG]),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "a unit",
            &l.housing,
            body(&[ZHANG]),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "another station's staff",
            &l.heping,
            body(&[ZHANG]),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "a deputy of another station",
            &l.staff,
            body(&[WANG]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            "an unknown station",
            &l.office,
            json!({"station_id": "station-nowhere", "day": day, "deputy_ids": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_station",
        ),
    ] {
        let response = put_roster(&l, token, body).await;
        assert_json_error(response, status, code, who).await;
    }
    assert_eq!(roster(&l, &l.staff, "").await.len(), 2, "unchanged");
    assert!(roster(&l, &l.heping, "").await.is_empty());
    assert!(roster(&l, &l.housing, "").await.is_empty());
}

fn activity(id: &str, station: &str, attendees: &[&str]) -> Activity {
    Activity {
        id: id.into(),
        station_id: station.into(),
        kind: ActivityKind::CollectiveReception,
        title: "  集体接待日  ".into(),
        day: Date::parse("2026-12-05").unwrap(),
        attendees: attendees.iter().map(|d| (*d).into()).collect(),
        citizens_received: 23,
        note: String::new(),
    }
}

async fn post_activity(
    l: &Loop,
    token: &str,
    body: &Activity,
) -> axum::http::Response<axum::body::Body> {
    l.app
        .call(
            Method::POST,
            "/api/v1/activities",
            Some(token),
            Some(serde_json::to_value(body).unwrap()),
        )
        .await
}

const ACTIVITY_ID: &str = "0190a8b4-0000-7000-8000-0000000000a1";

/// Station events with their attendees: recorded by whoever may write the station (texts
/// trimmed, attendees once each, in order), a resend is taken once, another activity under the
/// same id is refused, attendees must be deputies; read by the station's readers.
#[tokio::test]
async fn station_events_are_recorded_by_the_stations_writers() {
    let l = the_loop().await;
    let app = &l.app;
    let sent = activity(ACTIVITY_ID, XINGFULI, &[LI, ZHANG, LI, WANG]);
    let response = post_activity(&l, &l.staff, &sent).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored: Activity = serde_json::from_value(body_json(response).await).unwrap();
    assert_eq!(stored.title, "集体接待日");
    assert_eq!(
        stored.attendees,
        vec![LI.into(), ZHANG.into(), WANG.into()],
        "each once, in order; deputies of other stations may attend"
    );
    let response = post_activity(&l, &l.staff, &sent).await;
    assert_eq!(response.status(), StatusCode::OK, "a resend");
    let other = Activity {
        title: "视察".into(),
        ..sent.clone()
    };
    let response = post_activity(&l, &l.staff, &other).await;
    assert_json_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "already_exists",
        "same id",
    )
    .await;

    let list = |token: String| async move {
        let response = app
            .call(Method::GET, "/api/v1/activities", Some(&token), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        serde_json::from_value::<Vec<Activity>>(body_json(response).await).unwrap()
    };
    assert_eq!(list(l.tablet.clone()).await, vec![stored.clone()]);
    assert_eq!(list(l.office.clone()).await, vec![stored.clone()]);
    assert!(list(l.heping.clone()).await.is_empty());
    assert!(list(l.housing.clone()).await.is_empty());
    let response = app
        .call(
            Method::GET,
            "/api/v1/activities?from=2026-12-06",
            Some(&l.staff),
            None,
        )
        .await;
    assert_eq!(body_json(response).await, json!([]));

    // A deputy of the station may record one too (it writes the station).
    let by_deputy = activity("0190a8b4-0000-7000-8000-0000000000a2", XINGFULI, &[ZHANG]);
    assert_eq!(
        post_activity(&l, &l.tablet, &by_deputy).await.status(),
        StatusCode::CREATED
    );

    // Refused, and nothing stored.
    let bad_title = Activity {
        title: "   ".into(),
        ..activity("0190a8b4-0000-7000-8000-0000000000a3", XINGFULI, &[ZHANG])
    };
    let cases = [
        (
            "another station",
            &l.staff,
            activity(
                "0190a8b4-0000-7000-8000-0000000000a4",
                "station-heping",
                &[],
            ),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "a unit",
            &l.housing,
            activity("0190a8b4-0000-7000-8000-0000000000a5", XINGFULI, &[]),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "an unknown attendee",
            &l.staff,
            activity(
                "0190a8b4-0000-7000-8000-0000000000a6",
                XINGFULI,
                &["deputy-x"],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            "no title",
            &l.staff,
            bad_title,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            "an id that is not a UUID",
            &l.staff,
            activity("activity-1", XINGFULI, &[]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_activity_id",
        ),
        (
            "an unknown station",
            &l.office,
            activity(
                "0190a8b4-0000-7000-8000-0000000000a7",
                "station-nowhere",
                &[],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_station",
        ),
    ];
    for (who, token, body, status, code) in cases {
        let response = post_activity(&l, token, &body).await;
        assert_json_error(response, status, code, who).await;
    }
    assert_eq!(count(&app.db, "activities").await, 2);
    assert_eq!(count(&app.db, "activity_attendees").await, 4);
}

/// A mark stamped later than the server's clock allows (a tablet clock set ahead) is `invalid`:
/// the merge keeps the latest sign-out, so it would stand for good. A few minutes ahead is a
/// tablet clock a little fast, and taken; a mark days late is a tablet offline since, and taken.
#[tokio::test]
async fn a_mark_from_a_clock_ahead_is_refused() {
    let l = the_loop().await;
    let app = &l.app;
    let tc = l.tablet_client;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let on_its_day = |at_ms: u64| {
        key(
            XINGFULI,
            ZHANG,
            Date::from_unix_ms(
                at_ms as i64,
                liaison_domain::followup::CHINA_UTC_OFFSET_MINUTES,
            ),
        )
    };
    let cases = [
        (now + 2 * HOUR_MS, Some(RejectCode::Invalid)),
        (now + 5 * 60_000, None),
        (now - 2 * 24 * HOUR_MS, None),
    ];
    for (seq, (at_ms, expected)) in (1..).zip(cases) {
        let answer = app
            .push_ok(
                &l.tablet,
                tc,
                vec![mark(tc, seq, on_its_day(at_ms), Mark::SignOut, at_ms)],
            )
            .await;
        assert_eq!(answer.rejected.first().map(|r| r.code), expected, "{at_ms}");
    }
    let latest = attendance(&l, &l.staff, "")
        .await
        .into_iter()
        .filter_map(|a| a.signed_out_at_ms)
        .max();
    assert_eq!(
        latest,
        Some(now + 5 * 60_000),
        "the refused mark left no trace"
    );
}
