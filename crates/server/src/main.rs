//! `liaison-server serve`: opens the database, optionally seeds demo data, and serves the app
//! and the API until Ctrl-C or SIGTERM. Everything else lives in the library (see `lib.rs`).

use anyhow::Context;
use axum::http::HeaderValue;
use clap::{Args, Parser, Subcommand};
use liaison_server::{AppState, Db, Settings, app, shutdown_signal, telemetry};
use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Serve the tablet app and the API.
    Serve(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LIAISON_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// Directory for the SQLite database (created if missing).
    #[arg(long, env = "LIAISON_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,

    /// The built app to serve (trunk's output).
    #[arg(long, env = "LIAISON_DIST", default_value = "dist")]
    dist: PathBuf,

    /// Seed demo regions, stations and deputies if the directory is empty.
    #[arg(long)]
    demo: bool,

    /// Replace the Content-Security-Policy, whose default allows exactly the inline scripts of
    /// `<dist>/index.html` (by hash).
    #[arg(long, env = "LIAISON_CSP", value_parser = parse_header_value)]
    csp: Option<HeaderValue>,
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
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let db = Db::open(&args.data_dir).await?;
    if args.demo {
        db.seed_demo().await.context("cannot seed demo data")?;
    }

    if !args.dist.join("index.html").is_file() {
        tracing::warn!(dist = %args.dist.display(), "no index.html in the dist directory: build the app first");
    }
    let mut settings = Settings::new(&args.dist);
    match args.csp {
        Some(csp) => settings.content_security_policy = csp,
        None => tracing::debug!(csp = ?settings.content_security_policy, "content security policy"),
    }

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let local = listener.local_addr()?;
    tracing::info!("Listening on http://{local}/");

    axum::serve(listener, app(AppState::new(db.clone(), settings)))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;

    // Checkpoints the WAL into the database file so the data directory is tidy after a stop.
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}
