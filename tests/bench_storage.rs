//! Storage benchmarks in the browser's real IndexedDB (headless Chromium through
//! wasm-bindgen-test). Every test is `#[ignore]`d, so the normal test run skips them: speed
//! goals belong here, never in timed tests. `cargo xtask bench` runs them in release mode:
//!
//! ```text
//! cargo test -p liaison-app --target wasm32-unknown-unknown --release --test bench_storage \
//!     -- --include-ignored --nocapture
//! ```
//!
//! (`--nocapture` sends `console_log!` to the runner's stdout; without it the runner shows the
//! console only when a test fails.) Results are printed as `BENCH name=value` lines, times in
//! milliseconds measured with `performance.now()`.

use liaison_app::storage::Store;
use liaison_domain::opinion::OpinionFilter;
use liaison_domain::{Opinion, OutcomeKind, StationId};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

mod common;

wasm_bindgen_test_configure!(run_in_browser);

/// How many records the bulk benchmarks write, list and search (the issue's figure).
const RECORDS: usize = 10_000;
/// Batch sizes (records per transaction) compared with raw IndexedDB.
const BATCHES: [usize; 3] = [500, 1_000, RECORDS];
/// Each (batch size, ours/raw) pair is measured this often, back to back and alternating which
/// goes first. Times are the medians; the ratio is the median of the rounds' own ratios (the
/// disk's speed drifts between rounds, much less within one).
const ROUNDS: usize = 5;
const STATION: &str = "st-a";

// The baseline: the same records written by plain JavaScript into a database with the same
// schema (key path and the three indexes of schema version 2), with the same durability.
#[wasm_bindgen(inline_js = r#"
export function raw_idb_write(name, records, batch) {
  const request = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  return (async () => {
    await request(indexedDB.deleteDatabase(name));
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => {
      const store = open.result.createObjectStore('opinions', { keyPath: 'id' });
      store.createIndex('by_station', ['station_id', 'id']);
      store.createIndex('by_station_category', ['station_id', 'category', 'id']);
      store.createIndex('by_station_outcome', ['station_id', 'outcome.kind', 'id']);
    };
    const db = await request(open);
    const start = performance.now();
    for (let i = 0; i < records.length; i += batch) {
      await new Promise((resolve, reject) => {
        const tx = db.transaction('opinions', 'readwrite', { durability: 'strict' });
        const store = tx.objectStore('opinions');
        const end = Math.min(i + batch, records.length);
        for (let j = i; j < end; j++) store.put(records[j]);
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
        tx.commit();
      });
    }
    const elapsed = performance.now() - start;
    db.close();
    await request(indexedDB.deleteDatabase(name));
    return elapsed;
  })();
}

// One record per transaction, as a capture save does; resolves with each put's ms.
export function raw_idb_put_each(name, records, durability) {
  const request = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  return (async () => {
    await request(indexedDB.deleteDatabase(name));
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => {
      const store = open.result.createObjectStore('opinions', { keyPath: 'id' });
      store.createIndex('by_station', ['station_id', 'id']);
      store.createIndex('by_station_category', ['station_id', 'category', 'id']);
      store.createIndex('by_station_outcome', ['station_id', 'outcome.kind', 'id']);
    };
    const db = await request(open);
    const samples = [];
    for (const record of records) {
      const start = performance.now();
      await new Promise((resolve, reject) => {
        const tx = db.transaction('opinions', 'readwrite', { durability });
        tx.objectStore('opinions').put(record);
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
        tx.commit();
      });
      samples.push(performance.now() - start);
    }
    db.close();
    await request(indexedDB.deleteDatabase(name));
    return samples;
  })();
}

// The records-list text search in plain JavaScript over an existing database: a reverse cursor
// on a station's index (getAll = false), or the whole station read with one getAll (true).
export function raw_idb_search(name, station, query, getAll) {
  const request = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const matches = (o) => [o.summary, o.details, o.place, o.on_site_reply]
    .some((t) => t.toLowerCase().includes(query));
  return (async () => {
    const db = await request(indexedDB.open(name));
    const start = performance.now();
    const index = db.transaction('opinions').objectStore('opinions').index('by_station');
    const range = IDBKeyRange.bound([station, ''], [station, '\uffff']);
    let found = 0;
    if (getAll) {
      const all = await request(index.getAll(range));
      for (let i = all.length - 1; i >= 0; i--) if (matches(all[i])) found++;
    } else {
      await new Promise((resolve, reject) => {
        const cursor = index.openCursor(range, 'prev');
        cursor.onerror = () => reject(cursor.error);
        cursor.onsuccess = () => {
          const c = cursor.result;
          if (!c) return resolve();
          if (matches(c.value)) found++;
          c.continue();
        };
      });
    }
    const elapsed = performance.now() - start;
    db.close();
    if (found !== 0) throw new Error(`expected no match, found ${found}`);
    return elapsed;
  })();
}
"#)]
extern "C" {
    fn raw_idb_write(name: &str, records: &js_sys::Array, batch: u32) -> js_sys::Promise;
    fn raw_idb_put_each(name: &str, records: &js_sys::Array, durability: &str) -> js_sys::Promise;
    fn raw_idb_search(name: &str, station: &str, query: &str, get_all: bool) -> js_sys::Promise;
}

async fn settle(promise: js_sys::Promise) -> JsValue {
    JsFuture::from(promise)
        .await
        .expect("the JavaScript baseline")
}

fn numbers(value: JsValue) -> Vec<f64> {
    js_sys::Array::from(&value)
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .expect("performance")
        .now()
}

async fn fresh(name: &str) -> Store {
    Store::delete_database(name).await.unwrap();
    let store = Store::open_named(name).await.unwrap();
    common::unlock(&store, "deputy").await;
    store
}

async fn drop_db(store: Store, name: &str) {
    store.close();
    Store::delete_database(name).await.unwrap();
}

/// Half parking, half roads; a quarter to be referred.
fn opinion(n: u64) -> Opinion {
    let category = if n.is_multiple_of(2) {
        "parking"
    } else {
        "roads_lighting"
    };
    let outcome = if n.is_multiple_of(4) {
        OutcomeKind::ToBeReferred
    } else {
        OutcomeKind::AnsweredOnSpot
    };
    common::opinion(n, STATION, category, outcome)
}

fn opinions() -> Vec<Opinion> {
    (0..RECORDS as u64).map(opinion).collect()
}

/// Nearest-rank percentile of `samples` (`p` in 0..=100).
fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(samples: &[f64]) -> f64 {
    percentile(samples, 50.0)
}

fn bench(name: &str, value: f64) {
    console_log!("BENCH {name}={value:.2}");
}

/// The records as JavaScript objects, converted exactly as `indexed_db_futures`' `.serde()`
/// does when the store writes them.
fn to_js(batch: &[Opinion]) -> js_sys::Array {
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    batch
        .iter()
        .map(|o| o.serialize(&serializer).unwrap())
        .collect()
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run by `cargo xtask bench`"]
async fn bench_save_one_opinion_durably() {
    const SAVES: usize = 200;
    let name = "bench-save-one";
    let store = fresh(name).await;
    let records: Vec<Opinion> = (0..SAVES as u64).map(opinion).collect();
    let mut samples = Vec::with_capacity(SAVES);
    for record in &records {
        let start = now();
        store.save_opinion(record, None).await.unwrap();
        samples.push(now() - start);
    }
    assert_eq!(
        store.count_opinions(&STATION.into()).await.unwrap(),
        SAVES as u32
    );
    drop_db(store, name).await;
    bench("save_one_samples", SAVES as f64);
    bench("save_one_p50_ms", percentile(&samples, 50.0));
    bench("save_one_p95_ms", percentile(&samples, 95.0));
    bench("save_one_max_ms", percentile(&samples, 100.0));
    bench(
        "save_one_mean_ms",
        samples.iter().sum::<f64>() / samples.len() as f64,
    );

    // The same puts from plain JavaScript, strict and relaxed: shows what the durable flush
    // costs on this disk, and what our save adds (three stores in the transaction, the
    // conversion, the futures).
    let js_records = to_js(&records);
    for durability in ["strict", "relaxed"] {
        let name = format!("bench-raw-save-one-{durability}");
        let samples = numbers(settle(raw_idb_put_each(&name, &js_records, durability)).await);
        bench(
            &format!("save_one_raw_js_{durability}_p50_ms"),
            percentile(&samples, 50.0),
        );
        bench(
            &format!("save_one_raw_js_{durability}_p95_ms"),
            percentile(&samples, 95.0),
        );
    }
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run by `cargo xtask bench`"]
async fn bench_write_10000_in_batches_vs_raw_indexeddb() {
    let records = opinions();

    // What the conversion to JavaScript objects alone costs (part of "ours", not of "raw").
    let start = now();
    let js_records = to_js(&records);
    bench("serialize_10000_ms", now() - start);

    // The design notes' anchor: 1,000 records in one transaction into an empty database.
    let mut ours = Vec::with_capacity(ROUNDS);
    let mut raw = Vec::with_capacity(ROUNDS);
    let first_thousand = &records[..1_000];
    let js_thousand = to_js(first_thousand);
    for round in 0..ROUNDS {
        let name = format!("bench-ours-1000-{round}");
        let store = fresh(&name).await;
        let start = now();
        store.put_opinions(first_thousand).await.unwrap();
        ours.push(now() - start);
        drop_db(store, &name).await;
        let name = format!("bench-raw-1000-{round}");
        let ms = settle(raw_idb_write(&name, &js_thousand, 1_000)).await;
        raw.push(ms.as_f64().unwrap());
    }
    bench("write_1000_one_tx_ours_ms", median(&ours));
    bench("write_1000_one_tx_raw_js_ms", median(&raw));

    for batch in BATCHES {
        let mut ours = Vec::with_capacity(ROUNDS);
        let mut raw = Vec::with_capacity(ROUNDS);
        for round in 0..ROUNDS {
            for ours_now in [round % 2 == 0, round % 2 != 0] {
                if ours_now {
                    let name = format!("bench-ours-{batch}-{round}");
                    let store = fresh(&name).await;
                    let start = now();
                    for chunk in records.chunks(batch) {
                        store.put_opinions(chunk).await.unwrap();
                    }
                    ours.push(now() - start);
                    assert_eq!(
                        store.count_opinions(&STATION.into()).await.unwrap(),
                        RECORDS as u32
                    );
                    drop_db(store, &name).await;
                } else {
                    let name = format!("bench-raw-{batch}-{round}");
                    let ms = settle(raw_idb_write(&name, &js_records, batch as u32)).await;
                    raw.push(ms.as_f64().unwrap());
                }
            }
        }
        let ratios: Vec<f64> = ours.iter().zip(&raw).map(|(o, r)| o / r).collect();
        bench(&format!("write_10000_batch{batch}_ours_ms"), median(&ours));
        bench(&format!("write_10000_batch{batch}_raw_js_ms"), median(&raw));
        bench(&format!("write_10000_batch{batch}_ratio"), median(&ratios));
        bench(
            &format!("write_10000_batch{batch}_ratio_min"),
            percentile(&ratios, 0.0),
        );
        bench(
            &format!("write_10000_batch{batch}_ratio_max"),
            percentile(&ratios, 100.0),
        );
    }
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run by `cargo xtask bench`"]
async fn bench_list_and_search_10000() {
    const RUNS: usize = 20;
    let name = "bench-list";
    let store = fresh(name).await;
    for chunk in opinions().chunks(1_000) {
        store.put_opinions(chunk).await.unwrap();
    }
    let station: StationId = STATION.into();

    let mut newest = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = now();
        let page = store
            .list_opinions(&station, &OpinionFilter::default(), None, 50)
            .await
            .unwrap();
        newest.push(now() - start);
        assert_eq!(page.items.len(), 50);
        assert!(page.next_after.is_some());
    }

    // No record matches, so the text filter walks (and deserialises) all 10,000.
    let nothing = OpinionFilter {
        text: "没有这条意见".into(),
        ..Default::default()
    };
    let mut search = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = now();
        let page = store
            .list_opinions(&station, &nothing, None, 50)
            .await
            .unwrap();
        search.push(now() - start);
        assert!(page.items.is_empty());
    }
    // The same search in plain JavaScript on the same database, with a cursor as ours, and
    // with one getAll.
    let mut raw_cursor = Vec::with_capacity(RUNS);
    let mut raw_get_all = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        for (get_all, samples) in [(false, &mut raw_cursor), (true, &mut raw_get_all)] {
            let ms = settle(raw_idb_search(name, STATION, &nothing.text, get_all)).await;
            samples.push(ms.as_f64().unwrap());
        }
    }
    drop_db(store, name).await;
    bench("list_newest50_of_10000_p50_ms", percentile(&newest, 50.0));
    bench("list_newest50_of_10000_p95_ms", percentile(&newest, 95.0));
    bench("search_scan_10000_p50_ms", percentile(&search, 50.0));
    bench("search_scan_10000_p95_ms", percentile(&search, 95.0));
    bench(
        "search_scan_10000_raw_js_cursor_p50_ms",
        percentile(&raw_cursor, 50.0),
    );
    bench(
        "search_scan_10000_raw_js_getall_p50_ms",
        percentile(&raw_get_all, 50.0),
    );
}
