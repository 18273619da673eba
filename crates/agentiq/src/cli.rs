//! The command line (design.md §6.1) and what each command wires together.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sandbox::{FaultSpec, RateLimit, Sandbox, SandboxConfig};
use tokio::net::TcpListener;

#[derive(Debug, Parser)]
#[command(
    name = "agentiq",
    version,
    about = "AgentIQ Chat Center — the WB buyer-chat inbox"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything on the embedded default: an in-process WB sandbox with simulated buyers.
    Demo(DemoArgs),
    /// Run the WB emulator alone (routes, limits, moderation, faults of WB's buyer-chat API).
    Sandbox(SandboxArgs),
    /// Production server: sync of every active account (and the API).
    Serve(ConfigArg),
    /// Apply database migrations and exit.
    Migrate(ConfigArg),
    /// Fetch everything new from WB for all accounts (or one) and exit.
    Sync(SyncArgs),
    /// Manage operators.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage connected marketplace accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Measure throughput, latency and memory (results go to BENCHMARKS.md by hand).
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// TOML settings file; AGENTIQ_* environment variables override it.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Run one backfill and exit (the only mode; continuous sync is `serve`).
    #[arg(long, required = true)]
    pub once: bool,
    /// Only this account.
    #[arg(long)]
    pub account: Option<domain::AccountId>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an operator; the password is read from standard input.
    Add(UserAddArgs),
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[arg(long)]
    pub email: String,
    /// Read the password from standard input (one line).
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// Workspace name (created if missing; default "Default").
    #[arg(long)]
    pub workspace: Option<String>,
    /// Also create and print an API key for scripts.
    #[arg(long)]
    pub api_key: bool,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Connect a WB seller account; the token is read from standard input.
    Add(AccountAddArgs),
    /// List connected accounts with their sync state.
    List(ConfigArg),
}

#[derive(Debug, Args)]
pub struct AccountAddArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[arg(long)]
    pub name: String,
    /// Read the WB API token from standard input.
    #[arg(long, required = true)]
    pub token_stdin: bool,
    /// Point the account at a WB sandbox instead of WB.
    #[arg(long)]
    pub api_base_url: Option<String>,
    /// Workspace name (created if missing; default "Default").
    #[arg(long)]
    pub workspace: Option<String>,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Address of the web UI; loopback unless told otherwise.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data directory (SQLite file, key file); default: a fresh temporary one, removed on exit.
    #[arg(long)]
    data: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
struct SandboxArgs {
    /// Address to listen on, e.g. 127.0.0.1:8081 (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// A seller's API token; repeat for more sellers (each with its own data and rate limit).
    #[arg(long = "token", required = true)]
    tokens: Vec<String>,
    /// Seeded chats per seller.
    #[arg(long, default_value_t = 5)]
    chats: usize,
    /// Extra seeded messages per chat (seller answers and buyer follow-ups, alternating).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=1000))]
    followups: u16,
    /// Seed for deterministic ids, names, texts and files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated buyer messages per minute, across all sellers.
    #[arg(long, default_value_t = 0.0)]
    traffic: f64,
    /// Faults, e.g. "5xx=0.1,429=0.05,timeout=0.05,drop_after_commit=0.1,duplicate_events=0.2,empty_chats".
    #[arg(long, value_parser = parse_faults)]
    faults: Option<FaultSpec>,
    /// Switch WB's rate limit off.
    #[arg(long)]
    no_rate_limit: bool,
    /// The rate limit as BURST/SECONDS (WB: 10/10).
    #[arg(long, default_value = "10/10", value_parser = parse_rate)]
    rate_limit: RateLimit,
    /// Events per /events page.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    page_size: u16,
    /// Seconds a `timeout` fault holds a request before answering 504.
    #[arg(long, default_value_t = 30)]
    timeout_hold: u64,
}

fn parse_faults(s: &str) -> Result<FaultSpec, String> {
    s.parse()
        .map_err(|e: sandbox::FaultSpecError| e.to_string())
}

fn parse_rate(s: &str) -> Result<RateLimit, String> {
    s.parse()
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Sandbox(args) => run_sandbox(args).await,
        Command::Demo(args) => run_demo(args).await,
        Command::Serve(args) => crate::commands::serve(args).await,
        Command::Migrate(args) => crate::commands::migrate(args).await,
        Command::Sync(args) => crate::commands::sync_once(args).await,
        Command::User(UserCommand::Add(args)) => crate::commands::user_add(args).await,
        Command::Account(AccountCommand::Add(args)) => crate::commands::account_add(args).await,
        Command::Account(AccountCommand::List(args)) => crate::commands::account_list(args).await,
        Command::Bench(cmd) => crate::bench::run(cmd).await,
    }
}

impl SandboxArgs {
    fn config(&self) -> anyhow::Result<SandboxConfig> {
        if self.tokens.iter().any(|t| t.trim().is_empty()) {
            anyhow::bail!("--token must not be empty");
        }
        if !(0.0..=600_000.0).contains(&self.traffic) {
            anyhow::bail!("--traffic must be between 0 and 600000 messages per minute");
        }
        Ok(SandboxConfig {
            tokens: self.tokens.clone(),
            chats: self.chats,
            followups_per_chat: usize::from(self.followups),
            seed: self.seed,
            page_size: usize::from(self.page_size),
            rate_limit: (!self.no_rate_limit).then_some(self.rate_limit),
            faults: self.faults.clone().unwrap_or_default(),
            traffic_per_min: self.traffic,
            timeout_hold: Duration::from_secs(self.timeout_hold),
        })
    }
}

async fn run_sandbox(args: SandboxArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let sandbox = Sandbox::new(config);
    println!("sandbox listening on http://{addr}");
    for (i, s) in sandbox.summaries().iter().enumerate() {
        println!(
            "seller {}: token {}…, {} chats, {} events",
            i + 1,
            s.token_hint,
            s.chats,
            s.events
        );
    }
    sandbox::serve(listener, sandbox, shutdown_signal()).await?;
    Ok(())
}

async fn run_demo(args: DemoArgs) -> anyhow::Result<()> {
    crate::commands::demo(args.listen, args.data).await
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
