//! Accounts over HTTP: sign-in and out, the generic failure answer and the lock, bearer tokens,
//! device enrolment by scope and device revocation, `/me`, the first administrator and the demo
//! accounts. Passwords are hashed with [`Passwords::insecure_for_tests`] (see `spawn_app`).

use super::{TestApp, assert_json_error, body_json, header, spawn_app};
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use liaison_domain::{Role, Scope};
use liaison_server::Passwords;
use liaison_server::db::accounts::NewUser;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

impl TestApp {
    /// A JSON request, with a bearer token if given.
    pub(super) async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response<Body> {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.request(request.body(body).unwrap()).await
    }

    pub(super) async fn add_user(
        &self,
        username: &str,
        role: Role,
        deputy: Option<&str>,
        scopes: &[Scope],
    ) {
        let user = NewUser {
            username: username.into(),
            display_name: format!("{username} name"),
            role,
            deputy_id: deputy.map(Into::into),
            unit_id: None,
            scopes: scopes.to_vec(),
            password_hash: Passwords::insecure_for_tests().hash(PASSWORD).unwrap(),
        };
        assert!(self.db.create_user(&user).await.unwrap().is_some());
    }

    /// A handling-unit account of `unit`.
    pub(super) async fn add_unit_user(&self, username: &str, unit: &str) {
        let user = NewUser {
            username: username.into(),
            display_name: format!("{username} name"),
            role: Role::HandlingUnit,
            deputy_id: None,
            unit_id: Some(unit.into()),
            scopes: Vec::new(),
            password_hash: Passwords::insecure_for_tests().hash(PASSWORD).unwrap(),
        };
        assert!(self.db.create_user(&user).await.unwrap().is_some());
    }

    pub(super) async fn sign_in_with(
        &self,
        username: &str,
        password: &str,
        device_token: Option<&str>,
    ) -> Response<Body> {
        let mut body = json!({"username": username, "password": password});
        if let Some(device_token) = device_token {
            body["device_token"] = json!(device_token);
        }
        self.call(Method::POST, "/api/v1/session", None, Some(body))
            .await
    }

    /// Signs in with [`PASSWORD`] and returns the bearer token.
    pub(super) async fn token(&self, username: &str, device_token: Option<&str>) -> String {
        let response = self.sign_in_with(username, PASSWORD, device_token).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "sign-in of {username}"
        );
        body_json(response).await["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn me(&self, token: &str) -> Response<Body> {
        self.call(Method::GET, "/api/v1/me", Some(token), None)
            .await
    }

    /// Runs a statement that the API has no call for (moving time, disabling a user), with an
    /// optional `$1`.
    async fn execute_sql(&self, sql: &str, argument: Option<i64>) {
        let mut conn = self.db.acquire().await.unwrap();
        let mut query = conn.query(sql);
        if let Some(argument) = argument {
            query = query.bind(argument);
        }
        query.execute().await.unwrap();
    }

    pub(super) async fn enroll(&self, token: &str, station: &str) -> Response<Body> {
        self.call(
            Method::POST,
            "/api/v1/devices",
            Some(token),
            Some(json!({"station_id": station, "name": "前台平板"})),
        )
        .await
    }
}

/// The demo directory plus: station staff of 幸福里, station staff of 和平, a deputy at 幸福里,
/// office staff of the demo district.
pub(super) async fn app_with_accounts() -> TestApp {
    let app = spawn_app().await;
    app.db.seed_demo().await.unwrap();
    app.add_user(
        "staff-xingfuli",
        Role::StationStaff,
        None,
        &[Scope::Station("station-xingfuli".into())],
    )
    .await;
    app.add_user(
        "staff-heping",
        Role::StationStaff,
        None,
        &[Scope::Station("station-heping".into())],
    )
    .await;
    app.add_user(
        "deputy-zhang",
        Role::Deputy,
        Some("deputy-demo-zhang"),
        &[Scope::Station("station-xingfuli".into())],
    )
    .await;
    app.add_user(
        "office",
        Role::OfficeStaff,
        None,
        &[Scope::Region("region-demo-district".into())],
    )
    .await;
    app
}

#[tokio::test]
async fn first_start_creates_one_admin_who_can_sign_in() {
    let app = spawn_app().await;
    let passwords = Passwords::insecure_for_tests();
    let password = app
        .db
        .create_first_admin(&passwords)
        .await
        .unwrap()
        .expect("no user yet: an admin is created");
    assert!(password.len() >= 20, "a long generated password");
    assert_eq!(
        app.db.create_first_admin(&passwords).await.unwrap(),
        None,
        "only on first start"
    );
    assert_eq!(app.db.user_count().await.unwrap(), 1);

    let stored: String = app
        .db
        .acquire()
        .await
        .unwrap()
        .query("SELECT password_hash FROM users WHERE username = 'admin'")
        .fetch_one()
        .await
        .unwrap()
        .try_get("password_hash")
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains(&password));

    let response = app.sign_in_with("admin", &password, None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = body_json(response).await;
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["user"]["username"], "admin");
}

#[tokio::test]
async fn sign_in_answers_a_token_and_me_describes_the_user() {
    let app = app_with_accounts().await;
    // Usernames are matched trimmed and case-insensitively.
    let response = app.sign_in_with(" Deputy-Zhang ", PASSWORD, None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(header(&response, header::SET_COOKIE), "", "no cookie");
    let body = body_json(response).await;
    let token = body["token"].as_str().unwrap();
    assert_eq!(token.len(), 43);
    assert_eq!(body["user"]["role"], "deputy");
    assert_eq!(body["user"]["deputy_id"], "deputy-demo-zhang");

    let tokens_in_db: i64 = app
        .db
        .acquire()
        .await
        .unwrap()
        .query("SELECT COUNT(*) AS n FROM sessions WHERE token_hash = $1")
        .bind(token)
        .fetch_one()
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    assert_eq!(tokens_in_db, 0, "only the hash is stored");

    let response = app.me(token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me = body_json(response).await;
    assert_eq!(me["username"], "deputy-zhang");
    assert_eq!(me["display_name"], "deputy-zhang name");
    assert_eq!(me["role"], "deputy");
    assert_eq!(me["deputy_id"], "deputy-demo-zhang");
    assert_eq!(me["scopes"], json!([{"station": "station-xingfuli"}]));
    assert_eq!(me["device"], Value::Null);
    assert!(me["session_expires_at"].as_i64().unwrap() > 0);
    assert!(me.get("password_hash").is_none());
}

#[tokio::test]
async fn failed_sign_ins_get_one_generic_answer() {
    let app = app_with_accounts().await;
    let wrong_password = app.sign_in_with("office", "wrong", None).await;
    let unknown_user = app.sign_in_with("nobody", PASSWORD, None).await;
    let empty = app.sign_in_with("", "", None).await;
    let mut bodies = Vec::new();
    for response in [wrong_password, unknown_user, empty] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body = body_json(response).await;
        assert_eq!(body["error"]["code"], "invalid_credentials");
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1], "no user enumeration");
    assert_eq!(bodies[0], bodies[2]);

    // Malformed JSON is the standard error shape too.
    let response = app
        .call(
            Method::POST,
            "/api/v1/session",
            None,
            Some(json!({"username": "office"})),
        )
        .await;
    assert_json_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable_entity",
        "no password",
    )
    .await;
}

#[tokio::test]
async fn five_failures_lock_the_username_for_fifteen_minutes() {
    let app = app_with_accounts().await;
    for _ in 0..4 {
        let response = app.sign_in_with("office", "wrong", None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Four failures: not locked yet, and a success clears the count.
    app.token("office", None).await;
    for _ in 0..5 {
        let response = app.sign_in_with("office", "wrong", None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = app.sign_in_with("office", PASSWORD, None).await;
    assert_json_error(
        locked,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "the right password while locked",
    )
    .await;

    let locked_until: i64 = app
        .db
        .acquire()
        .await
        .unwrap()
        .query("SELECT locked_until FROM users WHERE username = 'office'")
        .fetch_one()
        .await
        .unwrap()
        .try_get("locked_until")
        .unwrap();
    let now = liaison_server::auth::now_ms();
    let fifteen_minutes = 15 * 60 * 1000;
    assert!(
        (now + fifteen_minutes - 60_000..=now + fifteen_minutes).contains(&locked_until),
        "locked for 15 minutes: {locked_until} vs now {now}"
    );
    // Other users are not affected.
    app.token("staff-heping", None).await;

    // Fifteen minutes later (moved back in the database rather than waited for).
    app.execute_sql(
        "UPDATE users SET locked_until = $1 WHERE username = 'office'",
        Some(now - 1),
    )
    .await;
    app.token("office", None).await;
}

#[tokio::test]
async fn a_bearer_token_is_required() {
    let app = app_with_accounts().await;
    let response = app.call(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(header(&response, header::WWW_AUTHENTICATE), "Bearer");
    assert_json_error(
        response,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "none",
    )
    .await;

    for value in [
        "Bearer ",
        "Bearer not-a-token",
        "Basic b2ZmaWNlOng=",
        "garbage",
    ] {
        let request = Request::get("/api/v1/me")
            .header(header::AUTHORIZATION, value)
            .body(Body::empty())
            .unwrap();
        let response = app.request(request).await;
        assert_json_error(response, StatusCode::UNAUTHORIZED, "unauthenticated", value).await;
    }

    // Expired.
    let token = app.token("office", None).await;
    app.execute_sql("UPDATE sessions SET expires_at = 0", None)
        .await;
    assert_eq!(app.me(&token).await.status(), StatusCode::UNAUTHORIZED);

    // A disabled user's live session.
    let token = app.token("staff-heping", None).await;
    assert_eq!(app.me(&token).await.status(), StatusCode::OK);
    app.execute_sql(
        "UPDATE users SET disabled = TRUE WHERE username = 'staff-heping'",
        None,
    )
    .await;
    assert_eq!(app.me(&token).await.status(), StatusCode::UNAUTHORIZED);
    let response = app.sign_in_with("staff-heping", PASSWORD, None).await;
    assert_json_error(
        response,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "disabled",
    )
    .await;
}

#[tokio::test]
async fn sign_out_revokes_that_session_only() {
    let app = app_with_accounts().await;
    let first = app.token("office", None).await;
    let second = app.token("office", None).await;

    let response = app
        .call(Method::DELETE, "/api/v1/session", Some(&first), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.me(&first).await;
    assert_json_error(
        response,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "signed out",
    )
    .await;
    let again = app
        .call(Method::DELETE, "/api/v1/session", Some(&first), None)
        .await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(app.me(&second).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn device_enrolment_needs_station_staff_in_scope() {
    let app = app_with_accounts().await;
    let staff = app.token("staff-xingfuli", None).await;
    let deputy = app.token("deputy-zhang", None).await;
    let office = app.token("office", None).await;

    let response = app.enroll(&deputy, "station-xingfuli").await;
    assert_json_error(response, StatusCode::FORBIDDEN, "forbidden", "a deputy").await;
    let response = app.enroll(&staff, "station-heping").await;
    assert_json_error(
        response,
        StatusCode::FORBIDDEN,
        "forbidden",
        "another station",
    )
    .await;
    let response = app
        .call(
            Method::POST,
            "/api/v1/devices",
            None,
            Some(json!({"station_id": "station-xingfuli", "name": "x"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app.enroll(&office, "station-nowhere").await;
    assert_json_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_station",
        "unknown station",
    )
    .await;
    let response = app
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(&staff),
            Some(json!({"station_id": "station-xingfuli", "name": "  "})),
        )
        .await;
    assert_json_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_device_name",
        "blank name",
    )
    .await;

    let response = app.enroll(&staff, "station-xingfuli").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let device = body_json(response).await;
    assert_eq!(device["station_id"], "station-xingfuli");
    assert_eq!(device["name"], "前台平板");
    assert_eq!(device["device_token"].as_str().unwrap().len(), 43);

    // Office staff of the district: both stations are below it.
    for station in ["station-xingfuli", "station-heping"] {
        let response = app.enroll(&office, station).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{station}");
    }
}

#[tokio::test]
async fn revoking_a_device_cuts_off_its_sessions() {
    let app = app_with_accounts().await;
    let staff = app.token("staff-xingfuli", None).await;
    let device = body_json(app.enroll(&staff, "station-xingfuli").await).await;
    let device_id = device["id"].as_str().unwrap();
    let device_token = device["device_token"].as_str().unwrap();

    // A deputy signs in on the shared tablet.
    let deputy = app.token("deputy-zhang", Some(device_token)).await;
    let me = body_json(app.me(&deputy).await).await;
    assert_eq!(
        me["device"],
        json!({"id": device_id, "station_id": "station-xingfuli"})
    );
    let elsewhere = app.token("deputy-zhang", None).await;

    // Neither a deputy nor another station's staff may revoke it; an unknown id is a 404.
    let uri = format!("/api/v1/devices/{device_id}");
    let response = app.call(Method::DELETE, &uri, Some(&deputy), None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let heping = app.token("staff-heping", None).await;
    let response = app.call(Method::DELETE, &uri, Some(&heping), None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .call(Method::DELETE, "/api/v1/devices/nope", Some(&staff), None)
        .await;
    assert_json_error(
        response,
        StatusCode::NOT_FOUND,
        "not_found",
        "unknown device",
    )
    .await;

    let response = app.call(Method::DELETE, &uri, Some(&staff), None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let again = app.call(Method::DELETE, &uri, Some(&staff), None).await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT, "idempotent");

    // The tablet's session is cut off at its next contact, and it cannot sign in again.
    let response = app.me(&deputy).await;
    assert_json_error(
        response,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "revoked",
    )
    .await;
    let response = app
        .sign_in_with("deputy-zhang", PASSWORD, Some(device_token))
        .await;
    assert_json_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "device_not_enrolled",
        "revoked device token",
    )
    .await;
    // Sessions not on that device go on.
    assert_eq!(app.me(&elsewhere).await.status(), StatusCode::OK);
    assert_eq!(app.me(&staff).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn demo_accounts_come_only_with_the_demo_directory() {
    let app = spawn_app().await;
    let passwords = Passwords::insecure_for_tests();
    assert_eq!(app.db.seed_demo_accounts(&passwords).await.unwrap(), 0);
    app.db.seed_demo().await.unwrap();
    assert_eq!(app.db.seed_demo_accounts(&passwords).await.unwrap(), 6);
    assert_eq!(
        app.db.seed_demo_accounts(&passwords).await.unwrap(),
        0,
        "not twice"
    );

    let response = app
        .sign_in_with("demo-deputy", "demo-deputy-2026", None)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = body_json(response).await;
    assert_eq!(body["user"]["deputy_id"], "deputy-demo-zhang");
    let token = app.token_for("demo-station", "demo-station-2026").await;
    let response = app.enroll(&token, "station-xingfuli").await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // The two handling units, each bound to its demo unit, which `/me` tells.
    for (username, password, unit) in [
        ("demo-unit", "demo-unit-2026", "unit-demo-housing"),
        ("demo-unit2", "demo-unit2-2026", "unit-demo-urban"),
    ] {
        let token = app.token_for(username, password).await;
        let me = body_json(app.me(&token).await).await;
        assert_eq!(me["role"], "handling_unit", "{username}");
        assert_eq!(me["unit_id"], unit, "{username}");
        assert_eq!(me["scopes"], json!([]), "{username}");
    }
    let me = body_json(
        app.me(&app.token_for("demo-office", "demo-office-2026").await)
            .await,
    )
    .await;
    assert_eq!(me["unit_id"], Value::Null, "only units have one");
    let units: Vec<String> = app
        .db
        .units()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id.0)
        .collect();
    assert_eq!(
        units,
        ["unit-demo-hotline", "unit-demo-housing", "unit-demo-urban"]
    );
}

impl TestApp {
    pub(super) async fn token_for(&self, username: &str, password: &str) -> String {
        let response = self.sign_in_with(username, password, None).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{username}");
        body_json(response).await["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// `POST /device-keys` as `token`, asking also for `others`: the answer's (username, key) pairs.
async fn device_keys(app: &TestApp, token: &str, others: &[&str]) -> Vec<(String, String)> {
    let response = app
        .call(
            Method::POST,
            "/api/v1/device-keys",
            Some(token),
            Some(json!({"usernames": others})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = body_json(response).await;
    body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let key = k["key"].as_str().unwrap().to_owned();
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&key)
                .unwrap();
            assert_eq!(bytes.len(), 32, "an AES-256 key");
            (k["username"].as_str().unwrap().to_owned(), key)
        })
        .collect()
}

async fn device_state(app: &TestApp, device_token: &str) -> Value {
    let response = app
        .call(
            Method::POST,
            "/api/v1/devices/status",
            None,
            Some(json!({"device_token": device_token})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    body_json(response).await["state"].clone()
}

#[tokio::test]
async fn device_keys_go_only_to_sessions_on_that_tablet_and_die_with_it() {
    let app = app_with_accounts().await;
    app.add_user(
        "deputy-li",
        Role::Deputy,
        Some("deputy-demo-li"),
        &[Scope::Station("station-xingfuli".into())],
    )
    .await;
    let staff = app.token("staff-xingfuli", None).await;
    let tablet = body_json(app.enroll(&staff, "station-xingfuli").await).await;
    let tablet_id = tablet["id"].as_str().unwrap().to_owned();
    let tablet_token = tablet["device_token"].as_str().unwrap().to_owned();
    let other = body_json(app.enroll(&staff, "station-xingfuli").await).await;
    let other_token = other["device_token"].as_str().unwrap().to_owned();

    // A's key is made on A's first ask on the tablet and stays the same.
    let a = app.token("deputy-zhang", Some(&tablet_token)).await;
    let first = device_keys(&app, &a, &[]).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, "deputy-zhang");
    assert_eq!(device_keys(&app, &a, &[]).await, first, "made once");

    // B, later on the same tablet, gets A's key too (to push A's locked work), and its own.
    let b = app.token("deputy-li", Some(&tablet_token)).await;
    let both = device_keys(&app, &b, &["deputy-zhang", "nobody"]).await;
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[1], first[0], "A's key as A got it");
    assert_ne!(both[0].1, first[0].1, "each account its own key");

    // On another tablet A never signed in on, B gets nothing of A's; A there gets another key.
    let b_elsewhere = app.token("deputy-li", Some(&other_token)).await;
    let there = device_keys(&app, &b_elsewhere, &["deputy-zhang"]).await;
    assert_eq!(
        there.iter().map(|k| k.0.as_str()).collect::<Vec<_>>(),
        ["deputy-li"]
    );
    assert_ne!(there[0].1, both[0].1, "keys are per tablet");

    // Off a tablet there are no device keys.
    let a_office = app.token("deputy-zhang", None).await;
    let response = app
        .call(
            Method::POST,
            "/api/v1/device-keys",
            Some(&a_office),
            Some(json!({"usernames": []})),
        )
        .await;
    assert_json_error(
        response,
        StatusCode::FORBIDDEN,
        "not_on_a_device",
        "not on a device",
    )
    .await;

    // The tablet learns with its device token alone whether it is still enrolled.
    assert_eq!(device_state(&app, &tablet_token).await, "enrolled");
    assert_eq!(device_state(&app, "no such token").await, "unknown");
    let uri = format!("/api/v1/devices/{tablet_id}");
    let response = app.call(Method::DELETE, &uri, Some(&staff), None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(device_state(&app, &tablet_token).await, "revoked");
    assert_eq!(device_state(&app, &other_token).await, "enrolled");

    // The station's staff list its tablets, the revoked one marked; nobody else may.
    let uri = "/api/v1/devices?station=station-xingfuli";
    let response = app.call(Method::GET, uri, Some(&staff), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let listed = body_json(response).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], tablet_id.as_str());
    assert!(listed[0]["revoked_at_ms"].is_i64());
    assert!(listed[1]["revoked_at_ms"].is_null());
    let heping = app.token("staff-heping", None).await;
    for token in [&heping, &b_elsewhere] {
        let response = app.call(Method::GET, uri, Some(token), None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }

    // Revoked: its sessions get no keys, and the keys themselves are gone.
    let response = app
        .call(
            Method::POST,
            "/api/v1/device-keys",
            Some(&a),
            Some(json!({"usernames": []})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let mut conn = app.db.acquire().await.unwrap();
    let left = conn
        .query("SELECT COUNT(*) AS n FROM device_keys WHERE device_id = $1")
        .bind(tablet_id.as_str())
        .fetch_one()
        .await
        .unwrap()
        .try_get::<i64>("n")
        .unwrap();
    assert_eq!(left, 0);
}
