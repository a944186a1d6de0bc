//! Several server instances on one database, as a PostgreSQL deployment runs them behind a load
//! balancer: two routers, each with its own pool, on the same database (on SQLite, two pools on
//! the same file). Tablets sign in on one instance and push and pull on either; nothing an
//! instance keeps in memory may matter.

use super::accounts::app_with_accounts;
use super::sync::{client, create, opinion_id, set, valid_opinion};
use super::{TestApp, body_json};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use liaison_domain::sync::{
    Change, Cursor, Mutation, OpinionFieldValue, OpinionReplica, PROTOCOL_VERSION, PullResponse,
    PushRequest, PushResponse, Seq,
};
use liaison_domain::{ClientId, OpinionId};
use liaison_server::Settings;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tokio::task::JoinSet;
use tower::ServiceExt;

const STATION: &str = "station-xingfuli";
const ROUNDS: u64 = 6;

/// `POST uri` with a bearer token and a JSON body on one instance; the status and JSON answer.
async fn post(router: &Router, token: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::post(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    (status, body_json(response).await)
}

async fn push(router: &Router, token: &str, client_id: ClientId, mutation: Mutation) {
    let body = serde_json::to_value(PushRequest {
        protocol: PROTOCOL_VERSION,
        app_version: Settings::DEFAULT_MIN_APP_VERSION.into(),
        client_id,
        mutations: vec![mutation],
    })
    .unwrap();
    let (status, answer) = post(router, token, "/api/v1/sync/push", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let answer: PushResponse = serde_json::from_value(answer).unwrap();
    assert!(answer.acknowledged_through >= Seq(1));
}

/// Pulls every page after `cursor` from one instance into `local` (the tablet's copy: the latest
/// state of each opinion); returns the new cursor.
async fn pull_into(
    router: &Router,
    token: &str,
    mut cursor: Cursor,
    local: &mut BTreeMap<OpinionId, OpinionReplica>,
) -> Cursor {
    loop {
        let body = json!({"protocol": PROTOCOL_VERSION, "cursor": cursor.0, "limit": 4});
        let (status, answer) = post(router, token, "/api/v1/sync/pull", body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let page: PullResponse = serde_json::from_value(answer).unwrap();
        for change in page.changes {
            assert!(change.cursor() > cursor, "cursors only grow");
            cursor = change.cursor();
            let Change::Opinion { state, .. } = change else {
                panic!("only opinions were pushed");
            };
            local.insert(state.id(), state);
        }
        assert_eq!(page.next_cursor, cursor);
        if !page.more {
            return cursor;
        }
    }
}

/// Everything instance `router` holds for the station, pulled from the start.
async fn everything(router: &Router, token: &str) -> BTreeMap<OpinionId, OpinionReplica> {
    let mut all = BTreeMap::new();
    pull_into(router, token, Cursor::START, &mut all).await;
    all
}

/// A tablet's own opinion, one per tablet.
fn own_opinion(tablet: u8) -> OpinionId {
    opinion_id(tablet)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tablets_alternating_between_two_instances_converge() {
    let app: TestApp = app_with_accounts().await;
    let (second, _second_db) = app.second_instance().await;
    let instances = [app.router.clone(), second];

    // Tablet 1 is an enrolled device: enrolled on instance 0, signed in on instance 1, so its
    // device binding and session exist only in the database. Tablets 2 and 3 have no device.
    let staff = app.token("staff-xingfuli", None).await;
    let device = body_json(app.enroll(&staff, STATION).await).await;
    let device_token = device["device_token"].as_str().unwrap().to_owned();
    let sign_in = json!({
        "username": "deputy-zhang",
        "password": "correct horse battery",
        "device_token": device_token,
    });
    let request = Request::post("/api/v1/session")
        .header("content-type", "application/json")
        .body(Body::from(sign_in.to_string()))
        .unwrap();
    let response = instances[1].clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let deputy = body_json(response).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let tokens = [deputy, staff, app.token("office", None).await];

    // Each tablet, concurrently with the others: round r pushes one mutation to instance
    // (tablet + r) % 2 and pulls from the other one. Round 0 creates its own opinion; later
    // rounds edit its own and its neighbour's (which may not exist yet: then it is rejected
    // `not_found`, which changes nothing and is fine here).
    let mut tablets = JoinSet::new();
    for tablet in 1..=3u8 {
        let instances = instances.clone();
        let token = tokens[usize::from(tablet - 1)].clone();
        tablets.spawn(async move {
            let c = client(tablet);
            let neighbour = own_opinion(tablet % 3 + 1);
            let mut local = BTreeMap::new();
            let mut cursor = Cursor::START;
            for round in 0..ROUNDS {
                let seq = round + 1;
                let mutation = match round {
                    0 => create(c, seq, seq, valid_opinion(own_opinion(tablet), STATION)),
                    r => set(
                        c,
                        seq,
                        seq * 10,
                        if r % 2 == 0 {
                            own_opinion(tablet)
                        } else {
                            neighbour
                        },
                        vec![OpinionFieldValue::Details(format!("平板{tablet}第{r}轮"))],
                    ),
                };
                let to = usize::try_from((u64::from(tablet) + round) % 2).unwrap();
                push(&instances[to], &token, c, mutation).await;
                cursor = pull_into(&instances[1 - to], &token, cursor, &mut local).await;
            }
            (tablet, token, cursor, local)
        });
    }
    let mut finished = Vec::new();
    while let Some(result) = tablets.join_next().await {
        finished.push(result.unwrap());
    }

    // Both instances hold the same state, and every tablet catches up to it from its cursor on
    // either instance.
    let office = &tokens[2];
    let on_first = everything(&instances[0], office).await;
    let on_second = everything(&instances[1], office).await;
    assert_eq!(on_first, on_second);
    assert_eq!(on_first.len(), 3, "one opinion per tablet");
    for (tablet, token, cursor, mut local) in finished {
        let mut other = local.clone();
        pull_into(&instances[0], &token, cursor, &mut local).await;
        pull_into(&instances[1], &token, cursor, &mut other).await;
        assert_eq!(local, on_first, "tablet {tablet} via instance 0");
        assert_eq!(other, on_first, "tablet {tablet} via instance 1");
    }
    // Every tablet's last edit of its own opinion landed, whichever instance took it.
    for tablet in 1..=3u8 {
        let details = &on_first[&own_opinion(tablet)].opinion().unwrap().details;
        assert!(details.starts_with("平板"), "tablet {tablet}: {details}");
    }
}
