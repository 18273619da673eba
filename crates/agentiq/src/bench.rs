//! `agentiq bench …`: the measurements behind BENCHMARKS.md (ingest throughput, buyer-message-
//! to-store latency, resident memory of `serve`). Timing goals live here, never in tests.
//!
//! Every benchmark runs against an in-process WB sandbox on loopback and a fresh store, so the
//! figures are repeatable on one machine. Goals are printed next to the figures; nothing here
//! asserts them.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Subcommand};
use domain::{ChatRowId, Sender, WorkspaceId};
use rand::Rng;
use sandbox::{RateLimit, Running, Sandbox, SandboxConfig};
use sqlx::Connection;
use store::{ChatFilter, PollTarget, Secret, SecretKey, Store};
use sync::{Engine, Progress, SyncConfig};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Events/s from a sandbox without rate limit into the store (one seller, full backfill).
    Ingest(IngestArgs),
    /// Time from a buyer message's `addTimestamp` to when it is visible in the store, with WB's
    /// rate limit and simulated buyers across many sellers.
    Latency(LatencyArgs),
    /// Resident memory of `agentiq serve` syncing many accounts, once settled.
    Memory(MemoryArgs),
    /// `GET /api/v1/chats` response times over a large inbox (SQLite, filled directly).
    Inbox(InboxArgs),
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Events to ingest (approximately: the sandbox seeds whole chats).
    #[arg(long, default_value_t = 100_000)]
    pub events: usize,
    /// Events per `/events` page (WB's is 50).
    #[arg(long, default_value_t = 50)]
    pub page_size: usize,
    /// A second run with this page size, to tell request-bound from store-bound; 0 for none.
    #[arg(long, default_value_t = 500)]
    pub large_page_size: usize,
    /// `postgres://…` to measure PostgreSQL (a fresh database is created and dropped);
    /// default: a temporary SQLite file.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Extra messages per seeded chat (seller answers and buyer follow-ups): 0 gives the
    /// chat-heavy shape of ~1.75 events per chat, 4 gives conversations of ~5.75.
    #[arg(long, default_value_t = 0)]
    pub followups: usize,
}

#[derive(Debug, Args)]
pub struct LatencyArgs {
    /// Seller accounts (one sandbox token each).
    #[arg(long, default_value_t = 200)]
    pub accounts: usize,
    /// Simulated buyer messages per minute across all sellers.
    #[arg(long, default_value_t = 600.0)]
    pub traffic: f64,
    /// Length of the measured window.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Seeded chats per seller.
    #[arg(long, default_value_t = 5)]
    pub chats: usize,
    /// `postgres://…` (a fresh database is created and dropped); default: temporary SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct MemoryArgs {
    /// Seller accounts (one sandbox token each).
    #[arg(long, default_value_t = 1000)]
    pub accounts: usize,
    /// How long `serve` runs before its memory is read.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Seeded chats per seller.
    #[arg(long, default_value_t = 3)]
    pub chats: usize,
    /// Simulated buyer messages per minute across all sellers while `serve` runs.
    #[arg(long, default_value_t = 0.0)]
    pub traffic: f64,
}

#[derive(Debug, Args)]
pub struct InboxArgs {
    /// Chats in the workspace (spread over `--accounts`).
    #[arg(long, default_value_t = 100_000)]
    pub chats: usize,
    /// Messages in all (about `messages / chats` per chat).
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    /// Seller accounts of the one workspace.
    #[arg(long, default_value_t = 4)]
    pub accounts: usize,
    /// Timed requests per variant (the slow full-text variant runs a tenth of them).
    #[arg(long, default_value_t = 500)]
    pub requests: usize,
    /// Every this many chats stays unread; the rest are marked read.
    #[arg(long, default_value_t = 10)]
    pub unread_every: usize,
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Ingest(args) => ingest(args).await,
        BenchCommand::Latency(args) => latency(args).await,
        BenchCommand::Memory(args) => memory(args).await,
        BenchCommand::Inbox(args) => inbox(args).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn tokens(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("bench-seller-token-{i:05}"))
        .collect()
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start_sandbox(config: SandboxConfig) -> anyhow::Result<Running> {
    sandbox::start(Sandbox::new(config), loopback())
        .await
        .context("cannot start the sandbox")
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// A fresh database for one run: a temporary SQLite file, or a new PostgreSQL database created
/// next to the one in the given URL and dropped by [`BenchDb::drop_now`].
struct BenchDb {
    url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl BenchDb {
    async fn create(base: Option<&str>) -> anyhow::Result<Self> {
        let Some(base) = base else {
            let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            return Ok(Self {
                url,
                _dir: Some(dir),
                postgres: None,
            });
        };
        anyhow::ensure!(
            base.starts_with("postgres://") || base.starts_with("postgresql://"),
            "--database-url must be a postgres:// URL (SQLite is the default)"
        );
        let name = format!("agentiq_bench_{}", random_hex(6));
        let mut conn = sqlx::PgConnection::connect(base)
            .await
            .with_context(|| format!("cannot connect to {}", crate::settings::redact_url(base)))?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .context("cannot create the benchmark database")?;
        conn.close().await.ok();
        let mut url = url::Url::parse(base).context("invalid --database-url")?;
        url.set_path(&format!("/{name}"));
        Ok(Self {
            url: url.to_string(),
            _dir: None,
            postgres: Some((base.to_owned(), name)),
        })
    }

    fn label(&self) -> &'static str {
        if self.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    async fn drop_now(self) -> anyhow::Result<()> {
        if let Some((base, name)) = &self.postgres {
            let mut conn = sqlx::PgConnection::connect(base).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await
            .with_context(|| format!("cannot drop the benchmark database {name}"))?;
            conn.close().await.ok();
        }
        Ok(())
    }
}

/// A store with one workspace and one account per token, all pointed at `api_base_url`.
async fn store_with_accounts(
    url: &str,
    key: SecretKey,
    tokens: &[String],
    api_base_url: &str,
) -> anyhow::Result<(Store, WorkspaceId)> {
    let store = Store::open(url, key)
        .await
        .with_context(|| format!("cannot open {}", crate::settings::redact_url(url)))?;
    let ws = store.create_workspace("Default").await?;
    for (i, token) in tokens.iter().enumerate() {
        store
            .create_account(
                ws,
                &format!("Seller {:04}", i + 1),
                &Secret::new(token.clone()),
                Some(api_base_url),
            )
            .await?;
    }
    Ok((store, ws))
}

/// Client-side quota that never waits: the ingest benchmark measures the pipeline, not WB's limit.
fn unlimited_quota() -> wb::Quota {
    let many = NonZeroU32::new(1_000_000).unwrap_or(NonZeroU32::MAX);
    wb::Quota::per_second(many).allow_burst(many)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!("{cores} cores available")
}

// ---------------------------------------------------------------------------------------------
// ingest

async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.events > 0, "--events must be positive");
    anyhow::ensure!(args.page_size > 0, "--page-size must be positive");
    // seed_seller writes ~1.75 events per chat (one question, half answered, a quarter followed
    // up); the actual count is read back from the sandbox.
    let chats = (args.events * 4).div_ceil(7 + 4 * args.followups).max(3);
    let mut sizes = vec![args.page_size];
    if args.large_page_size > 0 && args.large_page_size != args.page_size {
        sizes.push(args.large_page_size);
    }
    println!(
        "bench ingest: one seller, ~{} events in {chats} chats (~{:.2} events per chat), sandbox without rate limit, {}",
        args.events,
        1.75 + args.followups as f64,
        machine()
    );
    for page_size in sizes {
        let line = ingest_once(
            chats,
            args.followups,
            page_size,
            args.database_url.as_deref(),
        )
        .await?;
        println!("{line}");
    }
    println!("goal: >= 20000 events/s into SQLite");
    Ok(())
}

async fn ingest_once(
    chats: usize,
    followups: usize,
    page_size: usize,
    db: Option<&str>,
) -> anyhow::Result<String> {
    let seeded = Instant::now();
    let sandbox = start_sandbox(SandboxConfig {
        tokens: tokens(1),
        chats,
        followups_per_chat: followups,
        page_size,
        rate_limit: None,
        ..SandboxConfig::default()
    })
    .await?;
    let events: usize = sandbox.sandbox.summaries().iter().map(|s| s.events).sum();
    let seed_secs = seeded.elapsed().as_secs_f64();

    let db = BenchDb::create(db).await?;
    let (store, _) =
        store_with_accounts(&db.url, SecretKey::generate()?, &tokens(1), &sandbox.url()).await?;
    let engine = Engine::new(
        store.clone(),
        SyncConfig {
            quota: unlimited_quota(),
            max_pages_per_poll: u32::MAX,
            ..SyncConfig::default()
        },
    );
    let fetch_secs = fetch_only(&sandbox.url(), &tokens(1)[0]).await?;
    let mut pages = 0u64;
    let started = Instant::now();
    let mut last_page = started;
    let mut on_progress = |p: Progress| {
        if let Progress::Page { .. } = p {
            pages += 1;
            last_page = Instant::now();
        }
    };
    let results = engine.sync_once(None, &mut on_progress).await?;
    let secs = started.elapsed().as_secs_f64();
    let tail_secs = last_page.elapsed().as_secs_f64();
    let mut inserted = 0u64;
    for (account, result) in results {
        let report = result.with_context(|| format!("account {account} failed to sync"))?;
        inserted += report.inserted;
    }
    store.close().await;
    let label = db.label();
    db.drop_now().await?;
    anyhow::ensure!(
        inserted == events as u64,
        "stored {inserted} of the sandbox's {events} events"
    );
    let kind = if page_size == 50 {
        "WB's page size"
    } else {
        "larger page"
    };
    Ok(format!(
        "page size {page_size:>4} ({kind}): {inserted} events in {secs:.2} s = {:.0} events/s \
         into {label}\n    ({pages} pages, {:.1} ms/page; of which the final /chats merge \
         {tail_secs:.2} s; fetching the same pages without storing: {fetch_secs:.2} s = {:.0} \
         events/s; seeding {seed_secs:.1} s, not counted)",
        inserted as f64 / secs,
        secs * 1000.0 / pages.max(1) as f64,
        inserted as f64 / fetch_secs,
    ))
}

/// Pages through the whole `/events` feed with the WB client, storing nothing: the share of
/// the ingest time that HTTP, JSON and the sandbox take.
async fn fetch_only(base_url: &str, token: &str) -> anyhow::Result<f64> {
    let mut config = wb::ClientConfig::new(wb::ApiToken::new(token));
    config.base_url = base_url.to_owned();
    let client = wb::Client::new(config, wb::RateBudget::new(unlimited_quota(), 0))?;
    let started = Instant::now();
    let mut cursor = None;
    loop {
        let page = client.events(cursor).await?;
        if page.is_last() || page.events.is_empty() {
            break;
        }
        match page.next {
            Some(next) if cursor.is_none_or(|c| next > c) => cursor = Some(next),
            _ => break,
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// latency

/// What the observer knows of the store: every message id seen, and each chat's last activity.
#[derive(Default)]
struct Observer {
    seen: HashSet<(i64, String)>,
    chat_last: HashMap<ChatRowId, Option<i64>>,
}

impl Observer {
    /// Reads chats whose activity changed (newest first, down to `since_ms`, or all when
    /// `None`) and returns the buyer messages it had not seen, with their `addTimestamp`.
    async fn scan(
        &mut self,
        store: &Store,
        ws: WorkspaceId,
        since_ms: Option<i64>,
    ) -> anyhow::Result<Vec<i64>> {
        const PAGE: u32 = 500;
        let mut fresh = Vec::new();
        let mut offset = 0u32;
        loop {
            let chats = store
                .list_chats(
                    ws,
                    &ChatFilter {
                        limit: PAGE,
                        offset,
                        ..ChatFilter::default()
                    },
                )
                .await?;
            let n = chats.len();
            let mut reached_old = false;
            for chat in chats {
                if let Some(since) = since_ms
                    && chat.last_message_at_ms.is_none_or(|at| at < since)
                {
                    reached_old = true;
                    break;
                }
                if self.chat_last.get(&chat.id) == Some(&chat.last_message_at_ms) {
                    continue;
                }
                self.chat_last.insert(chat.id, chat.last_message_at_ms);
                for m in store.list_messages(ws, chat.id).await? {
                    let key = (m.account_id.get(), m.event_id.into_string());
                    if self.seen.insert(key) && m.sender == Sender::Client {
                        fresh.push(m.add_timestamp_ms);
                    }
                }
            }
            if reached_old || n < PAGE as usize {
                return Ok(fresh);
            }
            offset += PAGE;
        }
    }
}

async fn latency(args: LatencyArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.accounts > 0, "--accounts must be positive");
    anyhow::ensure!(args.traffic > 0.0, "--traffic must be positive");
    let toks = tokens(args.accounts);
    let sandbox = start_sandbox(SandboxConfig {
        tokens: toks.clone(),
        chats: args.chats,
        rate_limit: Some(RateLimit::WB),
        traffic_per_min: args.traffic,
        ..SandboxConfig::default()
    })
    .await?;
    let db = BenchDb::create(args.database_url.as_deref()).await?;
    let (store, ws) =
        store_with_accounts(&db.url, SecretKey::generate()?, &toks, &sandbox.url()).await?;
    println!(
        "bench latency: {} accounts, {} buyer messages/min, WB rate limit 10/10 s per token, \
         default SyncConfig, {}, {}",
        args.accounts,
        args.traffic,
        db.label(),
        machine()
    );

    let engine = Engine::new(store.clone(), SyncConfig::default());
    let mut notices = engine.subscribe();
    let stop = CancellationToken::new();
    let task = tokio::spawn(Arc::clone(&engine).run(stop.clone()));

    // Warm-up: every account has completed a poll (the initial backfill), then the observer
    // reads everything stored so far.
    let warm = Instant::now();
    loop {
        let targets: Vec<PollTarget> = store.accounts_to_poll().await?;
        let done = targets
            .iter()
            .filter(|t| t.sync.last_success_at_ms.is_some())
            .count();
        if done >= args.accounts {
            break;
        }
        anyhow::ensure!(
            warm.elapsed() < Duration::from_secs(300),
            "backfill not done after 300 s ({done}/{} accounts)",
            args.accounts
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut observer = Observer::default();
    observer.scan(&store, ws, None).await?;
    println!(
        "warm-up: initial backfill of {} accounts done in {:.1} s",
        args.accounts,
        warm.elapsed().as_secs_f64()
    );

    let generated_before: usize = sandbox.sandbox.summaries().iter().map(|s| s.events).sum();
    let t0 = now_ms();
    let window = i64::try_from(args.seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    let t_end = t0.saturating_add(window);
    let grace = 15_000;
    let mut generated_in_window = None;
    let mut latencies: Vec<f64> = Vec::new();
    let mut scans = 0u64;
    let mut scan_time = Duration::ZERO;
    loop {
        // Wake on the engine's "new messages" notice (sent after the commit) or every 100 ms.
        tokio::select! {
            r = notices.recv() => {
                if let Err(RecvError::Closed) = r {
                    anyhow::bail!("the engine stopped");
                }
            }
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let began = Instant::now();
        let fresh = observer.scan(&store, ws, Some(t0 - 1_000)).await?;
        let visible = now_ms();
        scans += 1;
        scan_time += began.elapsed();
        for add_ts in fresh {
            if (t0..t_end).contains(&add_ts) {
                latencies.push((visible - add_ts) as f64 / 1000.0);
            }
        }
        let now = now_ms();
        if now >= t_end && generated_in_window.is_none() {
            let after: usize = sandbox.sandbox.summaries().iter().map(|s| s.events).sum();
            generated_in_window = Some(after.saturating_sub(generated_before));
        }
        let complete = generated_in_window.is_some_and(|g| latencies.len() >= g);
        if now >= t_end + grace || (now >= t_end && complete) {
            break;
        }
    }
    stop.cancel();
    let _ = task.await;
    let stats = sandbox.sandbox.stats();
    store.close().await;
    db.drop_now().await?;

    latencies.sort_by(f64::total_cmp);
    let generated = generated_in_window.unwrap_or(0);
    println!(
        "window {} s: {} buyer messages written by the sandbox, {} seen in the store \
         (observer: {} scans, {:.1} ms each on average)",
        args.seconds,
        generated,
        latencies.len(),
        scans,
        scan_time.as_secs_f64() * 1000.0 / scans.max(1) as f64
    );
    println!(
        "latency addTimestamp -> visible in store: count {}  p50 {:.2} s  p90 {:.2} s  \
         p99 {:.2} s  max {:.2} s",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    let mut answered = Vec::new();
    for (route, outcomes) in &stats {
        let total: u64 = outcomes.values().sum();
        answered.push(format!("{route}: {total} {outcomes:?}"));
    }
    println!("sandbox requests: {}", answered.join("; "));
    println!("goal: p50 <= 2 s, p99 <= 5 s for active accounts");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// memory

/// Kills the child when dropped, so an error path leaves no `serve` behind.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VmRSS` and `VmHWM` of a process in kB, from `/proc/<pid>/status`.
fn proc_memory(pid: u32) -> anyhow::Result<(u64, u64)> {
    let path = PathBuf::from(format!("/proc/{pid}/status"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("no {name} in {}", path.display()))?;
        line.trim_start_matches(name)
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("unreadable {name} in {}", path.display()))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

async fn memory(args: MemoryArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.accounts > 0, "--accounts must be positive");
    let toks = tokens(args.accounts);
    let sandbox = start_sandbox(SandboxConfig {
        tokens: toks.clone(),
        chats: args.chats,
        rate_limit: Some(RateLimit::WB),
        traffic_per_min: args.traffic,
        ..SandboxConfig::default()
    })
    .await?;
    let events: usize = sandbox.sandbox.summaries().iter().map(|s| s.events).sum();
    let dir = tempfile::tempdir().context("cannot create a temporary data directory")?;
    let key_hex = random_hex(32);
    let url = format!("sqlite://{}", dir.path().join("agentiq.db").display());
    let (store, _) =
        store_with_accounts(&url, SecretKey::parse(&key_hex)?, &toks, &sandbox.url()).await?;
    println!(
        "bench memory: `agentiq serve` with {} accounts ({} chats, {} events in all at WB), \
         WB rate limit, SQLite in {}, {}",
        args.accounts,
        args.chats * args.accounts,
        events,
        dir.path().display(),
        machine()
    );

    let exe = std::env::current_exe().context("cannot find the agentiq binary")?;
    let log = dir.path().join("serve.log");
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let child = Command::new(&exe)
        .arg("serve")
        .env("AGENTIQ_DATA_DIR", dir.path())
        .env("AGENTIQ_SECRET_KEY", &key_hex)
        .env("AGENTIQ_LISTEN", "127.0.0.1:0")
        .env_remove("AGENTIQ_DATABASE_URL")
        .env_remove("AGENTIQ_SECRET_KEY_FILE")
        .env_remove("AGENTIQ_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("cannot start {} serve", exe.display()))?;
    let mut child = ChildGuard(child);
    let pid = child.0.id();
    let started = Instant::now();
    let mut backfilled_at: Option<f64> = None;
    let mut peak_sampled = 0u64;
    let mut next_report = Duration::from_secs(5);
    while started.elapsed() < Duration::from_secs(args.seconds) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(status) = child.0.try_wait()? {
            anyhow::bail!(
                "serve exited early with {status}; see its log at {}",
                log.display()
            );
        }
        let (rss, _) = proc_memory(pid)?;
        peak_sampled = peak_sampled.max(rss);
        if backfilled_at.is_none() || started.elapsed() >= next_report {
            let synced = store
                .accounts_to_poll()
                .await?
                .iter()
                .filter(|t| t.sync.last_success_at_ms.is_some())
                .count();
            if synced >= args.accounts && backfilled_at.is_none() {
                backfilled_at = Some(started.elapsed().as_secs_f64());
            }
            if started.elapsed() >= next_report {
                println!(
                    "  t={:>3.0} s  VmRSS {:6.1} MB  accounts synced {synced}/{}",
                    started.elapsed().as_secs_f64(),
                    mb(rss),
                    args.accounts
                );
                next_report += Duration::from_secs(5);
            }
        }
    }
    let (rss, hwm) = proc_memory(pid)?;
    drop(child);
    store.close().await;
    let stats = sandbox.sandbox.stats();
    let requests: u64 = stats.values().flat_map(|o| o.values()).sum();
    match backfilled_at {
        Some(t) => println!("initial backfill of all accounts done after {t:.1} s"),
        None => println!("initial backfill NOT done within {} s", args.seconds),
    }
    println!("sandbox answered {requests} requests");
    println!(
        "after {} s: VmRSS {:.1} MB, VmHWM (peak) {:.1} MB (largest sampled RSS {:.1} MB)",
        args.seconds,
        mb(rss),
        mb(hwm),
        mb(peak_sampled)
    );
    println!("goal: <= 150 MB");
    keep_log_hint(&log);
    Ok(())
}

fn keep_log_hint(log: &Path) {
    if let Ok(meta) = std::fs::metadata(log)
        && meta.len() > 0
    {
        let lines = std::fs::read_to_string(log)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        println!("serve logged {lines} line(s) to stderr (warnings and errors)");
    }
}

// ---------------------------------------------------------------------------------------------
// inbox

/// Buyer names and message texts of the generated inbox (Russian, as WB's buyers write).
const BUYERS: &[&str] = &[
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Иван",
    "Сергей",
    "Дмитрий",
    "Наталья",
    "Алексей",
    "Татьяна",
    "Юлия",
    "Павел",
];
const QUESTIONS: &[&str] = &[
    "Здравствуйте! Где мой заказ? Уже неделю жду",
    "Подскажите, какой размер взять при росте 170?",
    "Пришёл товар с браком, шов разошёлся",
    "Хочу оформить возврат, не подошёл размер",
    "Когда будет поступление в другом цвете?",
    "Спасибо, всё пришло, очень довольна",
];
const ANSWERS: &[&str] = &[
    "Здравствуйте! Заказ передан в доставку, статус обновится в течение дня.",
    "Рекомендуем размер M, таблица размеров есть в карточке товара.",
    "Приносим извинения! Оформите возврат в личном кабинете, мы вернём деньги.",
    "Поступление ожидается на следующей неделе.",
];

async fn inbox(args: InboxArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.chats > 0 && args.accounts > 0,
        "--chats and --accounts must be positive"
    );
    anyhow::ensure!(
        args.messages >= args.chats,
        "--messages must be at least --chats"
    );
    anyhow::ensure!(args.requests > 0, "--requests must be positive");
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    let store = Store::open(&url, SecretKey::from_bytes(rand::random()))
        .await
        .with_context(|| format!("cannot open {url}"))?;
    let (_, ws, key) = web::add_user(
        &store,
        "bench@agentiq.local",
        "bench-password",
        Some("Bench"),
        true,
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot add the bench operator: {e}"))?;
    let key = key.context("no API key")?;
    let mut accounts = Vec::new();
    for i in 0..args.accounts {
        accounts.push(
            store
                .create_account(
                    ws,
                    &format!("Seller {:02}", i + 1),
                    &Secret::new(format!("t{i}")),
                    None,
                )
                .await?,
        );
    }
    println!(
        "bench inbox: {} chats, {} messages, {} accounts of one workspace, SQLite, {}",
        args.chats,
        args.messages,
        args.accounts,
        machine()
    );

    // Fill: each chat gets its messages in one run (first a new-chat event with the buyer's
    // name and a reply sign), pages of ~500 events per account.
    let started = Instant::now();
    let per_chat = args.messages / args.chats;
    let extra = args.messages % args.chats;
    let now = now_ms();
    let mut rng = rand::rng();
    let mut pages = 0usize;
    let mut stored = 0u64;
    let mut buffers: Vec<Vec<store::NewMessage>> = vec![Vec::new(); accounts.len()];
    let mut cursors = vec![0i64; accounts.len()];
    for c in 0..args.chats {
        let a = c % accounts.len();
        let n = per_chat + usize::from(c < extra);
        let chat_id = domain::ChatId::parse(format!(
            "1:{:08x}-bench-{c}",
            c * 2_654_435_761 % 0xffff_ffff
        ))?;
        let buyer = format!("{} {}", BUYERS[c % BUYERS.len()], 10_000 + c);
        // Last activity spread over 90 days; messages a few minutes apart.
        let last = now - rng.random_range(0..90 * 86_400_000_i64);
        for i in 0..n {
            let at = last - (n - 1 - i) as i64 * 180_000;
            let buyer_turn = i % 2 == 0;
            let text = if buyer_turn {
                QUESTIONS[(c + i) % QUESTIONS.len()]
            } else {
                ANSWERS[(c + i) % ANSWERS.len()]
            };
            buffers[a].push(store::NewMessage {
                chat_id: chat_id.clone(),
                event_id: domain::EventId::parse(format!("bench-{c}-{i}"))?,
                sender: if buyer_turn {
                    Sender::Client
                } else {
                    Sender::Seller
                },
                source: if buyer_turn {
                    "android"
                } else {
                    "seller-portal"
                }
                .to_owned(),
                text: format!("{text} (заказ {})", 1_000_000 + c),
                add_timestamp_ms: at,
                is_new_chat: i == 0,
                reply_sign: (i == 0)
                    .then(|| {
                        domain::ReplySign::parse(format!(
                            "{}:{}",
                            chat_id.as_str(),
                            "ab".repeat(32)
                        ))
                    })
                    .transpose()?,
                client_name: buyer_turn.then(|| buyer.clone()),
                good_card: None,
                attachments: Vec::new(),
            });
        }
        if buffers[a].len() >= 500 || c + accounts.len() >= args.chats {
            let events = std::mem::take(&mut buffers[a]);
            if events.is_empty() {
                continue;
            }
            cursors[a] += 1;
            let outcome = store
                .ingest_page(
                    accounts[a],
                    &store::IngestPage {
                        events,
                        next_cursor: cursors[a],
                    },
                )
                .await?;
            stored += outcome.inserted;
            pages += 1;
            if pages.is_multiple_of(200) {
                println!(
                    "  filled {stored} messages in {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    for (a, events) in buffers.into_iter().enumerate() {
        if !events.is_empty() {
            cursors[a] += 1;
            stored += store
                .ingest_page(
                    accounts[a],
                    &store::IngestPage {
                        events,
                        next_cursor: cursors[a],
                    },
                )
                .await?
                .inserted;
        }
    }
    // Most chats were answered and read; every `unread_every`-th still waits.
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    let every = i64::try_from(args.unread_every.max(1))?;
    sqlx::query(
        "UPDATE chats SET unread_count = 0, last_read_at = last_message_at WHERE id % $1 != 0",
    )
    .bind(every)
    .execute(&mut conn)
    .await?;
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    let total_chats = store
        .list_chats(
            ws,
            &ChatFilter {
                limit: 1,
                ..ChatFilter::default()
            },
        )
        .await?
        .len();
    anyhow::ensure!(total_chats == 1, "no chats were stored");
    println!(
        "filled {stored} messages into {} chats in {:.1} s ({pages} pages)",
        args.chats,
        started.elapsed().as_secs_f64()
    );

    // Serve the real router on loopback and time requests over one keep-alive connection.
    let listener = tokio::net::TcpListener::bind(loopback()).await?;
    let addr = listener.local_addr()?;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let server = tokio::spawn(web::serve(
        listener,
        web::AppState::new(store.clone(), None),
        async move { stop.cancelled().await },
    ));
    let mut client = HttpClient::connect(addr, &key).await?;
    // One chat's buyer: a search that must look at every chat and message.
    let rare_chat = args.chats / 2 + 7;
    let rare = format!(
        "{} {}",
        BUYERS[rare_chat % BUYERS.len()].to_lowercase(),
        10_000 + rare_chat
    );
    let variants: Vec<(String, String, usize)> = vec![
        ("all".into(), "/api/v1/chats?limit=50".into(), args.requests),
        (
            "all, 2nd page".into(),
            "/api/v1/chats?limit=50&cursor=o50".into(),
            args.requests,
        ),
        (
            "unread".into(),
            "/api/v1/chats?limit=50&filter=unread".into(),
            args.requests,
        ),
        (
            "one account".into(),
            format!("/api/v1/chats?limit=50&accountId={}", accounts[0]),
            args.requests,
        ),
        (
            "q=common word".into(),
            format!("/api/v1/chats?limit=50&q={}", percent("возврат")),
            args.requests,
        ),
        (
            "q=buyer name, one chat".into(),
            format!("/api/v1/chats?limit=50&q={}", percent(&rare)),
            (args.requests / 10).max(5),
        ),
    ];
    println!(
        "{:<24} {:>6} {:>9} {:>9} {:>9}  chats",
        "variant", "n", "p50 ms", "p99 ms", "max ms"
    );
    let mut worst_p99 = 0.0f64;
    for (name, path, n) in &variants {
        // One warm-up request, then the timed ones.
        let (_, body) = client.get(path).await?;
        let shown = serde_count_chats(&body);
        let mut times = Vec::with_capacity(*n);
        for _ in 0..*n {
            let t = Instant::now();
            let (status, _) = client.get(path).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(status == 200, "{path} answered {status}");
        }
        times.sort_by(f64::total_cmp);
        let p99 = percentile(&times, 99.0);
        if !name.starts_with("q=") {
            worst_p99 = worst_p99.max(p99);
        }
        println!(
            "{:<24} {:>6} {:>9.2} {:>9.2} {:>9.2}  {shown}",
            name,
            n,
            percentile(&times, 50.0),
            p99,
            times.last().copied().unwrap_or(f64::NAN)
        );
    }
    println!(
        "goal: p99 <= 20 ms for the list (all, unread, one account): worst p99 {worst_p99:.2} ms"
    );

    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT id FROM chats WHERE workspace_id = $1 \
         AND ($2 IS NULL OR account_id = $2) AND (NOT $3 OR unread_count > 0) \
         ORDER BY queue_at IS NULL, queue_at ASC, \
         COALESCE(last_message_at, first_seen_at) DESC, id DESC LIMIT 51 OFFSET 0",
    )
    .bind(ws.get())
    .bind(None::<i64>)
    .bind(false)
    .fetch_all(&mut conn)
    .await?;
    println!(
        "query plan of the list: {}",
        plan.iter()
            .map(|p| p.3.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    );
    conn.close().await.ok();
    cancel.cancel();
    server.await??;
    Ok(())
}

/// `%XX` for everything but unreserved ASCII.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// How many chats a `/api/v1/chats` answer holds (counted by their `"chatId"` keys).
fn serde_count_chats(body: &[u8]) -> usize {
    String::from_utf8_lossy(body).matches("\"chatId\"").count()
}

/// A minimal HTTP/1.1 keep-alive client for GETs with a bearer key: enough to time the API
/// without a client library's overhead in the figures.
struct HttpClient {
    stream: tokio::io::BufReader<tokio::net::TcpStream>,
    auth: String,
}

impl HttpClient {
    async fn connect(addr: SocketAddr, key: &str) -> anyhow::Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: tokio::io::BufReader::new(stream),
            auth: format!("Bearer {key}"),
        })
    }

    async fn get(&mut self, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: {}\r\n\r\n",
            self.auth
        );
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok((status, body))
    }
}
