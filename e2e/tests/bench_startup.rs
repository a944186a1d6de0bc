//! Start-up benchmark: time from navigation to an interactive capture form with the network
//! off (the server process stopped, so the service worker and IndexedDB serve everything).
//! `#[ignore]`d so the normal end-to-end run skips it; `cargo xtask bench` runs it:
//!
//! ```text
//! cargo test -p liaison-e2e --test bench_startup -- --include-ignored --nocapture
//! ```
//!
//! (with `LIAISON_SERVER_BIN`, `LIAISON_DIST`, `CHROMEDRIVER` and `CHROMIUM` set, as for the
//! end-to-end tests). The app marks `capture-form-ready` on the first animation frame after the
//! capture form is mounted; the mark's `startTime` is milliseconds since navigation start.
//! Results are printed as `BENCH name=value` lines.

use liaison_e2e::{Browser, Driver, Server};
use serde_json::Value;

/// Offline navigations measured.
const LOADS: usize = 20;

const READY: &str = "return performance.getEntriesByName('capture-form-ready').length > 0";

/// Timings of the page that just loaded: the mark, and when the wasm file had arrived.
const TIMINGS: &str = "
    const ready = performance.getEntriesByName('capture-form-ready')[0].startTime;
    const wasm = performance.getEntriesByType('resource').find(e => e.name.endsWith('_bg.wasm'));
    const nav = performance.getEntriesByType('navigation')[0];
    return [ready, wasm ? wasm.responseEnd : -1, nav ? nav.type : ''];";

/// Nearest-rank percentile of `samples` (`p` in 0..=100).
fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn bench(name: &str, value: f64) {
    println!("BENCH {name}={value:.2}");
}

/// Opens `url` afresh (from about:blank, so it is a full navigation every time) and returns
/// (capture-form-ready, wasm responseEnd), in ms since navigation start.
async fn load(browser: &Browser, url: &str) -> (f64, f64) {
    browser.goto("about:blank").await;
    browser.goto(url).await;
    browser
        .wait_until("the capture-form-ready mark", READY)
        .await;
    let timings = browser.js(TIMINGS).await;
    let Value::Array(timings) = timings else {
        panic!("unexpected timings {timings}")
    };
    assert_eq!(timings[2], "navigate", "a full navigation");
    (
        timings[0].as_f64().expect("mark time"),
        timings[1].as_f64().expect("wasm time"),
    )
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "benchmark: run by `cargo xtask bench`"]
async fn bench_startup_offline() {
    let mut server = Server::start();
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::open(&driver, profile.path()).await;
    let url = server.url("/");

    // Online once, on a fresh profile: everything comes from the server. One sample, for
    // reference only.
    let (first_visit, _) = load(&browser, &url).await;
    browser
        .wait_until(
            "the service worker to control the page",
            "return !!navigator.serviceWorker.controller",
        )
        .await;

    server.stop();
    let mut ready = Vec::with_capacity(LOADS);
    let mut wasm = Vec::with_capacity(LOADS);
    for _ in 0..LOADS {
        let (form, wasm_end) = load(&browser, &url).await;
        assert!(wasm_end >= 0.0, "the wasm file was loaded");
        ready.push(form);
        wasm.push(wasm_end);
    }
    browser
        .wait_until(
            "the status to say offline",
            "return document.querySelector('#online-status').dataset.online === 'false'",
        )
        .await;
    browser.close().await;

    bench("startup_online_first_visit_ms", first_visit);
    bench("startup_offline_samples", LOADS as f64);
    bench("startup_offline_first_ms", ready[0]);
    bench("startup_offline_p50_ms", percentile(&ready, 50.0));
    bench("startup_offline_p95_ms", percentile(&ready, 95.0));
    bench("startup_offline_max_ms", percentile(&ready, 100.0));
    bench(
        "startup_offline_wasm_loaded_p50_ms",
        percentile(&wasm, 50.0),
    );
}
