//! Sync benchmarks (the sync issue's figures). `#[ignore]`d so the normal end-to-end run skips
//! them; `cargo xtask bench` runs them:
//!
//! ```text
//! cargo test -p liaison-e2e --test bench_sync -- --include-ignored --nocapture --test-threads=1
//! ```
//!
//! with `LIAISON_SERVER_BIN`, `LIAISON_DIST`, `CHROMEDRIVER` and `CHROMIUM` set as for the
//! end-to-end tests, and `LIAISON_TEST_DATABASE_URL` (a PostgreSQL role that may create
//! databases) for the PostgreSQL ingest run. Results are printed as `BENCH name=value` lines.
//!
//! 1. [`bench_tablet_push_then_fresh_tablet_pull_10000`]: one tablet (headless Chromium, the
//!    release app) pushes 10,000 unsynced opinions to the release server on loopback; then a
//!    fresh browser profile signs in and pulls them all. The 10,000 records are written straight
//!    into the app's IndexedDB from JavaScript in the app's origin, in the serde shapes the Rust
//!    code writes (the capture form would take hours), and the app is reloaded to sync them.
//!    Both tablets turn on the app's round step timings (`src/sync/trace.rs`), printed as
//!    `BENCH <figure>_step_<step>_ms` (summed; the steps overlap, so they add up to more than
//!    the wall time) and `_n` (how many).
//! 2. [`bench_server_ingest_200_tablets_sqlite`] / [`bench_server_ingest_200_tablets_postgres`]:
//!    200 simulated tablets push `CreateOpinion` batches at once over HTTP to the release server
//!    binary (a load generator in this process, on the same 2 cores).

use liaison_e2e::tablet::answer_pin_prompt;
use liaison_e2e::{
    Browser, Driver, Server, WAIT, api_sign_in, now_ms, server_opinions, sync_badge as badge,
};
use serde_json::{Value, json};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEPUTY: (&str, &str) = ("demo-deputy", "demo-deputy-2026");
const STATION: &str = "station-xingfuli";
const DEPUTY_ID: &str = "deputy-demo-zhang";

/// Opinions pushed by the tablet and pulled by the fresh one.
const TABLET_RECORDS: usize = 10_000;
/// How long a 10,000-record sync may take before the benchmark gives up (not a goal).
const SYNC_DEADLINE: Duration = Duration::from_secs(600);

/// Simulated tablets in the ingest benchmarks.
const INGEST_CLIENTS: usize = 200;

/// How the simulated tablets push.
#[derive(Clone, Copy)]
struct Load {
    /// Pushes each tablet makes, and mutations in each.
    pushes: usize,
    batch: usize,
    /// `None`: all tablets start at once and each sends its next push as soon as the last is
    /// answered (a closed loop: what the server can take). `Some(every)`: each tablet pushes
    /// once every `every`, the tablets' starts spread evenly over the first interval (an open
    /// loop: how long a push waits at a given load).
    every: Option<Duration>,
}

/// Every tablet's backlog at once, as after a long outage: 5 full pushes of 50, back to back.
/// The server's throughput (mutations/s); latency here is only the queue (Little's law: 200
/// pushes in flight at P pushes/s wait 200 / P s each).
const BACKLOG: Load = Load {
    pushes: 5,
    batch: 50,
    every: None,
};

/// All 200 tablets push what a deputy does between two syncs (a few opinions and steps, 10
/// mutations) at the same instant, once: the worst moment of a busy day.
const BURST: Load = Load {
    pushes: 1,
    batch: 10,
    every: None,
};

/// 200 tablets each pushing 10 mutations every 2 s: 100 pushes and 1,000 mutations a second,
/// hundreds of times a real city's day, sustained for 20 s.
const BUSY: Load = Load {
    pushes: 10,
    batch: 10,
    every: Some(Duration::from_secs(2)),
};

fn bench(name: &str, value: f64) {
    println!("BENCH {name}={value:.2}");
}

/// Nearest-rank percentile of `samples` (`p` in 0..=100).
fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------------
// The tablet: push 10,000, then a fresh tablet pulls them.

/// Signs in on the sync page that is open (a deputy chooses its PIN the first time, or enters
/// it), and waits until the app says who is signed in.
async fn sign_in_form(browser: &Browser, (username, password): (&str, &str)) {
    browser.type_into("#sign-in-username", username).await;
    browser.type_into("#sign-in-password", password).await;
    browser.click("#sign-in").await;
    answer_pin_prompt(browser).await;
}

/// Waits until `script` returns `true`, for up to [`SYNC_DEADLINE`].
async fn wait_long(browser: &Browser, what: &str, script: &str) {
    let deadline = Instant::now() + SYNC_DEADLINE;
    loop {
        if browser.client.execute(script, vec![]).await.ok() == Some(Value::Bool(true)) {
            return;
        }
        if Instant::now() > deadline {
            browser.screenshot(&format!("bench-sync-{what}")).await;
            let badge = browser
                .js("return document.querySelector('#sync-status')?.outerHTML ?? ''")
                .await;
            panic!("timed out waiting for {what}; badge: {badge}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Installs a watcher in the page: `window.__bench.ok` becomes `performance.now()` the first
/// time the badge says "synced" (`data-kind` ok, `data-pending` 0) after it has said "busy"
/// (so a round did run: right after a sign-in the badge can say ok for a moment before the
/// round starts), and `window.__bench.total` the first time `#records-total` mentions `total`.
fn watch_script(total: usize) -> String {
    format!(
        "performance.setResourceTimingBufferSize(10000);
         const w = window.__bench = {{ sawBusy: false, ok: null, total: null }};
         const check = () => {{
             const now = performance.now();
             const b = document.querySelector('#sync-status');
             if (b && b.dataset.kind === 'busy') w.sawBusy = true;
             if (b && w.sawBusy && w.ok === null && b.dataset.kind === 'ok'
                 && b.dataset.pending === '0') w.ok = now;
             const t = document.querySelector('#records-total');
             if (t && w.total === null && t.textContent.includes('{total}')) w.total = now;
         }};
         new MutationObserver(check).observe(document, {{
             subtree: true, childList: true, characterData: true, attributes: true,
         }});
         check();"
    )
}

/// The sync requests the page made, from Resource Timing: `[count, first start, last end, sum
/// of the requests' durations]` (ms since navigation start) for pushes and for pulls. The time
/// between requests is the tablet's own work (reading the outbox, applying the answer).
const SYNC_REQUESTS: &str = "
    const all = performance.getEntriesByType('resource');
    const span = (path) => {
        const e = all.filter(r => new URL(r.name).pathname === path);
        return e.length === 0 ? [0, -1, -1, 0]
            : [e.length, Math.min(...e.map(r => r.startTime)), Math.max(...e.map(r => r.responseEnd)),
               e.reduce((sum, r) => sum + (r.responseEnd - r.startTime), 0)];
    };
    return [span('/api/v1/sync/push'), span('/api/v1/sync/pull')];";

/// `(count, first start, last end, time in requests)` of pushes and of pulls.
type Span = (u64, f64, f64, f64);

async fn sync_requests(browser: &Browser) -> (Span, Span) {
    let value = browser.js(SYNC_REQUESTS).await;
    let span = |v: &Value| {
        (
            v[0].as_u64().unwrap(),
            v[1].as_f64().unwrap(),
            v[2].as_f64().unwrap(),
            v[3].as_f64().unwrap(),
        )
    };
    (span(&value[0]), span(&value[1]))
}

/// Writes `n` unsynced opinions into the app's IndexedDB (`liaison`, at the schema the app opened), exactly as
/// `Store::save_opinion` would have: each opinion in `opinions`, its `CreateOpinion` mutation
/// in `outbox` as `{seq, state: "pending", mutation}` with this tablet's client id and dense
/// seqs after the ones already issued, and `sync_meta` advanced (next seq, clock). Values are
/// shaped like serde-wasm-bindgen's output (`None` is `undefined`, `u64` a number). One
/// read-write transaction, strict durability. Sets `window.__seed` to `{done, error, ms}`.
fn seed_script(n: usize, station: &str, deputy: &str) -> String {
    format!(
        r#"
const N = {n};
const seed = window.__seed = {{ done: false, error: null, ms: 0 }};
const hex = (bytes) => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
// A UUIDv7 for Unix time `ms` (48 bits), random bits from the browser's CSPRNG.
const uuidV7 = (ms) => {{
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    let t = ms;
    for (let i = 5; i >= 0; i--) {{ b[i] = t % 256; t = Math.floor(t / 256); }}
    b[6] = 0x70 | (b[6] & 0x0f);
    b[8] = 0x80 | (b[8] & 0x3f);
    const h = hex(b);
    return `${{h.slice(0, 8)}}-${{h.slice(8, 12)}}-${{h.slice(12, 16)}}-${{h.slice(16, 20)}}-${{h.slice(20)}}`;
}};
const hlc = (wall, counter, node) =>
    `${{String(wall).padStart(20, '0')}}-${{String(counter).padStart(10, '0')}}-${{node}}`;
const request = (r) => new Promise((ok, fail) => {{
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
}});
(async () => {{
    const t0 = performance.now();
    const open = indexedDB.open('liaison');
    open.onupgradeneeded = () => open.transaction.abort();
    const db = await request(open);
    const tx = db.transaction(['opinions', 'outbox', 'sync_meta'], 'readwrite',
                              {{ durability: 'strict' }});
    const done = new Promise((ok, fail) => {{
        tx.oncomplete = ok;
        tx.onerror = () => fail(tx.error);
        tx.onabort = () => fail(tx.error || new Error('aborted'));
    }});
    const metaStore = tx.objectStore('sync_meta');
    const meta = await request(metaStore.get('device'));
    if (!meta) throw new Error('sync_meta is missing');
    const node = meta.client_id;
    const lastWall = Number(meta.clock.slice(0, 20));
    // Captured one per millisecond over the last N ms, after every stamp the clock issued.
    const base = Math.max(Date.now() - N, lastWall + 1);
    const opinions = tx.objectStore('opinions');
    const outbox = tx.objectStore('outbox');
    let seq = meta.next_seq;
    let stamp = meta.clock;
    for (let i = 0; i < N; i++) {{
        const ms = base + i;
        const opinion = {{
            id: uuidV7(ms),
            station_id: '{station}',
            deputy_id: '{deputy}',
            category: 'parking',
            summary: `基准测试意见 ${{i + 1}}：小区停车难`,
            details: '',
            place: '',
            citizen: {{
                anonymous: false, name: undefined, phone: undefined, address: undefined,
                consent: undefined,
            }},
            on_site_reply: '',
            outcome: {{ kind: 'to_be_referred' }},
            photos: [],
            created_at_ms: ms,
        }};
        stamp = hlc(ms, 0, node);
        opinions.put(opinion);
        outbox.put({{
            seq,
            state: 'pending',
            mutation: {{
                client_id: node,
                seq,
                hlc: stamp,
                kind_version: 1,
                kind: {{ type: 'create_opinion', opinion }},
            }},
        }});
        seq += 1;
    }}
    meta.next_seq = seq;
    meta.clock = stamp;
    metaStore.put(meta, 'device');
    await done;
    db.close();
    seed.ms = performance.now() - t0;
}})().then(() => {{ seed.done = true; }}, (e) => {{ seed.error = String(e); }});
"#
    )
}

/// Turns on the app's round step timings (`src/sync/trace.rs`) for the rounds that start after
/// this.
const TRACE_ON: &str = "localStorage.setItem('liaison.debug.sync_trace', '1')";

/// The app's round step timings summed per step: `{name: [count, total ms]}`.
const TRACE_SUMS: &str = "
    const sums = {};
    for (const [name, start, end] of (window.__liaisonSyncTrace || [])) {
        const s = sums[name] || (sums[name] = [0, 0]);
        s[0] += 1;
        s[1] += end - start;
    }
    return sums;";

/// Prints the round's step timings as `BENCH <prefix>_step_<name>_ms` (total) and `_n` (count).
async fn print_trace(browser: &Browser, prefix: &str) {
    let sums = browser.js(TRACE_SUMS).await;
    let Some(sums) = sums.as_object() else {
        return;
    };
    for (name, sum) in sums {
        let name = name.replace('.', "_");
        bench(
            &format!("{prefix}_step_{name}_n"),
            sum[0].as_f64().unwrap_or(0.0),
        );
        bench(
            &format!("{prefix}_step_{name}_ms"),
            sum[1].as_f64().unwrap_or(0.0),
        );
    }
}

async fn wait_synced(browser: &Browser, what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        if badge(browser).await == ("ok".to_owned(), 0) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not synced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "benchmark: run by `cargo xtask bench`"]
async fn bench_tablet_push_then_fresh_tablet_pull_10000() {
    let server = Server::start();
    let base = server.url("");
    let driver = Driver::start();
    let n = TABLET_RECORDS;

    // --- Tablet A: signed in, 10,000 unsynced opinions written into its IndexedDB. ---
    let profile_a = tempfile::tempdir().unwrap();
    let a = Browser::open(&driver, profile_a.path()).await;
    a.goto(&format!("{base}/sync")).await;
    sign_in_form(&a, DEPUTY).await;
    a.find("#signed-in-as").await;
    wait_synced(&a, "A after sign-in").await;

    a.js(&seed_script(n, STATION, DEPUTY_ID)).await;
    wait_long(
        &a,
        "the 10,000 records to be written",
        "const s = window.__seed; return s.done || s.error !== null",
    )
    .await;
    let seeded = a.js("return window.__seed").await;
    assert_eq!(seeded["error"], Value::Null, "seeding failed: {seeded}");
    let seed_ms = seeded["ms"].as_f64().unwrap();
    eprintln!("wrote {n} opinions and their outbox entries in {seed_ms:.0} ms");

    // The app starts again on its IndexedDB (signed in: the session is kept there) and syncs at
    // start: the clock runs from its first push to the badge saying everything is synced.
    a.js(TRACE_ON).await;
    a.reload().await;
    a.js(&watch_script(n)).await;
    wait_long(
        &a,
        "the tablet to push 10,000",
        "return window.__bench.ok !== null",
    )
    .await;
    let ok_at = a.js("return window.__bench.ok").await.as_f64().unwrap();
    let (push, pull) = sync_requests(&a).await;
    assert!(push.0 > 0 && push.1 >= 0.0, "no push seen: {push:?}");
    assert_eq!(badge(&a).await, ("ok".to_owned(), 0), "nothing rejected");
    let push_total_s = (ok_at - push.1) / 1000.0;
    let push_phase_s = (push.2 - push.1) / 1000.0;
    let pull_back_s = if pull.0 > 0 {
        (pull.2 - pull.1) / 1000.0
    } else {
        0.0
    };

    print_trace(&a, "tablet_push_10000").await;
    let token = api_sign_in(&server, DEPUTY.0, DEPUTY.1).await;
    let held = server_opinions(&server, &token).await;
    assert_eq!(
        held.len(),
        n,
        "the server holds exactly the tablet's records"
    );
    a.close().await;

    // --- Tablet B: a fresh profile signs in and pulls everything. ---
    let profile_b = tempfile::tempdir().unwrap();
    let b = Browser::open(&driver, profile_b.path()).await;
    b.goto(&format!("{base}/sync")).await;
    b.find("#sign-in-username").await;
    b.js(&watch_script(n)).await;
    b.js(TRACE_ON).await;
    let clicked = b
        .js("return performance.now()")
        .await
        .as_f64()
        .unwrap_or(0.0);
    sign_in_form(&b, DEPUTY).await;
    b.find("#signed-in-as").await;
    // The records list is open while the pull runs, as a deputy would watch it fill.
    b.click("#nav-records").await;
    wait_long(
        &b,
        "the fresh tablet to pull 10,000",
        "const w = window.__bench; return w.ok !== null && w.total !== null",
    )
    .await;
    let marks = b.js("return window.__bench").await;
    let (b_ok, b_total) = (
        marks["ok"].as_f64().unwrap(),
        marks["total"].as_f64().unwrap(),
    );
    let (b_push, b_pull) = sync_requests(&b).await;
    assert_eq!(b_push.0, 0, "the fresh tablet had nothing to push");
    assert!(b_pull.0 > 0, "no pull seen");
    let listed = b.text("#records-total").await;
    assert!(listed.contains(&n.to_string()), "records total: {listed}");
    let local = b
        .js("return new Promise((ok) => {
                 const r = indexedDB.open('liaison');
                 r.onsuccess = () => {
                     const c = r.result.transaction('opinions').objectStore('opinions').count();
                     c.onsuccess = () => { ok(c.result); r.result.close(); };
                 };
             })")
        .await;
    assert_eq!(local.as_u64(), Some(n as u64), "the fresh tablet holds all");
    print_trace(&b, "tablet_pull_10000").await;
    b.close().await;
    let pull_ok_s = (b_ok - b_pull.1) / 1000.0;
    let pull_listed_s = (b_total - b_pull.1) / 1000.0;
    let pull_phase_s = (b_pull.2 - b_pull.1) / 1000.0;

    bench("tablet_seed_10000_ms", seed_ms);
    bench("tablet_push_10000_requests", push.0 as f64);
    bench("tablet_push_10000_push_phase_s", push_phase_s);
    bench(
        "tablet_push_10000_push_phase_per_s",
        n as f64 / push_phase_s,
    );
    bench("tablet_push_10000_in_requests_s", push.3 / 1000.0);
    bench("tablet_push_10000_pull_back_requests", pull.0 as f64);
    bench("tablet_push_10000_pull_back_s", pull_back_s);
    bench("tablet_push_10000_pull_back_in_requests_s", pull.3 / 1000.0);
    bench("tablet_push_10000_to_synced_s", push_total_s);
    bench("tablet_push_10000_to_synced_per_s", n as f64 / push_total_s);
    bench("tablet_push_10000_from_navigation_s", ok_at / 1000.0);
    bench("tablet_pull_10000_requests", b_pull.0 as f64);
    bench("tablet_pull_10000_pull_phase_s", pull_phase_s);
    bench("tablet_pull_10000_in_requests_s", b_pull.3 / 1000.0);
    bench("tablet_pull_10000_to_synced_s", pull_ok_s);
    bench("tablet_pull_10000_to_synced_per_s", n as f64 / pull_ok_s);
    bench("tablet_pull_10000_to_listed_s", pull_listed_s);
    bench(
        "tablet_pull_10000_from_sign_in_click_s",
        (b_ok - clicked) / 1000.0,
    );
}

// ---------------------------------------------------------------------------------------------
// The server: 200 simulated tablets pushing at once.

/// splitmix64: distinct ids for one run (not security: the server takes any UUIDv7).
struct Ids(u64);

impl Ids {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A UUIDv7 for `ms`, lowercase hyphenated.
    fn v7(&mut self, ms: u64) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
            ms >> 16,
            ms & 0xffff,
            a & 0xfff,
            0x8000 | ((a >> 12) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

/// One simulated tablet's push bodies, in order: `pushes` batches of `batch` `CreateOpinion`s.
fn push_bodies(ids: &mut Ids, tablet: usize, pushes: usize, batch: usize) -> Vec<bytes::Bytes> {
    let client = ids.v7(now_ms());
    let base = now_ms() - (pushes * batch) as u64;
    let mut seq = 0u64;
    (0..pushes)
        .map(|_| {
            let mutations: Vec<Value> = (0..batch)
                .map(|_| {
                    seq += 1;
                    let ms = base + seq;
                    json!({
                        "client_id": client,
                        "seq": seq,
                        "hlc": format!("{ms:020}-{:010}-{client}", 0),
                        "kind_version": 1,
                        "kind": {
                            "type": "create_opinion",
                            "opinion": {
                                "id": ids.v7(ms),
                                "station_id": STATION,
                                "deputy_id": DEPUTY_ID,
                                "category": "parking",
                                "summary": format!("平板 {tablet} 的第 {seq} 条意见：小区停车难"),
                                "details": "晚上车位不够，外来车辆占用消防通道。",
                                "place": "幸福里社区 3 号楼",
                                "citizen": {
                                    "anonymous": false, "name": null, "phone": null,
                                    "address": null, "consent": null,
                                },
                                "on_site_reply": "",
                                "outcome": {"kind": "to_be_referred"},
                                "photos": [],
                                "created_at_ms": ms,
                            },
                        },
                    })
                })
                .collect();
            let request = json!({
                "protocol": 1,
                "app_version": env!("CARGO_PKG_VERSION"),
                "client_id": client,
                "mutations": mutations,
            });
            bytes::Bytes::from(request.to_string())
        })
        .collect()
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time a process has used (user + system), in seconds (`/proc/<pid>/stat`, in clock
/// ticks of 1/100 s on Linux).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// What one push came back with.
struct Pushed {
    latency_ms: f64,
    status: u16,
    rejected: usize,
}

/// Signs in `INGEST_CLIENTS` times (one after another: each sign-in is an Argon2id
/// verification, 19 MiB, which 200 at once would turn into the peak memory being measured),
/// then releases all simulated tablets at once; each pushes its batches as `load` says.
/// Prints the figures with `prefix`.
async fn ingest(server: &Server, prefix: &str, load: Load) {
    let Load {
        pushes: ingest_pushes,
        batch: ingest_batch,
        every,
    } = load;
    let url = server.url("/api/v1/sync/push");
    let pid = server.pid().expect("the server runs");
    let mut ids = Ids(now_ms() ^ 0x5eed);
    let (rss_start, _) = memory_kib(pid);
    let token = api_sign_in(server, DEPUTY.0, DEPUTY.1).await;
    let held_before = server_opinions(server, &token).await.len();

    let started = Instant::now();
    let mut tokens = Vec::with_capacity(INGEST_CLIENTS);
    for _ in 0..INGEST_CLIENTS {
        tokens.push(api_sign_in(server, DEPUTY.0, DEPUTY.1).await);
    }
    eprintln!(
        "{prefix}: {INGEST_CLIENTS} sign-ins in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let bodies: Vec<Vec<bytes::Bytes>> = (0..INGEST_CLIENTS)
        .map(|t| push_bodies(&mut ids, t, ingest_pushes, ingest_batch))
        .collect();
    let (rss_before, hwm_before) = memory_kib(pid);

    // Peak resident memory while the pushes run, sampled (VmHWM covers the whole life,
    // sign-ins included).
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(memory_kib(pid).0);
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };

    use http_body_util::{BodyExt, Full};
    let client: hyper_util::client::legacy::Client<_, Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let gate = Arc::new(tokio::sync::Barrier::new(INGEST_CLIENTS + 1));
    let mut tasks = tokio::task::JoinSet::new();
    for (tablet, (token, bodies)) in tokens.into_iter().zip(bodies).enumerate() {
        let (client, gate, url) = (client.clone(), gate.clone(), url.clone());
        let prefix = prefix.to_owned();
        tasks.spawn(async move {
            gate.wait().await;
            let released = tokio::time::Instant::now();
            let mut results = Vec::with_capacity(bodies.len());
            for (n, body) in bodies.into_iter().enumerate() {
                if let Some(every) = every {
                    let start = every.mul_f64(tablet as f64 / INGEST_CLIENTS as f64);
                    tokio::time::sleep_until(released + start + every * n as u32).await;
                }
                let request = hyper::Request::builder()
                    .method("POST")
                    .uri(&url)
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Full::new(body))
                    .unwrap();
                let sent = Instant::now();
                let response = client.request(request).await.expect("push answered");
                let status = response.status().as_u16();
                let bytes = response.into_body().collect().await.unwrap().to_bytes();
                let latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
                let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let rejected = answer["rejected"].as_array().map_or(0, Vec::len);
                results.push(Pushed {
                    latency_ms,
                    status,
                    rejected,
                });
                if status != 200 {
                    eprintln!("{prefix}: push answered {status}: {answer}");
                    break;
                }
            }
            results
        });
    }
    let server_cpu = cpu_seconds(&pid.to_string());
    let own_cpu = cpu_seconds("self");
    gate.wait().await;
    let started = Instant::now();
    let mut pushed = Vec::new();
    while let Some(results) = tasks.join_next().await {
        pushed.extend(results.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = cpu_seconds(&pid.to_string()) - server_cpu;
    let own_cpu = cpu_seconds("self") - own_cpu;
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let rss_peak = sampler.join().unwrap();
    let (rss_after, hwm_after) = memory_kib(pid);

    let failed = pushed.iter().filter(|p| p.status != 200).count();
    let rejected: usize = pushed.iter().map(|p| p.rejected).sum();
    let expected = INGEST_CLIENTS * ingest_pushes * ingest_batch;
    let accepted = pushed.iter().filter(|p| p.status == 200).count() * ingest_batch;
    let latencies: Vec<f64> = pushed.iter().map(|p| p.latency_ms).collect();

    let held = server_opinions(server, &token).await.len() - held_before;
    assert_eq!(failed, 0, "{prefix}: every push is answered 200");
    assert_eq!(rejected, 0, "{prefix}: nothing is rejected");
    assert_eq!(held, expected, "{prefix}: the server holds every opinion");

    bench(&format!("{prefix}_clients"), INGEST_CLIENTS as f64);
    bench(&format!("{prefix}_mutations"), accepted as f64);
    bench(&format!("{prefix}_batch"), ingest_batch as f64);
    bench(&format!("{prefix}_seconds"), elapsed);
    bench(
        &format!("{prefix}_mutations_per_s"),
        accepted as f64 / elapsed,
    );
    bench(
        &format!("{prefix}_pushes_per_s"),
        pushed.len() as f64 / elapsed,
    );
    bench(
        &format!("{prefix}_push_p50_ms"),
        percentile(&latencies, 50.0),
    );
    bench(
        &format!("{prefix}_push_p99_ms"),
        percentile(&latencies, 99.0),
    );
    bench(
        &format!("{prefix}_push_max_ms"),
        percentile(&latencies, 100.0),
    );
    bench(&format!("{prefix}_server_cpu_s"), server_cpu);
    bench(
        &format!("{prefix}_server_cpu_ms_per_push"),
        server_cpu * 1000.0 / pushed.len() as f64,
    );
    bench(&format!("{prefix}_load_generator_cpu_s"), own_cpu);
    bench(
        &format!("{prefix}_rss_start_mib"),
        rss_start as f64 / 1024.0,
    );
    bench(
        &format!("{prefix}_rss_before_mib"),
        rss_before as f64 / 1024.0,
    );
    bench(&format!("{prefix}_rss_peak_mib"), rss_peak as f64 / 1024.0);
    bench(
        &format!("{prefix}_rss_after_mib"),
        rss_after as f64 / 1024.0,
    );
    bench(
        &format!("{prefix}_vmhwm_before_mib"),
        hwm_before as f64 / 1024.0,
    );
    bench(&format!("{prefix}_vmhwm_mib"), hwm_after as f64 / 1024.0);
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "benchmark: run by `cargo xtask bench`"]
async fn bench_server_ingest_200_tablets_sqlite() {
    let server = Server::start();
    ingest(&server, "ingest_sqlite", BACKLOG).await;
    ingest(&server, "burst_sqlite", BURST).await;
    ingest(&server, "busy_sqlite", BUSY).await;
}

/// A fresh database for one run, dropped afterwards (also when the run fails).
struct ScratchDatabase {
    admin_url: String,
    name: String,
}

impl ScratchDatabase {
    fn create(admin_url: &str) -> ScratchDatabase {
        let name = format!("bench_{}_{}", now_ms(), std::process::id());
        let database = ScratchDatabase {
            admin_url: admin_url.to_owned(),
            name,
        };
        database.psql(&format!("CREATE DATABASE {}", database.name));
        database
    }

    /// The URL of this database: the admin URL with its database name replaced.
    fn url(&self) -> String {
        let (server, _) = self
            .admin_url
            .rsplit_once('/')
            .expect("postgres://user:password@host:port/database");
        format!("{server}/{}", self.name)
    }

    fn psql(&self, sql: &str) {
        let status = Command::new("psql")
            .args(["--no-psqlrc", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .arg(&self.admin_url)
            .status()
            .expect("psql runs");
        assert!(status.success(), "psql -c {sql:?} failed");
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        liaison_e2e::drop_database(&self.admin_url, &self.name);
    }
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "benchmark: run by `cargo xtask bench`"]
async fn bench_server_ingest_200_tablets_postgres() {
    let admin_url = std::env::var("LIAISON_TEST_DATABASE_URL").expect(
        "LIAISON_TEST_DATABASE_URL names a PostgreSQL database whose role may create databases \
         (`cargo xtask bench` sets it)",
    );
    let database = ScratchDatabase::create(&admin_url);
    let server = Server::start_with_args(&["--database-url", &database.url()]);
    ingest(&server, "ingest_postgres", BACKLOG).await;
    ingest(&server, "burst_postgres", BURST).await;
    ingest(&server, "busy_postgres", BUSY).await;
    drop(server);
    drop(database);
}

#[test]
fn made_up_ids_are_canonical_uuid_v7() {
    let mut ids = Ids(1);
    let id = ids.v7(1_767_225_601_000);
    assert_eq!(id.len(), 36);
    assert_eq!(&id[..13], "019b76da-abe8");
    assert_eq!(&id[14..15], "7");
    assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
    assert_eq!(id, id.to_lowercase());
}
