//! Project automation, run as `cargo xtask <command>` (the alias is in `.cargo/config.toml`).
//! See `USAGE` below for the commands and what each one runs.

mod bench;
mod precache;
mod versions;

use anyhow::{Context, Result, bail};
use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The trunk release the build is written for (Trunk.toml's `trunk-version` requires it too).
pub const TRUNK_VERSION: &str = "0.21.14";
/// wasm-opt comes from the npm package `binaryen` (a WebAssembly build of binaryen run by Node.js):
/// Debian's binaryen 108 silently breaks the output, and trunk may not download tools.
const BINARYEN_NPM_PACKAGE: &str = "binaryen@132.0.0";
/// What that wasm-opt reports (`wasm-opt version 132 (version_132)`); trunk reads the third word
/// and compares `version_132` with Trunk.toml's `[tools] wasm_opt`.
pub const WASM_OPT_VERSION: &str = "132";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CJK_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";
/// poppler-utils: the end-to-end tests read back the printed register (pdftotext) and leave a
/// picture of its first page for review (pdftoppm).
const PDFTOTEXT: &str = "/usr/bin/pdftotext";
const SERVER_ADDR: &str = "127.0.0.1:8080";
/// The server's integration tests run on PostgreSQL when this names a database to connect to
/// (`crates/server/tests/api/main.rs`). Set it to use a PostgreSQL of your own: `cargo xtask`
/// then installs and starts nothing.
const TEST_DATABASE_URL: &str = "LIAISON_TEST_DATABASE_URL";
/// The end-to-end harness runs each server on a fresh PostgreSQL database when this is set
/// (`e2e/src/lib.rs`); the last step of `cargo xtask test` sets it for the sync tests.
const E2E_DATABASE_URL: &str = "LIAISON_E2E_DATABASE_URL";
/// The role the server tests use on the local PostgreSQL. It may create databases (one per test)
/// and nothing more; the password is no secret (local test role, loopback only).
const PG_TEST_ROLE: &str = "liaison";

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup [--browser]   install what is missing: the wasm32 target, trunk, wasm-bindgen-cli (the
                      Cargo.lock version), wasm-opt (npm binaryen) into target/tools, Debian's
                      postgresql (started, with the test role `liaison`); with --browser also
                      Debian's chromium and chromium-driver
  check-versions      wasm-bindgen: Cargo.lock == Cargo.toml pin == Trunk.toml == CLIs on PATH
  build [--release]   setup, check-versions, trunk build into dist/, cargo build -p liaison-server
  precache [DIR]      fill dist's sw.js placeholders (trunk post_build hook; DIR defaults to
                      $TRUNK_STAGING_DIR)
  run                 build --release, then serve the app on http://127.0.0.1:8080/ (demo data)
  test                everything CI checks: setup --browser, check-versions, fmt, clippy (native and
                      wasm), native tests (server on SQLite), server tests on PostgreSQL, browser
                      tests, build --release, end-to-end tests (and the sync ones again with the
                      server on PostgreSQL)
  bench [--sync]      build --release, then measure: bundle size (gzip -9), storage (release
                      wasm in headless chromium), offline start-up (release app and server),
                      sync (a tablet pushing and a fresh one pulling 10,000 opinions; 200
                      simulated tablets pushing at once, SQLite and PostgreSQL); prints the
                      figures for BENCHMARKS.md (which it does not rewrite). --sync: only the
                      sync benchmarks
  bench --figures     the statistics at scale: 1,000,000 opinions in 500 stations on SQLite and
                      PostgreSQL (dashboard queries, p50/p95), and an xlsx export of 100,000
                      register rows (time, peak memory)
";

/// The workspace root (the xtask crate lives in `<root>/xtask`).
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("the xtask crate is inside the workspace")
        .to_path_buf()
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = Ctx::new().and_then(|ctx| dispatch(&ctx, &args));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(ctx: &Ctx, args: &[String]) -> Result<()> {
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => {
            eprint!("{USAGE}");
            bail!("no command given");
        }
    };
    let flags = |allowed: &[&'static str]| parse_flags(command, rest, allowed);
    match command {
        "setup" => {
            let browser = flags(&["--browser"])?.contains(&"--browser");
            setup(ctx, browser)?;
            postgres_test_url(ctx).map(drop)
        }
        "check-versions" => {
            flags(&[])?;
            check_versions(ctx).map(drop)
        }
        "build" => build(ctx, flags(&["--release"])?.contains(&"--release")),
        "precache" => {
            let dir = match rest {
                [] => env::var_os("TRUNK_STAGING_DIR")
                    .map(PathBuf::from)
                    .context("precache: give DIR, or run it as a trunk hook (TRUNK_STAGING_DIR)")?,
                [dir] => PathBuf::from(dir),
                _ => bail!("precache takes one DIR\n\n{USAGE}"),
            };
            let base = precache::normalize_base(env::var("TRUNK_PUBLIC_URL").ok().as_deref());
            let summary = precache::precache(&dir, &base)?;
            println!(
                "precache: {}/{} filled: {} files, build id {}",
                dir.display(),
                precache::SERVICE_WORKER,
                summary.urls.len(),
                summary.build_id
            );
            Ok(())
        }
        "run" => {
            flags(&[])?;
            run_server(ctx)
        }
        "test" => {
            flags(&[])?;
            test(ctx)
        }
        "bench" => {
            let given = flags(&["--sync", "--figures"])?;
            if given.contains(&"--figures") {
                bench::bench_figures(ctx)
            } else {
                bench::bench(ctx, given.contains(&"--sync"))
            }
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// Checks that `args` are all among `allowed`; returns them.
fn parse_flags(
    command: &str,
    args: &[String],
    allowed: &[&'static str],
) -> Result<Vec<&'static str>> {
    args.iter()
        .map(|arg| {
            allowed
                .iter()
                .find(|a| **a == arg)
                .copied()
                .with_context(|| format!("`{command}` does not take `{arg}`\n\n{USAGE}"))
        })
        .collect()
}

/// Paths and the PATH every child process gets.
struct Ctx {
    root: PathBuf,
    target_dir: PathBuf,
    /// `<target>/tools/node_modules/.bin` (wasm-opt), then `$CARGO_HOME/bin` (trunk,
    /// wasm-bindgen, wasm-bindgen-test-runner, cargo), then the inherited PATH.
    path: OsString,
}

impl Ctx {
    fn new() -> Result<Self> {
        let root = repo_root();
        let target_dir = match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => root.join(dir),
            _ => root.join("target"),
        };
        let cargo_home = env::var_os("CARGO_HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
        let mut dirs = vec![target_dir.join("tools").join("node_modules").join(".bin")];
        dirs.extend(cargo_home.map(|home| home.join("bin")));
        dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
        let path = env::join_paths(dirs).context("building PATH")?;
        Ok(Ctx {
            root,
            target_dir,
            path,
        })
    }

    fn tools_dir(&self) -> PathBuf {
        self.target_dir.join("tools")
    }

    fn dist_dir(&self) -> PathBuf {
        self.root.join("dist")
    }

    /// `program` as found on our PATH (std would search the parent's PATH, not the child's).
    fn which(&self, program: &str) -> Option<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        if program.contains('/') {
            return Some(PathBuf::from(program));
        }
        env::split_paths(&self.path)
            .map(|dir| dir.join(program))
            .find(|candidate| {
                fs::metadata(candidate)
                    .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                    .unwrap_or(false)
            })
    }

    /// A command run from the repository root with our PATH.
    fn cmd(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.which(program).unwrap_or_else(|| program.into()));
        cmd.env("PATH", &self.path).current_dir(&self.root);
        cmd
    }

    /// The output of `program args` (stdout, or stderr when stdout is empty), if it ran and
    /// succeeded.
    fn capture(&self, program: &str, args: &[&str]) -> Option<String> {
        let out = self.cmd(program).args(args).output().ok()?;
        if !out.status.success() {
            return None;
        }
        let text = if out.stdout.iter().all(u8::is_ascii_whitespace) {
            out.stderr
        } else {
            out.stdout
        };
        Some(String::from_utf8_lossy(&text).trim().to_string())
    }
}

/// `cmd` as a shell-like line, for logs and errors.
fn describe(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program());
    let name = program.file_name().unwrap_or(program.as_os_str());
    let mut line = name.to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
            line.push_str(&format!(" '{}'", arg.replace('\'', "'\\''")));
        } else {
            line.push(' ');
            line.push_str(&arg);
        }
    }
    line
}

/// Runs `cmd` with inherited stdio; an error names the command and its exit status.
fn run(cmd: &mut Command) -> Result<()> {
    let line = describe(cmd);
    println!("$ {line}");
    flush();
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

fn flush() {
    let _ = std::io::stdout().flush();
}

// ---------------------------------------------------------------------------------------------
// setup

fn setup(ctx: &Ctx, browser: bool) -> Result<()> {
    setup_wasm_target(ctx)?;
    setup_trunk(ctx)?;
    setup_wasm_bindgen(ctx)?;
    setup_wasm_opt(ctx)?;
    if browser {
        setup_browser(ctx)?;
    }
    Ok(())
}

fn wasm_target_installed(ctx: &Ctx) -> Result<bool> {
    if let Some(list) = ctx.capture("rustup", &["target", "list", "--installed"]) {
        return Ok(list.lines().any(|line| line.trim() == WASM_TARGET));
    }
    // No rustup: a toolchain whose sysroot has the wasm32 standard library still works.
    let sysroot = ctx
        .capture("rustc", &["--print", "sysroot"])
        .context("neither rustup nor rustc found: install Rust with rustup (https://rustup.rs)")?;
    Ok(Path::new(&sysroot)
        .join("lib/rustlib")
        .join(WASM_TARGET)
        .is_dir())
}

fn setup_wasm_target(ctx: &Ctx) -> Result<()> {
    let rustc = ctx
        .capture("rustc", &["--version"])
        .unwrap_or_else(|| "rustc ?".into());
    if wasm_target_installed(ctx)? {
        println!("setup: {WASM_TARGET} target: ok ({rustc})");
        return Ok(());
    }
    println!("setup: {WASM_TARGET} target: missing, installing with rustup");
    run(ctx.cmd("rustup").args(["target", "add", WASM_TARGET])).with_context(|| {
        format!("could not add the {WASM_TARGET} target: run `rustup target add {WASM_TARGET}`")
    })?;
    if !wasm_target_installed(ctx)? {
        bail!("the {WASM_TARGET} target is still missing after `rustup target add {WASM_TARGET}`");
    }
    println!("setup: {WASM_TARGET} target: installed");
    Ok(())
}

/// `program --version`'s version word (`trunk 0.21.14` gives `0.21.14`), if it runs.
fn tool_version(ctx: &Ctx, program: &str) -> Option<String> {
    ctx.capture(program, &["--version"])
        .and_then(|out| versions::version_word(&out))
}

/// Makes sure every one of `programs` (all installed by one crate) reports `want` to `--version`,
/// running `cargo <install>` otherwise. The first program names the step.
fn ensure_cargo_tool(ctx: &Ctx, programs: &[&str], want: &str, install: &[&str]) -> Result<()> {
    let name = programs[0];
    let install_line = format!("cargo {}", install.join(" "));
    let wrong = || -> Vec<(&str, Option<String>)> {
        programs
            .iter()
            .map(|program| (*program, tool_version(ctx, program)))
            .filter(|(_, found)| found.as_deref() != Some(want))
            .collect()
    };
    let before = wrong();
    if before.is_empty() {
        println!("setup: {name} {want}: ok");
        return Ok(());
    }
    let found: Vec<String> = before
        .iter()
        .map(|(program, found)| format!("{program} {}", found.as_deref().unwrap_or("missing")))
        .collect();
    println!(
        "setup: {name} {want}: found {}, installing with `{install_line}`",
        found.join(", ")
    );
    run(ctx.cmd("cargo").args(install)).with_context(|| {
        format!(
            "could not install {name} {want}: check that crates.io is reachable, then run \
             `{install_line}` by hand"
        )
    })?;
    let after = wrong();
    if let Some((program, found)) = after.first() {
        bail!(
            "after `{install_line}`, `{program} --version` reports {} (at {}), not {want}: \
             remove the other {program} from PATH or run `cargo install --force {}`",
            found.as_deref().unwrap_or("nothing"),
            ctx.which(program)
                .map_or("nowhere".into(), |p| p.display().to_string()),
            install.last().unwrap_or(&name),
        );
    }
    println!("setup: {name} {want}: installed");
    Ok(())
}

fn setup_trunk(ctx: &Ctx) -> Result<()> {
    let spec = format!("trunk@{TRUNK_VERSION}");
    ensure_cargo_tool(
        ctx,
        &["trunk"],
        TRUNK_VERSION,
        &["install", "--locked", &spec],
    )
}

fn locked_wasm_bindgen(ctx: &Ctx) -> Result<String> {
    let lock = fs::read_to_string(ctx.root.join("Cargo.lock")).context("reading Cargo.lock")?;
    versions::lock_version(&lock, "wasm-bindgen")
}

fn setup_wasm_bindgen(ctx: &Ctx) -> Result<()> {
    let version = locked_wasm_bindgen(ctx)?;
    // Not `--locked`: wasm-bindgen-cli's own lock file does not build with this toolchain.
    let spec = format!("wasm-bindgen-cli@{version}");
    // The same crate installs the test runner that `.cargo/config.toml` names.
    ensure_cargo_tool(
        ctx,
        &["wasm-bindgen", "wasm-bindgen-test-runner"],
        &version,
        &["install", &spec],
    )
}

fn wasm_opt_path(ctx: &Ctx) -> PathBuf {
    ctx.tools_dir().join("node_modules/.bin/wasm-opt")
}

/// `version_N` the way trunk 0.21.14 reads `wasm-opt --version` (third space-separated word).
fn wasm_opt_version(ctx: &Ctx) -> Option<String> {
    let path = wasm_opt_path(ctx);
    let out = ctx.capture(path.to_str()?, &["--version"])?;
    out.split(' ').nth(2).map(|v| format!("version_{v}"))
}

fn setup_wasm_opt(ctx: &Ctx) -> Result<()> {
    let want = format!("version_{WASM_OPT_VERSION}");
    let tools = ctx.tools_dir();
    match wasm_opt_version(ctx) {
        Some(found) if found == want => {
            println!(
                "setup: wasm-opt {want}: ok ({})",
                wasm_opt_path(ctx).display()
            );
            return Ok(());
        }
        Some(found) => println!(
            "setup: wasm-opt {want}: found {found}, installing npm {BINARYEN_NPM_PACKAGE} into {}",
            tools.display()
        ),
        None => println!(
            "setup: wasm-opt {want}: missing, installing npm {BINARYEN_NPM_PACKAGE} into {}",
            tools.display()
        ),
    }
    if ctx.capture("npm", &["--version"]).is_none() || ctx.capture("node", &["--version"]).is_none()
    {
        bail!(
            "wasm-opt needs Node.js and npm, which are not on PATH: install them \
             (Debian: `apt-get install -y nodejs npm`), then run `cargo xtask setup` again"
        );
    }
    fs::create_dir_all(&tools).with_context(|| format!("creating {}", tools.display()))?;
    let mut npm = ctx.cmd("npm");
    npm.arg("install").arg("--prefix").arg(&tools).args([
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
        "--save-exact",
        BINARYEN_NPM_PACKAGE,
    ]);
    run(&mut npm).with_context(|| {
        format!(
            "could not install wasm-opt: check that the npm registry is reachable, then run \
             `npm install --prefix {} {BINARYEN_NPM_PACKAGE}`",
            tools.display()
        )
    })?;
    match wasm_opt_version(ctx) {
        Some(found) if found == want => {
            println!("setup: wasm-opt {want}: installed");
            Ok(())
        }
        found => bail!(
            "{} --version reports {}, not {want}: delete {} and run `cargo xtask setup` again",
            wasm_opt_path(ctx).display(),
            found.as_deref().unwrap_or("nothing"),
            tools.display()
        ),
    }
}

/// The major version in `Chromium 156.0.8078.108 built on Debian ...` or
/// `ChromeDriver 156.0.8078.108 (...)`.
fn browser_major(version_line: &str) -> Option<&str> {
    version_line
        .split_whitespace()
        .find(|word| word.chars().next().is_some_and(|c| c.is_ascii_digit()))?
        .split('.')
        .next()
}

fn setup_browser(ctx: &Ctx) -> Result<()> {
    // A Chinese font, so that the screenshots the tests leave for review show text, not boxes.
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER, CJK_FONT, PDFTOTEXT]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    let apt_hint = "as root: `apt-get update && apt-get install -y chromium chromium-driver fonts-wqy-microhei poppler-utils`";
    if missing.is_empty() {
        println!("setup: chromium, chromium-driver: ok");
    } else {
        println!(
            "setup: chromium, chromium-driver: {} missing, installing with apt-get",
            missing.join(" and ")
        );
        for args in [
            &["update"][..],
            &[
                "install",
                "-y",
                "chromium",
                "chromium-driver",
                "fonts-wqy-microhei",
                "poppler-utils",
            ][..],
        ] {
            let mut apt = ctx.cmd("apt-get");
            apt.args(args).env("DEBIAN_FRONTEND", "noninteractive");
            run(&mut apt)
                .with_context(|| format!("could not install the browser: run {apt_hint}"))?;
        }
        println!("setup: chromium, chromium-driver: installed");
    }
    let chromium = ctx
        .capture(CHROMIUM, &["--version"])
        .with_context(|| format!("`{CHROMIUM} --version` failed: reinstall it, {apt_hint}"))?;
    let driver = ctx
        .capture(CHROMEDRIVER, &["--version"])
        .with_context(|| format!("`{CHROMEDRIVER} --version` failed: reinstall it, {apt_hint}"))?;
    if browser_major(&chromium) != browser_major(&driver) {
        bail!(
            "chromium and chromedriver differ in major version ({chromium} vs {driver}): \
             upgrade both together, {apt_hint}"
        );
    }
    println!("setup: browser: {chromium}; {driver}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL for the server tests

/// A cluster as `pg_lsclusters --no-header` lists it: `15 main 5432 online postgres ...`.
#[derive(Debug, PartialEq)]
struct PgCluster {
    version: String,
    name: String,
    port: u16,
    online: bool,
}

fn parse_pg_clusters(listing: &str) -> Vec<PgCluster> {
    listing
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields[..] {
                [version, name, port, status, ..] => Some(PgCluster {
                    version: version.to_owned(),
                    name: name.to_owned(),
                    port: port.parse().ok()?,
                    // `online`, or `online,recovery` on a standby.
                    online: status.split(',').any(|s| s == "online"),
                }),
                _ => None,
            }
        })
        .collect()
}

fn pg_clusters(ctx: &Ctx) -> Vec<PgCluster> {
    ctx.capture("pg_lsclusters", &["--no-header"])
        .map(|listing| parse_pg_clusters(&listing))
        .unwrap_or_default()
}

/// Whether this process runs as root (then `apt-get` and `runuser` work as they are).
fn is_root(ctx: &Ctx) -> bool {
    ctx.capture("id", &["-u"]).as_deref() == Some("0")
}

/// `psql` as the `postgres` superuser (peer authentication over the local socket).
fn psql_as_postgres(ctx: &Ctx, port: u16) -> Command {
    let port = port.to_string();
    let mut cmd = if is_root(ctx) {
        let mut cmd = ctx.cmd("runuser");
        cmd.args(["-u", "postgres", "--", "psql"]);
        cmd
    } else {
        let mut cmd = ctx.cmd("sudo");
        cmd.args(["-u", "postgres", "psql"]);
        cmd
    };
    cmd.args(["--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-p", &port]);
    cmd
}

/// Makes sure a local PostgreSQL runs with the test role, and returns the URL the server tests
/// connect to. Installs Debian's `postgresql` if missing, starts its cluster if it is down
/// (a fresh CI machine has it installed by this very function and not started), creates or
/// updates the role. Every step is idempotent; a failure is an error that names what to do, so
/// that CI fails loudly rather than skip PostgreSQL.
fn postgres_test_url(ctx: &Ctx) -> Result<String> {
    if let Some(url) = env::var_os(TEST_DATABASE_URL).filter(|url| !url.is_empty()) {
        println!("setup: postgresql: using {TEST_DATABASE_URL} from the environment");
        return url
            .into_string()
            .map_err(|_| anyhow::anyhow!("{TEST_DATABASE_URL} is not UTF-8"));
    }
    let apt_hint = "as root: `apt-get update && apt-get install -y postgresql`";
    if ctx.which("pg_lsclusters").is_none() || ctx.which("pg_ctlcluster").is_none() {
        println!("setup: postgresql: missing, installing with apt-get");
        for args in [&["update"][..], &["install", "-y", "postgresql"][..]] {
            let mut apt = ctx.cmd("apt-get");
            apt.args(args).env("DEBIAN_FRONTEND", "noninteractive");
            run(&mut apt)
                .with_context(|| format!("could not install PostgreSQL: run {apt_hint}"))?;
        }
        println!("setup: postgresql: installed");
    }

    let mut clusters = pg_clusters(ctx);
    if clusters.is_empty() {
        // The package creates `<version>/main`; someone may have dropped it since.
        let version = fs::read_dir("/usr/lib/postgresql")
            .with_context(|| {
                format!("/usr/lib/postgresql is missing: reinstall PostgreSQL, {apt_hint}")
            })?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.parse::<u32>().ok())
            .max()
            .with_context(|| format!("no PostgreSQL version installed: {apt_hint}"))?;
        println!("setup: postgresql: no cluster, creating {version}/main");
        run(ctx
            .cmd("pg_createcluster")
            .args([&version.to_string(), "main"]))
        .context("could not create a PostgreSQL cluster")?;
        clusters = pg_clusters(ctx);
    }
    let cluster = clusters
        .first()
        .context("pg_lsclusters lists no cluster after pg_createcluster")?;
    let label = format!(
        "{}/{} on port {}",
        cluster.version, cluster.name, cluster.port
    );
    if cluster.online {
        println!("setup: postgresql {label}: running");
    } else {
        println!("setup: postgresql {label}: down, starting it");
        let mut start = ctx.cmd("pg_ctlcluster");
        start.args([&cluster.version, &cluster.name, "start"]);
        // Exit status 2 is "already running" (started meanwhile), which is what we want; the
        // listing below is the judge either way.
        let line = describe(&start);
        println!("$ {line}");
        flush();
        let status = start
            .status()
            .with_context(|| format!("could not start `{line}`"))?;
        let running = pg_clusters(ctx)
            .iter()
            .any(|c| c.version == cluster.version && c.name == cluster.name && c.online);
        if !running {
            bail!(
                "PostgreSQL {label} did not start (`{line}`: {status}); see \
                 /var/log/postgresql/postgresql-{}-{}.log",
                cluster.version,
                cluster.name
            );
        }
        println!("setup: postgresql {label}: started");
    }

    // The role and its password are set on every run, so a role left by hand with another
    // password is brought back to what the URL says.
    let role_sql = format!(
        "DO $$ BEGIN \
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PG_TEST_ROLE}') THEN \
             CREATE ROLE {PG_TEST_ROLE} LOGIN CREATEDB PASSWORD '{PG_TEST_ROLE}'; \
           ELSE \
             ALTER ROLE {PG_TEST_ROLE} LOGIN CREATEDB PASSWORD '{PG_TEST_ROLE}'; \
           END IF; \
         END $$"
    );
    let mut psql = psql_as_postgres(ctx, cluster.port);
    psql.args(["-q", "-c", &role_sql]);
    run(&mut psql).with_context(|| {
        format!("could not create the PostgreSQL test role `{PG_TEST_ROLE}` (as the postgres user)")
    })?;

    let url = format!(
        "postgres://{PG_TEST_ROLE}:{PG_TEST_ROLE}@127.0.0.1:{}/postgres",
        cluster.port
    );
    // Over TCP with the password, as the tests will connect.
    let mut check = ctx.cmd("psql");
    check.args([
        "--no-psqlrc",
        "-q",
        "-o",
        "/dev/null",
        "-c",
        "SELECT 1",
        &url,
    ]);
    run(&mut check).with_context(|| {
        format!(
            "the test role cannot sign in over TCP ({url}): check `host` lines for 127.0.0.1 in \
             /etc/postgresql/{}/{}/pg_hba.conf (Debian's default, scram-sha-256, works)",
            cluster.version, cluster.name
        )
    })?;
    println!("setup: postgresql {label}: test role `{PG_TEST_ROLE}` ok");
    Ok(url)
}

// ---------------------------------------------------------------------------------------------
// check-versions

fn check_versions(ctx: &Ctx) -> Result<String> {
    let read = |name: &str| {
        fs::read_to_string(ctx.root.join(name)).with_context(|| format!("reading {name}"))
    };
    let values = [
        (
            "Cargo.lock (package wasm-bindgen)",
            read("Cargo.lock").and_then(|lock| versions::lock_version(&lock, "wasm-bindgen")),
        ),
        (
            "Cargo.toml (wasm-bindgen = \"=X\")",
            read("Cargo.toml").and_then(|toml| versions::exact_pin(&toml, "wasm-bindgen")),
        ),
        (
            "Trunk.toml ([tools] wasm_bindgen)",
            read("Trunk.toml").and_then(|toml| {
                versions::table_string(&toml, "tools", "wasm_bindgen")
                    .context("Trunk.toml has no `[tools] wasm_bindgen`")
            }),
        ),
        (
            "wasm-bindgen --version",
            tool_version(ctx, "wasm-bindgen")
                .context("wasm-bindgen is not on PATH: run `cargo xtask setup`"),
        ),
        (
            "wasm-bindgen-test-runner --version",
            tool_version(ctx, "wasm-bindgen-test-runner")
                .context("wasm-bindgen-test-runner is not on PATH: run `cargo xtask setup`"),
        ),
    ];
    let version = versions::all_equal("wasm-bindgen", &values)?;
    println!(
        "check-versions: wasm-bindgen {version} in Cargo.lock, Cargo.toml, Trunk.toml, and the \
         wasm-bindgen and wasm-bindgen-test-runner on PATH"
    );
    Ok(version)
}

// ---------------------------------------------------------------------------------------------
// build, run

fn build(ctx: &Ctx, release: bool) -> Result<()> {
    setup(ctx, false)?;
    check_versions(ctx)?;
    // Trunk runs offline (Trunk.toml), which also makes its `cargo build` run `--offline`: on a
    // fresh machine the crates must be downloaded first.
    run(ctx.cmd("cargo").arg("fetch"))?;
    let mut trunk = ctx.cmd("trunk");
    trunk
        .args(["build", "--offline=true", "--skip-version-check"])
        .arg("--dist")
        .arg(ctx.dist_dir());
    if release {
        trunk.arg("--release=true");
    }
    run(&mut trunk)?;
    let mut server = ctx.cmd("cargo");
    server.args(["build", "-p", "liaison-server"]);
    if release {
        server.arg("--release");
    }
    run(&mut server)
}

fn server_bin(ctx: &Ctx) -> PathBuf {
    ctx.target_dir.join("release").join("liaison-server")
}

fn run_server(ctx: &Ctx) -> Result<()> {
    use std::os::unix::process::CommandExt;
    build(ctx, true)?;
    let bin = server_bin(ctx);
    let url = format!("http://{SERVER_ADDR}/");
    println!();
    println!("==== liaison: open {url} (demo data; Ctrl-C stops the server) ====");
    println!();
    let mut server = ctx.cmd(bin.to_str().context("non-UTF-8 target dir")?);
    server.args([
        "serve",
        "--addr",
        SERVER_ADDR,
        "--data-dir",
        "data",
        "--dist",
        "dist",
        "--demo",
    ]);
    println!("$ {}", describe(&server));
    flush();
    // Replace this process, so that Ctrl-C and the exit status are the server's own.
    let err = server.exec();
    Err(err).with_context(|| format!("could not start {}", bin.display()))
}

// ---------------------------------------------------------------------------------------------
// test

struct Step<'a> {
    title: &'static str,
    run: Box<dyn Fn() -> Result<()> + 'a>,
}

fn cargo_step<'a>(
    ctx: &'a Ctx,
    title: &'static str,
    args: &'a [&'a str],
    env: Vec<(&'static str, OsString)>,
) -> Step<'a> {
    Step {
        title,
        run: Box::new(move || {
            let mut cmd = ctx.cmd("cargo");
            // Only the PostgreSQL step points the server tests at PostgreSQL: a URL in the
            // caller's environment must not turn the SQLite run into a second PostgreSQL run.
            cmd.env_remove(TEST_DATABASE_URL);
            cmd.args(args).envs(env.iter().map(|(k, v)| (k, v)));
            run(&mut cmd)
        }),
    }
}

fn browser_env(ctx: &Ctx) -> Vec<(&'static str, OsString)> {
    vec![
        ("CHROMEDRIVER", CHROMEDRIVER.into()),
        // The runner opens `webdriver.json` relative to its working directory unless told.
        (
            "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
            ctx.root.join("webdriver.json").into_os_string(),
        ),
        ("WASM_BINDGEN_TEST_DRIVER_TIMEOUT", "60".into()),
        ("WASM_BINDGEN_TEST_TIMEOUT", "120".into()),
    ]
}

/// What the end-to-end tests (and the start-up benchmark) need: the release server and app.
fn e2e_env(ctx: &Ctx) -> Vec<(&'static str, OsString)> {
    vec![
        ("LIAISON_SERVER_BIN", server_bin(ctx).into_os_string()),
        ("LIAISON_DIST", ctx.dist_dir().into_os_string()),
        ("CHROMEDRIVER", CHROMEDRIVER.into()),
        ("CHROMIUM", CHROMIUM.into()),
    ]
}

fn test(ctx: &Ctx) -> Result<()> {
    let steps = vec![
        Step {
            title: "setup --browser",
            run: Box::new(|| {
                setup(ctx, true)?;
                postgres_test_url(ctx).map(drop)
            }),
        },
        Step {
            title: "check-versions",
            run: Box::new(|| check_versions(ctx).map(drop)),
        },
        cargo_step(ctx, "format", &["fmt", "--all", "--check"], vec![]),
        cargo_step(
            ctx,
            "clippy (native)",
            &[
                "clippy",
                "--workspace",
                "--exclude",
                "liaison-app",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
            vec![],
        ),
        cargo_step(
            ctx,
            "clippy (wasm32)",
            &[
                "clippy",
                "-p",
                "liaison-app",
                "--target",
                WASM_TARGET,
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
            vec![],
        ),
        cargo_step(
            ctx,
            "native tests",
            &[
                "test",
                "--workspace",
                "--exclude",
                "liaison-app",
                "--exclude",
                "liaison-e2e",
            ],
            vec![],
        ),
        Step {
            title: "server tests (PostgreSQL)",
            run: Box::new(|| {
                // Checked again here (cheap, idempotent): the cluster must be up for this step.
                let url = postgres_test_url(ctx)?;
                let mut cmd = ctx.cmd("cargo");
                cmd.args(["test", "-p", "liaison-server"])
                    .env(TEST_DATABASE_URL, &url);
                println!("({TEST_DATABASE_URL}={url})");
                run(&mut cmd)
            }),
        },
        cargo_step(
            ctx,
            "browser tests (wasm-bindgen-test in headless chromium)",
            &["test", "-p", "liaison-app", "--target", WASM_TARGET],
            browser_env(ctx),
        ),
        Step {
            title: "build --release",
            run: Box::new(|| build(ctx, true)),
        },
        cargo_step(
            ctx,
            "end-to-end tests",
            &["test", "-p", "liaison-e2e", "--", "--test-threads=1"],
            e2e_env(ctx),
        ),
        Step {
            title: "end-to-end sync, follow-up and figures tests (server on PostgreSQL)",
            run: Box::new(|| {
                let url = postgres_test_url(ctx)?;
                let mut cmd = ctx.cmd("cargo");
                cmd.args([
                    "test",
                    "-p",
                    "liaison-e2e",
                    "--test",
                    "sync",
                    "--test",
                    "followup",
                    "--test",
                    "figures",
                    "--",
                    "--test-threads=1",
                ])
                .envs(e2e_env(ctx))
                .env(E2E_DATABASE_URL, &url);
                println!("({E2E_DATABASE_URL}={url})");
                run(&mut cmd)
            }),
        },
    ];

    let total = steps.len();
    let mut passed = 0;
    for (i, step) in steps.iter().enumerate() {
        println!("\n==== xtask test [{}/{total}]: {} ====", i + 1, step.title);
        flush();
        if let Err(err) = (step.run)() {
            eprintln!("\nxtask: step `{}` failed: {err:#}", step.title);
            println!("xtask: {passed} passed, 1 failed");
            flush();
            std::process::exit(1);
        }
        passed += 1;
    }
    println!("\nxtask: all {total} steps passed");
    println!("xtask: {passed} passed, 0 failed");
    flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_browser_major_versions() {
        assert_eq!(
            browser_major("Chromium 156.0.8078.108 built on Debian GNU/Linux 12 (bookworm)"),
            Some("156")
        );
        assert_eq!(
            browser_major("ChromeDriver 156.0.8078.108 (abc-refs/branch-heads/8078@{#1})"),
            Some("156")
        );
        assert_eq!(browser_major("nothing"), None);
    }

    #[test]
    fn reads_pg_lsclusters() {
        let listing = "15 main 5432 online postgres /var/lib/postgresql/15/main log\n\
                       16 test 5433 down   postgres /var/lib/postgresql/16/test log\n\
                       15 standby 5434 online,recovery postgres /x log\n";
        let clusters = parse_pg_clusters(listing);
        assert_eq!(
            clusters[0],
            PgCluster {
                version: "15".into(),
                name: "main".into(),
                port: 5432,
                online: true
            }
        );
        assert!(!clusters[1].online);
        assert_eq!(clusters[1].port, 5433);
        assert!(clusters[2].online);
        assert!(parse_pg_clusters("").is_empty());
    }

    #[test]
    fn describes_commands_like_a_shell() {
        let mut cmd = Command::new("/usr/bin/cargo");
        cmd.args(["test", "-p", "x", "--", "a b", "it's"]);
        assert_eq!(describe(&cmd), r#"cargo test -p x -- 'a b' 'it'\''s'"#);
    }

    #[test]
    fn trunk_toml_keeps_the_required_settings() {
        let text = fs::read_to_string(repo_root().join("Trunk.toml")).unwrap();
        let get = |table, key| versions::table_string(&text, table, key);
        assert_eq!(get("build", "target").as_deref(), Some("index.html"));
        assert_eq!(get("build", "dist").as_deref(), Some("dist"));
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.split('#').next().unwrap().replace(' ', ""))
            .collect();
        for required in [
            "filehash=true",
            "offline=true",
            "stage=\"post_build\"",
            "command=\"cargo\"",
            "command_arguments=[\"xtask\",\"precache\"]",
        ] {
            assert!(
                lines.iter().any(|l| l == required),
                "Trunk.toml lacks {required}"
            );
        }
    }

    #[test]
    fn unknown_flags_are_rejected() {
        let ctx = Ctx::new().unwrap();
        let err = dispatch(&ctx, &["build".into(), "--relase".into()]).unwrap_err();
        assert!(
            err.to_string().contains("does not take `--relase`"),
            "{err}"
        );
        assert!(dispatch(&ctx, &["bench".into(), "--quick".into()]).is_err());
        assert!(dispatch(&ctx, &["benchmark".into()]).is_err());
        assert!(dispatch(&ctx, &["precache".into(), "a".into(), "b".into()]).is_err());
    }
}
