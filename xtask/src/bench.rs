//! `cargo xtask bench`: the figures in BENCHMARKS.md.
//!
//! 1. `build --release` (the bundle and server that are measured);
//! 2. the bundle size: `*_bg.wasm` and `liaison-app-*.js` in dist/, raw and gzipped at level 9;
//! 3. the storage benchmarks (`tests/bench_storage.rs`, release mode, headless Chromium);
//! 4. the start-up benchmark (`e2e/tests/bench_startup.rs`, the release app and server);
//! 5. the sync benchmarks (`e2e/tests/bench_sync.rs`): a tablet pushing 10,000 opinions, a fresh
//!    tablet pulling them, and 200 simulated tablets pushing at once to the server on SQLite and
//!    on PostgreSQL (a scratch database made with the test role of `cargo xtask setup`).
//!
//! `cargo xtask bench --sync` runs only the build and step 5.
//!
//! The benchmarks are `#[ignore]`d tests, so `cargo xtask test` never runs them; here they run
//! with `--include-ignored`. Each prints `BENCH name=value` lines; this command collects them
//! and prints a Markdown table. It does not write BENCHMARKS.md: a person reads the figures and
//! commits them.

use super::{
    Ctx, TEST_DATABASE_URL, WASM_TARGET, browser_env, build, describe, e2e_env, flush,
    postgres_test_url,
};
use anyhow::{Context, Result, bail};
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;

/// The benchmarks' `BENCH` lines, in the order they came.
type Figures = Vec<(String, String)>;

/// `only_sync`: skip the bundle, storage and start-up figures.
pub fn bench(ctx: &Ctx, only_sync: bool) -> Result<()> {
    build(ctx, true)?;
    let mut figures = Figures::new();
    if !only_sync {
        figures.extend(bundle_storage_startup(ctx)?);
    }

    println!("\n==== xtask bench: sync (tablet push and pull of 10,000; 200 tablets at once) ====");
    let mut sync_env = e2e_env(ctx);
    sync_env.push((TEST_DATABASE_URL, postgres_test_url(ctx)?.into()));
    figures.extend(run_collecting(
        ctx,
        &[
            "test",
            "-p",
            "liaison-e2e",
            "--test",
            "bench_sync",
            "--",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ],
        &sync_env,
    )?);

    println!("\n==== xtask bench: results ====\n");
    print!("{}", table(&figures, &machine(ctx)));
    println!("\nxtask: BENCHMARKS.md is not rewritten: copy the figures into it by hand.");
    flush();
    Ok(())
}

/// `cargo xtask bench --figures`: the server's statistics benchmark
/// (`crates/server/benches/figures.rs`), on SQLite and, through `LIAISON_BENCH_PG_URL`, on the
/// local PostgreSQL that `setup` starts.
pub fn bench_figures(ctx: &Ctx) -> Result<()> {
    println!(
        "\n==== xtask bench: figures (1,000,000 opinions in 500 stations; export of 100,000 rows) ===="
    );
    let env = [("LIAISON_BENCH_PG_URL", postgres_test_url(ctx)?.into())];
    let figures = run_collecting(
        ctx,
        &["bench", "-p", "liaison-server", "--bench", "figures"],
        &env,
    )?;
    println!("\n==== xtask bench: results ====\n");
    print!("{}", table(&figures, &machine(ctx)));
    println!("\nxtask: BENCHMARKS.md is not rewritten: copy the figures into it by hand.");
    flush();
    Ok(())
}

/// Steps 2 to 4: the bundle size, the storage benchmarks and the start-up benchmark.
fn bundle_storage_startup(ctx: &Ctx) -> Result<Figures> {
    let mut figures = Figures::new();
    println!("\n==== xtask bench: bundle size ====");
    figures.extend(bundle_size(&ctx.dist_dir())?);
    for (name, value) in &figures {
        println!("BENCH {name}={value}");
    }

    println!("\n==== xtask bench: storage (release wasm in headless Chromium) ====");
    let mut storage_env = browser_env(ctx);
    // The default (120 s) is for the whole test binary; the storage benchmarks take longer.
    storage_env.retain(|(key, _)| *key != "WASM_BINDGEN_TEST_TIMEOUT");
    storage_env.push(("WASM_BINDGEN_TEST_TIMEOUT", "1200".into()));
    figures.extend(run_collecting(
        ctx,
        &[
            "test",
            "-p",
            "liaison-app",
            "--target",
            WASM_TARGET,
            "--release",
            "--test",
            "bench_storage",
            "--",
            "--include-ignored",
            "--nocapture",
        ],
        &storage_env,
    )?);

    println!("\n==== xtask bench: start-up offline (release app and server) ====");
    figures.extend(run_collecting(
        ctx,
        &[
            "test",
            "-p",
            "liaison-e2e",
            "--test",
            "bench_startup",
            "--",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ],
        &e2e_env(ctx),
    )?);
    Ok(figures)
}

/// Raw and gzip -9 sizes of the app's wasm and JavaScript files in `dist`.
fn bundle_size(dist: &Path) -> Result<Figures> {
    let mut wasm = None;
    let mut js = None;
    for entry in fs::read_dir(dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let slot = if name.ends_with("_bg.wasm") {
            &mut wasm
        } else if name.starts_with("liaison-app-") && name.ends_with(".js") {
            &mut js
        } else {
            continue;
        };
        if let Some(other) = slot.replace(path.clone()) {
            bail!(
                "two candidates in {}: {} and {}; rebuild with `cargo xtask build --release`",
                dist.display(),
                other.display(),
                path.display()
            );
        }
    }
    let (Some(wasm), Some(js)) = (wasm, js) else {
        bail!(
            "{} lacks the app's *_bg.wasm or liaison-app-*.js: run `cargo xtask build --release`",
            dist.display()
        );
    };
    let mut figures = Figures::new();
    let mut total = (0, 0);
    for (label, path) in [("wasm", &wasm), ("js", &js)] {
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let gz = gzip_len(&bytes)?;
        figures.push((format!("bundle_{label}_bytes"), bytes.len().to_string()));
        figures.push((format!("bundle_{label}_gz_bytes"), gz.to_string()));
        total = (total.0 + bytes.len(), total.1 + gz);
    }
    figures.push(("bundle_total_bytes".into(), total.0.to_string()));
    figures.push(("bundle_total_gz_bytes".into(), total.1.to_string()));
    Ok(figures)
}

/// Length of `bytes` compressed like `gzip -9`.
fn gzip_len(bytes: &[u8]) -> Result<usize> {
    use flate2::{Compression, write::GzEncoder};
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

/// Runs `cargo args` with `env`, echoing its output, and returns its `BENCH name=value` lines.
fn run_collecting(ctx: &Ctx, args: &[&str], env: &[(&'static str, OsString)]) -> Result<Figures> {
    let mut cmd = ctx.cmd("cargo");
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped());
    let line = describe(&cmd);
    println!("$ {line}");
    flush();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("could not start `{line}`"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut figures = Figures::new();
    for text in BufReader::new(stdout).lines() {
        let text = text?;
        println!("{text}");
        if let Some(figure) = parse_bench_line(&text) {
            figures.push(figure);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    if figures.is_empty() {
        bail!("`{line}` printed no BENCH lines");
    }
    Ok(figures)
}

/// `BENCH name=value` (anywhere in the line: the runner may indent console output).
fn parse_bench_line(line: &str) -> Option<(String, String)> {
    let rest = line.split_once("BENCH ")?.1.trim();
    let (name, value) = rest.split_once('=')?;
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !value.is_empty();
    valid.then(|| (name.to_owned(), value.trim().to_owned()))
}

/// What each figure is, for the table. Unknown names are shown as they are.
fn describe_figure(name: &str) -> &'static str {
    match name {
        "bundle_wasm_bytes" => "app wasm (`*_bg.wasm`), raw, bytes",
        "bundle_wasm_gz_bytes" => "app wasm, gzip -9, bytes",
        "bundle_js_bytes" => "app JS glue (`liaison-app-*.js`), raw, bytes",
        "bundle_js_gz_bytes" => "app JS glue, gzip -9, bytes",
        "bundle_total_bytes" => "wasm + JS, raw, bytes",
        "bundle_total_gz_bytes" => "**wasm + JS, gzip -9, bytes**",
        "serialize_10000_ms" => "converting 10,000 opinions to JS objects (serde-wasm-bindgen)",
        "write_1000_one_tx_ours_ms" => "1,000 opinions in one transaction, `Store::put_opinions`",
        "write_1000_one_tx_raw_js_ms" => "1,000 records in one transaction, plain JS",
        "write_10000_batch500_ours_ms" => "10,000 opinions, batches of 500, ours",
        "write_10000_batch500_raw_js_ms" => "10,000 records, batches of 500, plain JS",
        "write_10000_batch500_ratio" => {
            "**ratio ours / plain JS (median of rounds), batches of 500**"
        }
        "write_10000_batch500_ratio_min" => "lowest round's ratio, batches of 500",
        "write_10000_batch500_ratio_max" => "highest round's ratio, batches of 500",
        "write_10000_batch1000_ours_ms" => "10,000 opinions, batches of 1,000, ours",
        "write_10000_batch1000_raw_js_ms" => "10,000 records, batches of 1,000, plain JS",
        "write_10000_batch1000_ratio" => {
            "**ratio ours / plain JS (median of rounds), batches of 1,000**"
        }
        "write_10000_batch1000_ratio_min" => "lowest round's ratio, batches of 1,000",
        "write_10000_batch1000_ratio_max" => "highest round's ratio, batches of 1,000",
        "write_10000_batch10000_ours_ms" => "10,000 opinions in one transaction, ours",
        "write_10000_batch10000_raw_js_ms" => "10,000 records in one transaction, plain JS",
        "write_10000_batch10000_ratio" => {
            "**ratio ours / plain JS (median of rounds), one transaction**"
        }
        "write_10000_batch10000_ratio_min" => "lowest round's ratio, one transaction",
        "write_10000_batch10000_ratio_max" => "highest round's ratio, one transaction",
        "save_one_samples" => "saves measured",
        "save_one_p50_ms" => "**save one opinion durably (`Store::save_opinion`), p50**",
        "save_one_p95_ms" => "**save one opinion durably, p95**",
        "save_one_max_ms" => "save one opinion durably, max",
        "save_one_mean_ms" => "save one opinion durably, mean",
        "save_one_raw_js_strict_p50_ms" => "one put per transaction, plain JS, strict, p50",
        "save_one_raw_js_strict_p95_ms" => "one put per transaction, plain JS, strict, p95",
        "save_one_raw_js_relaxed_p50_ms" => "one put per transaction, plain JS, relaxed, p50",
        "save_one_raw_js_relaxed_p95_ms" => "one put per transaction, plain JS, relaxed, p95",
        "list_newest50_of_10000_p50_ms" => "newest 50 of 10,000 (`list_opinions`), p50",
        "list_newest50_of_10000_p95_ms" => "newest 50 of 10,000, p95",
        "search_scan_10000_p50_ms" => "text search scanning all 10,000 (no match), p50",
        "search_scan_10000_p95_ms" => "text search scanning all 10,000, p95",
        "search_scan_10000_raw_js_cursor_p50_ms" => "the same scan, plain JS cursor, p50",
        "search_scan_10000_raw_js_getall_p50_ms" => "the same scan, plain JS `getAll`, p50",
        "startup_online_first_visit_ms" => "first visit online, fresh profile (one sample)",
        "startup_offline_samples" => "offline navigations measured",
        "startup_offline_first_ms" => "offline start-up, first navigation",
        "startup_offline_p50_ms" => "**navigation → interactive capture form, offline, p50**",
        "startup_offline_p95_ms" => "**navigation → interactive capture form, offline, p95**",
        "startup_offline_max_ms" => "navigation → interactive capture form, offline, max",
        "startup_offline_wasm_loaded_p50_ms" => "wasm file received (from the service worker), p50",
        "tablet_seed_10000_ms" => "writing 10,000 unsynced opinions into IndexedDB (setup)",
        "tablet_push_10000_requests" => "tablet push: push requests (200 mutations each)",
        "tablet_push_10000_push_phase_s" => "tablet push: first push sent → last push answered, s",
        "tablet_push_10000_push_phase_per_s" => "tablet push: records/s over the push phase",
        "tablet_push_10000_in_requests_s" => {
            "tablet push: time inside push requests (network and server), s"
        }
        "tablet_push_10000_pull_back_in_requests_s" => {
            "tablet push: time inside those pull requests, s"
        }
        "tablet_pull_10000_in_requests_s" => {
            "fresh tablet: time inside pull requests (network and server), s"
        }
        "tablet_push_10000_pull_back_requests" => "tablet push: pull requests after the push",
        "tablet_push_10000_pull_back_s" => "tablet push: pulling its own 10,000 back, s",
        "tablet_push_10000_to_synced_s" => {
            "**tablet push of 10,000: first push → badge ok, pending 0, s**"
        }
        "tablet_push_10000_to_synced_per_s" => "**tablet push of 10,000: records/s**",
        "tablet_push_10000_from_navigation_s" => "tablet push: app navigation → badge ok, s",
        "tablet_pull_10000_requests" => "fresh tablet: pull requests (500 changes each)",
        "tablet_pull_10000_pull_phase_s" => "fresh tablet: first pull sent → last pull answered, s",
        "tablet_pull_10000_to_synced_s" => {
            "**fresh tablet pull of 10,000: first pull → badge ok, s**"
        }
        "tablet_pull_10000_to_synced_per_s" => "**fresh tablet pull of 10,000: records/s**",
        "tablet_pull_10000_to_listed_s" => {
            "fresh tablet: first pull → records total shows 10,000, s"
        }
        "tablet_pull_10000_from_sign_in_click_s" => "fresh tablet: sign-in click → badge ok, s",
        name if name.starts_with("ingest_") => describe_ingest(name),
        _ => "",
    }
}

/// The ingest figures (`ingest_<backend>_<what>`), the same for both backends.
fn describe_ingest(name: &str) -> &'static str {
    let what = name
        .strip_prefix("ingest_sqlite_")
        .or_else(|| name.strip_prefix("ingest_postgres_"))
        .unwrap_or_default();
    match what {
        "clients" => "ingest: simulated tablets pushing at once",
        "mutations" => "ingest: mutations pushed (all accepted, none rejected)",
        "batch" => "ingest: mutations per push",
        "seconds" => "ingest: wall time from release to the last answer, s",
        "mutations_per_s" => "**ingest: mutations/s**",
        "pushes_per_s" => "ingest: pushes/s",
        "push_p50_ms" => "**ingest: push latency p50, ms**",
        "push_p99_ms" => "**ingest: push latency p99, ms**",
        "push_max_ms" => "ingest: push latency max, ms",
        "server_cpu_s" => "ingest: server CPU time (user + system) while pushing, s",
        "server_cpu_ms_per_push" => "ingest: server CPU per push, ms",
        "load_generator_cpu_s" => "ingest: load generator CPU time while pushing, s",
        "rss_start_mib" => "ingest: server RSS when started, MiB",
        "rss_before_mib" => "ingest: server RSS after the sign-ins, MiB",
        "rss_peak_mib" => "ingest: server peak RSS while pushing (sampled every 20 ms), MiB",
        "rss_after_mib" => "ingest: server RSS after the pushes, MiB",
        "vmhwm_before_mib" => "ingest: server VmHWM after the sign-ins, MiB",
        "vmhwm_mib" => "**ingest: server VmHWM (peak RSS) at the end, MiB**",
        _ => "",
    }
}

/// The machine the figures come from: cores, CPU, browser, date.
fn machine(ctx: &Ctx) -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = ctx
        .capture("lscpu", &[])
        .and_then(|out| {
            out.lines()
                .find_map(|l| l.strip_prefix("Model name:").map(|m| m.trim().to_owned()))
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let chromium = ctx
        .capture(super::CHROMIUM, &["--version"])
        .unwrap_or_else(|| "unknown Chromium".into());
    let date = ctx
        .capture("date", &["-u", "+%Y-%m-%d"])
        .unwrap_or_default();
    format!("{cores} cores, {cpu}; {chromium}; {date}")
}

fn table(figures: &Figures, machine: &str) -> String {
    let mut out = format!(
        "Machine: {machine}. Command: `cargo xtask bench`.\n\n\
         | figure | value | name |\n|---|---:|---|\n"
    );
    for (name, value) in figures {
        let what = match describe_figure(name) {
            "" => name.as_str(),
            known => known,
        };
        out.push_str(&format!("| {what} | {value} | `{name}` |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bench_lines() {
        assert_eq!(
            parse_bench_line("BENCH save_one_p50_ms=1.86"),
            Some(("save_one_p50_ms".into(), "1.86".into()))
        );
        assert_eq!(
            parse_bench_line("    BENCH x_1=2"),
            Some(("x_1".into(), "2".into()))
        );
        assert_eq!(parse_bench_line("BENCH =2"), None);
        assert_eq!(parse_bench_line("BENCH a b=2"), None);
        assert_eq!(parse_bench_line("test bench_x ... ok"), None);
    }

    #[test]
    fn gzip_shrinks_repetitive_bytes() {
        let bytes = vec![b'a'; 100_000];
        let gz = gzip_len(&bytes).unwrap();
        assert!(gz > 18 && gz < 1_000, "{gz}");
    }

    #[test]
    fn measures_the_bundle_in_a_dist_folder() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("liaison-app-abc_bg.wasm"), vec![0u8; 1000]).unwrap();
        fs::write(dir.join("liaison-app-abc.js"), "x".repeat(500)).unwrap();
        fs::write(dir.join("main-abc.css"), "body{}").unwrap();
        let figures = bundle_size(&dir).unwrap();
        let get = |name: &str| {
            figures
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.parse::<usize>().unwrap())
                .unwrap()
        };
        assert_eq!(get("bundle_wasm_bytes"), 1000);
        assert_eq!(get("bundle_js_bytes"), 500);
        assert_eq!(get("bundle_total_bytes"), 1500);
        assert!(get("bundle_total_gz_bytes") < 200);
        fs::remove_dir_all(&dir).unwrap();
    }
}
