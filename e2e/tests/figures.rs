//! Issue 5 acceptance, end to end: a day's fixture of known figures recorded through the real
//! API (a deputy's pushes, a station event, referrals, a conclusion, an evaluation), then the
//! release app's dashboard in headless Chromium shows exactly those figures; the reception
//! register prints (WebDriver's Print Page: Chromium's own print rendering) with its page header;
//! the exports download. Screenshots of the dashboard (tablet and wall screen) and the first
//! printed page are left under `target/e2e-screenshots/` for review.

use liaison_domain::citizen::{CONSENT_NOTICE_VERSION, Consent};
use liaison_domain::figures::{Figure, FigureReport, Figures};
use liaison_domain::followup::{AttendanceKey, AttendanceMark, Mark};
use liaison_domain::sync::MutationKind;
use liaison_domain::{Citizen, DeputyId, Opinion, OpinionId, Outcome, Phone, StationId};
use liaison_e2e::tablet::{DEPUTY, DEPUTY_ID, OFFICE, STAFF, STATION, UNIT, sign_in};
use liaison_e2e::{
    Browser, Driver, Server, api, api_get_ok, api_sign_in, now_ms, push_as_new_tablet, today,
};
use serde_json::{Value, json};
use std::path::Path;

const UNIT_ID: &str = "unit-demo-housing";

/// The day's fixture as the figures must come out of it.
fn expected() -> Figures {
    Figures {
        deputies_on_duty: 1,
        duty_shifts: 1,
        // Six opinions, and twelve citizens recorded at the station's event.
        citizens_received: 18,
        opinions_collected: 6,
        answered_on_the_spot: 4,
        referred: 2,
        concluded: 1,
        overdue: 0,
        referred_and_concluded: 1,
        evaluated: 1,
        satisfied: 1,
    }
}

fn opinion(n: u8, at_ms: u64, outcome: Outcome) -> Opinion {
    let with_citizen = n == 1;
    Opinion {
        id: OpinionId::new_v7(at_ms, [n; 10]),
        station_id: StationId(STATION.into()),
        deputy_id: DeputyId(DEPUTY_ID.into()),
        category: if n.is_multiple_of(2) {
            "parking"
        } else {
            "old_building_elevators"
        }
        .into(),
        summary: format!("第 {n} 条：小区停车难，夜间车位不足"),
        details: String::new(),
        place: "幸福里社区".into(),
        citizen: Citizen {
            anonymous: !with_citizen,
            name: with_citizen.then(|| "王小明".to_owned()),
            phone: with_citizen.then(|| Phone::parse("13812341234").unwrap()),
            address: None,
            consent: with_citizen.then(|| Consent {
                notice_version: CONSENT_NOTICE_VERSION.into(),
                given_at_ms: at_ms,
            }),
        },
        on_site_reply: if outcome == Outcome::AnsweredOnSpot {
            "已当场说明停车政策".into()
        } else {
            String::new()
        },
        outcome,
        photos: vec![],
        created_at_ms: at_ms,
    }
}

/// The deputy's tablet pushes six opinions (four answered on the spot, two to be referred) and
/// the deputy's sign-in; the ids of the two to be referred.
async fn push_the_days_records(server: &Server, token: &str) -> Vec<OpinionId> {
    let start = now_ms() - 60_000;
    let mut kinds = Vec::new();
    let mut referred = Vec::new();
    for n in 1..=6u8 {
        let outcome = if n <= 4 {
            Outcome::AnsweredOnSpot
        } else {
            Outcome::ToBeReferred
        };
        let o = opinion(n, start + u64::from(n) * 1000, outcome);
        if outcome == Outcome::ToBeReferred {
            referred.push(o.id);
        }
        kinds.push(MutationKind::CreateOpinion {
            opinion: Box::new(o),
        });
    }
    kinds.push(MutationKind::MarkAttendance {
        mark: AttendanceMark {
            key: AttendanceKey {
                station_id: StationId(STATION.into()),
                deputy_id: DeputyId(DEPUTY_ID.into()),
                day: today(),
            },
            mark: Mark::SignIn,
            at_ms: start,
        },
    });
    push_as_new_tablet(server, token, start, kinds).await;
    referred
}

async fn step(server: &Server, token: &str, id: OpinionId, action: Value) {
    let (status, body) = api(
        "POST",
        &server.url(&format!("/api/v1/opinions/{id}/steps")),
        Some(token),
        Some(&action),
    )
    .await;
    assert!(
        status == 200 || status == 201,
        "step {action} on {id}: {status} {body}"
    );
}

/// The follow-up of the day: both referred, one accepted and concluded by the unit, fed back and
/// evaluated satisfied by the station; and a collective reception with twelve citizens.
async fn follow_up(server: &Server, referred: &[OpinionId]) {
    let office = api_sign_in(server, OFFICE.0, OFFICE.1).await;
    let unit = api_sign_in(server, UNIT.0, UNIT.1).await;
    let staff = api_sign_in(server, STAFF.0, STAFF.1).await;
    for id in referred {
        step(
            server,
            &office,
            *id,
            json!({"action": "refer", "unit_id": UNIT_ID, "unit_name": "区住建局",
                   "working_days": 10, "due": today().add_days(14)}),
        )
        .await;
    }
    let first = referred[0];
    step(server, &unit, first, json!({"action": "accept"})).await;
    step(
        server,
        &unit,
        first,
        json!({"action": "conclude", "conclusion": {"kind": "resolved"},
               "reply": "已增设夜间临时停车位"}),
    )
    .await;
    step(
        server,
        &staff,
        first,
        json!({"action": "feed_back", "method": "phone", "on": today()}),
    )
    .await;
    step(
        server,
        &staff,
        first,
        json!({"action": "evaluate", "evaluation": "satisfied"}),
    )
    .await;
    let activity = json!({
        "id": OpinionId::new_v7(now_ms(), [9; 10]).to_string(),
        "station_id": STATION,
        "kind": "collective_reception",
        "title": "集体接待日",
        "day": today(),
        "attendees": [DEPUTY_ID],
        "citizens_received": 12,
        "note": "",
    });
    let (status, body) = api(
        "POST",
        &server.url("/api/v1/activities"),
        Some(&staff),
        Some(&activity),
    )
    .await;
    assert_eq!(status, 201, "activity: {body}");
}

/// Waits for the dashboard to have its figures, for the period `today..=today`.
async fn open_dashboard(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/dashboard")).await;
    let day = today().to_string();
    browser.set_value("#dashboard-from", &day).await;
    browser.set_value("#dashboard-to", &day).await;
    browser
        .wait_for_data("#dashboard-state", "state", "ready")
        .await;
}

fn shots() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "current_thread")]
async fn the_dashboard_shows_the_days_figures_and_the_register_prints() {
    let server = Server::start();
    let base = server.url("");
    let base = base.trim_end_matches('/');
    let deputy = api_sign_in(&server, DEPUTY.0, DEPUTY.1).await;
    let referred = push_the_days_records(&server, &deputy).await;
    follow_up(&server, &referred).await;

    // The server's figures are the fixture's.
    let office = api_sign_in(&server, OFFICE.0, OFFICE.1).await;
    let day = today();
    let report: FigureReport = serde_json::from_value(
        api_get_ok(
            &server,
            &office,
            &format!("/api/v1/figures?from={day}&to={day}"),
        )
        .await,
    )
    .unwrap();
    assert_eq!(report.total, expected(), "the server's figures");

    // The dashboard shows each of them, as people read them.
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::open(&driver, profile.path()).await;
    sign_in(&browser, base, OFFICE).await;
    browser.client.set_window_size(1024, 1366).await.unwrap();
    open_dashboard(&browser, base).await;
    for figure in Figure::ALL {
        browser
            .wait_for_text(
                &format!("#figure-{}", figure.code()),
                &expected().display(figure),
            )
            .await;
    }
    // The charts are drawn (by the charting crate, as SVG or canvas).
    for chart in [
        "#chart-over-time",
        "#chart-by-category",
        "#chart-by-station",
    ] {
        browser
            .wait_until(
                &format!("{chart} to be drawn"),
                &format!(
                    "const c = document.querySelector('{chart}');
                     return !!c && !!c.querySelector('svg, canvas')"
                ),
            )
            .await;
    }
    browser.screenshot("dashboard-tablet").await;
    let widths = browser
        .js("return [document.documentElement.clientWidth, document.documentElement.scrollWidth]")
        .await;
    assert_eq!(widths[0], widths[1], "the dashboard fits a tablet's width");
    browser.client.set_window_size(1920, 1080).await.unwrap();
    browser.screenshot("dashboard-wall-screen").await;
    // Nothing on the dashboard makes the page scroll sideways on a wall screen.
    let widths = browser
        .js("return [document.documentElement.clientWidth, document.documentElement.scrollWidth]")
        .await;
    assert_eq!(
        widths[0], widths[1],
        "the dashboard fits the screen's width"
    );

    // The reception register of the day, printed as Chromium prints it.
    browser.goto(&format!("{base}/register")).await;
    browser.set_value("#register-from", &day.to_string()).await;
    browser.set_value("#register-to", &day.to_string()).await;
    browser
        .wait_until(
            "the register's six rows",
            "return document.querySelectorAll('#register-table tr.register-row').length === 6",
        )
        .await;
    let register = browser.text("#register-table").await;
    assert!(
        register.contains("王*") && !register.contains("王小明"),
        "the register masks the citizen: {register}"
    );
    assert!(
        !register.contains("13812341234"),
        "no phone in the register"
    );
    let pdf = browser
        .client
        .print(
            fantoccini::wd::PrintConfiguration::builder()
                .orientation(fantoccini::wd::PrintOrientation::Landscape)
                .build()
                .unwrap(),
        )
        .await
        .expect("the page prints");
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    let pdf_path = shots().join("register-print.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    let text = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf_path)
        .arg("-")
        .output()
        .expect("pdftotext runs (poppler-utils, installed by `cargo xtask setup --browser`)");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("接待登记簿"),
        "the printed page's header: {text}"
    );
    assert!(
        text.contains(&day.to_string()),
        "the period is printed: {text}"
    );
    assert!(
        !text.contains("导出") && !text.contains("打印"),
        "buttons are not printed: {text}"
    );
    let png = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&pdf_path)
        .arg(shots().join("register-print-preview"))
        .status()
        .expect("pdftoppm runs");
    assert!(png.success());

    // The exports: a deputy may not ask for personal data; the office gets an xlsx (a zip).
    let (status, _) = api(
        "GET",
        &server.url(&format!(
            "/api/v1/exports/register?format=xlsx&from={day}&to={day}&personal=true"
        )),
        Some(&deputy),
        None,
    )
    .await;
    assert_eq!(status, 403, "a deputy may not export personal data");
    browser.close().await;
}
