//! `liaison-server serve`: opens the database (SQLite in `--data-dir`, or PostgreSQL with
//! `--database-url` / `DATABASE_URL`), creates the first administrator on first start
//! (its password printed once to stdout), optionally seeds demo data and demo accounts, and
//! serves the app and the API until Ctrl-C or SIGTERM.
//! `liaison-server create-admin --username U`: adds an administrator with a generated password,
//! printed once (audited as `account_created`).
//! `liaison-server purge-personal-data`: runs the retention purge now (`serve` runs it daily;
//! see `privacy.rs`). Everything else lives in the library (see `lib.rs`).

use anyhow::Context;
use axum::http::HeaderValue;
use clap::{Args, Parser, Subcommand};
use liaison_domain::Role;
use liaison_server::db::Storage;
use liaison_server::db::accounts::{DEMO_ACCOUNTS, NewUser, SYSTEM_USER_ID};
use liaison_server::db::audit::{AuditEntry, actions};
use liaison_server::{AppState, Db, Passwords, Settings, app, shutdown_signal, telemetry};
use std::net::SocketAddr;
use std::path::PathBuf;

/// See the dependency's comment in `Cargo.toml`: allocation-heavy request handling on many
/// threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    version,
    about = "Server for the deputy liaison stations (人大代表联络站)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the tablet app and the API. On first start (no user at all) an administrator
    /// `admin` is created and its password printed once.
    Serve(ServeArgs),
    /// Create an administrator with a generated password, printed once.
    CreateAdmin(CreateAdminArgs),
    /// Clear the personal data of opinions archived longer ago than the retention period, and
    /// delete audit records older than theirs, now (`serve` does it once a day).
    PurgePersonalData(PurgeArgs),
}

/// How long personal data and the audit log are kept.
#[derive(Args)]
struct RetentionArgs {
    /// Days after an opinion is archived until the citizen's name, phone and address are purged
    /// (the opinion and its figures stay).
    #[arg(long, env = "LIAISON_RETENTION_DAYS", default_value_t = Settings::DEFAULT_RETENTION_DAYS)]
    retention_days: u32,

    /// Days the audit log is kept; never fewer than 180 (the database refuses to delete younger
    /// records).
    #[arg(long, env = "LIAISON_AUDIT_RETENTION_DAYS", default_value_t = Settings::DEFAULT_AUDIT_RETENTION_DAYS)]
    audit_retention_days: u32,
}

#[derive(Args)]
struct PurgeArgs {
    #[command(flatten)]
    retention: RetentionArgs,

    #[command(flatten)]
    storage: StorageArgs,
}

/// Where the data lives. SQLite by default; PostgreSQL when a URL is given.
#[derive(Args)]
struct StorageArgs {
    /// Directory for the SQLite database (created if missing). Not used with --database-url.
    #[arg(long, env = "LIAISON_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,

    /// Use this PostgreSQL database instead of SQLite:
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE (the database must exist; the server creates
    /// its tables). Several server instances may share one database.
    // The value is never shown in `--help` (it holds a password).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl StorageArgs {
    async fn open(&self) -> anyhow::Result<Db> {
        let storage = Storage::new(self.database_url.as_deref(), &self.data_dir)?;
        tracing::info!("database: {storage}");
        Db::open_storage(&storage).await
    }
}

#[derive(Args)]
struct CreateAdminArgs {
    /// The new administrator's username.
    #[arg(long)]
    username: String,

    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LIAISON_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    #[command(flatten)]
    storage: StorageArgs,

    /// The built app to serve (trunk's output).
    #[arg(long, env = "LIAISON_DIST", default_value = "dist")]
    dist: PathBuf,

    /// Seed demo regions, stations and deputies if the directory is empty, and demo accounts
    /// with public passwords (demo only!): demo-office / demo-office-2026 (office staff, 示范区),
    /// demo-station / demo-station-2026 (station staff, 幸福里), demo-deputy / demo-deputy-2026
    /// (deputy 张建国, 幸福里), demo-deputy2 / demo-deputy2-2026 (deputy 李秀英, 幸福里),
    /// demo-unit / demo-unit-2026 (handling unit 区住房和城乡建设局),
    /// demo-unit2 / demo-unit2-2026 (handling unit 区城市管理局); and the demo handling units.
    #[arg(long)]
    demo: bool,

    /// Replace the Content-Security-Policy, whose default allows exactly the inline scripts of
    /// `<dist>/index.html` (by hash).
    #[arg(long, env = "LIAISON_CSP", value_parser = parse_header_value)]
    csp: Option<HeaderValue>,

    /// The oldest app version allowed to sync; older tablets are told to update (HTTP 426) and
    /// keep their unsent changes.
    #[arg(long, env = "LIAISON_MIN_APP_VERSION", default_value = Settings::DEFAULT_MIN_APP_VERSION)]
    min_app_version: String,

    #[command(flatten)]
    retention: RetentionArgs,

    /// Behind a reverse proxy: limit sign-ins per client by the last X-Forwarded-For address
    /// (the one the proxy added) instead of the connection's, which is the proxy's.
    #[arg(long, env = "LIAISON_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
}

fn parse_header_value(value: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(value).map_err(|err| err.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::CreateAdmin(args) => create_admin(args).await,
        Command::PurgePersonalData(args) => purge(args).await,
    }
}

async fn purge(args: PurgeArgs) -> anyhow::Result<()> {
    let db = args.storage.open().await?;
    let report = liaison_server::privacy::purge_personal_data(
        &db,
        args.retention.retention_days,
        args.retention.audit_retention_days,
        liaison_server::auth::now_ms(),
    )
    .await;
    db.close().await;
    let report = report?;
    println!(
        "Purged the personal data of {} of {} archived opinions; deleted {} old audit records.",
        report.purged, report.archived, report.audit_records_deleted
    );
    Ok(())
}

/// The audit record of an account made from the command line (by no signed-in account).
async fn audit_account_created(db: &Db, username: &str, via: &str) -> anyhow::Result<()> {
    let entry = AuditEntry {
        id: 0,
        at_ms: liaison_server::auth::now_ms(),
        user_id: SYSTEM_USER_ID.to_owned(),
        username: "system".to_owned(),
        display_name: "系统".to_owned(),
        action: actions::ACCOUNT_CREATED.to_owned(),
        detail: serde_json::json!({"account": username, "role": "admin", "via": via}),
    };
    db.write_audit_at(&entry, None).await?;
    Ok(())
}

async fn create_admin(args: CreateAdminArgs) -> anyhow::Result<()> {
    let db = args.storage.open().await?;
    let password = liaison_server::auth::new_password()?;
    let passwords = Passwords::default();
    let password_hash = tokio::task::spawn_blocking({
        let password = password.clone();
        move || passwords.hash(&password)
    })
    .await??;
    let user = NewUser {
        username: args.username.clone(),
        display_name: args.username.trim().to_owned(),
        role: Role::Admin,
        deputy_id: None,
        unit_id: None,
        scopes: Vec::new(),
        password_hash,
    };
    let created = db.create_user(&user).await?;
    if created.is_some() {
        let username = user.username.trim().to_lowercase();
        audit_account_created(&db, &username, "create-admin").await?;
    }
    db.close().await;
    match created {
        Some(_) => {
            println!(
                "Created administrator '{}' with password: {password}  (shown only this once)",
                user.username.trim().to_lowercase()
            );
            Ok(())
        }
        None => anyhow::bail!("the username '{}' is taken", args.username),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let db = args.storage.open().await?;
    let mut settings = Settings::new(&args.dist);
    settings.min_app_version = args.min_app_version.clone();
    settings.retention_days = args.retention.retention_days;
    settings.audit_retention_days = args.retention.audit_retention_days;
    settings.trust_forwarded_for = args.trust_forwarded_for;

    // Printed to stdout, not logged: it appears once, here, and in no log file.
    if let Some(password) = db
        .create_first_admin(&settings.passwords)
        .await
        .context("cannot create the first administrator")?
    {
        audit_account_created(&db, "admin", "first start").await?;
        println!(
            "First start: created administrator 'admin' with password: {password}  \
             (shown only this once)"
        );
    }

    if args.demo {
        db.seed_demo().await.context("cannot seed demo data")?;
        let created = db
            .seed_demo_accounts(&settings.passwords)
            .await
            .context("cannot create the demo accounts")?;
        if created > 0 {
            let names: Vec<_> = DEMO_ACCOUNTS.iter().map(|a| a.username).collect();
            tracing::info!(
                "demo accounts created ({}): passwords in `liaison-server serve --help`",
                names.join(", ")
            );
        }
    }

    if !args.dist.join("index.html").is_file() {
        tracing::warn!(dist = %args.dist.display(), "no index.html in the dist directory: build the app first");
    }
    match args.csp {
        Some(csp) => settings.content_security_policy = csp,
        None => tracing::debug!(csp = ?settings.content_security_policy, "content security policy"),
    }

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let local = listener.local_addr()?;
    tracing::info!("Listening on http://{local}/");

    let state = AppState::new(db.clone(), settings);
    let events = state.events.clone();
    // Safe on every instance at once (see `privacy.rs`).
    let purge = tokio::spawn(liaison_server::privacy::run_daily(state.clone()));
    // The peer address keys the sign-in rate limit.
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            // Open change-event streams never end by themselves; graceful shutdown would wait
            // for them forever.
            events.close();
        })
        .await
        .context("server error")?;
    purge.abort();

    // SQLite: checkpoints the WAL into the database file so the data directory is tidy after a
    // stop. PostgreSQL: ends the sessions cleanly.
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}
