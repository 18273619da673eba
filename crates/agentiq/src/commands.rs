//! The commands that run the product: `serve`, `migrate`, `sync --once`, `user add`,
//! `account add|list`. Each loads settings, opens the store and calls into a library crate.

use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use domain::WorkspaceId;
use indicatif::{ProgressBar, ProgressStyle};
use store::{Secret, Store};
use sync::{Engine, Progress};
use tokio_util::sync::CancellationToken;

use crate::cli::{AccountAddArgs, ConfigArg, SyncArgs, UserAddArgs, shutdown_signal};
use crate::settings::Settings;

async fn open(config: &ConfigArg) -> anyhow::Result<(Settings, Store)> {
    let settings = Settings::load(config.config.as_deref())?;
    let store = settings.open_store().await?;
    Ok((settings, store))
}

pub async fn migrate(args: ConfigArg) -> anyhow::Result<()> {
    let (settings, _store) = open(&args).await?;
    println!(
        "migrations applied to {}",
        crate::settings::redact_url(&settings.database_url())
    );
    Ok(())
}

pub async fn serve(args: ConfigArg) -> anyhow::Result<()> {
    let (settings, store) = open(&args).await?;
    let engine = Engine::new(store.clone(), settings.sync_config());
    let stop = CancellationToken::new();
    let sync_task = tokio::spawn(Arc::clone(&engine).run(stop.clone()));
    let outbox_task = tokio::spawn(Arc::clone(&engine).run_outbox(stop.clone()));
    let webhook_task = spawn_webhooks(&store, &stop)?;
    let escalation_task = tokio::spawn(sync::escalation::run_escalations(
        store.clone(),
        store::Clock::System,
        sync::escalation::DEFAULT_INTERVAL,
        Some(engine.notices()),
        stop.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    println!("agentiq serving on http://{addr}");
    crate::api::serve(listener, store, engine, shutdown_signal()).await?;
    stop.cancel();
    let _ = sync_task.await;
    let _ = outbox_task.await;
    let _ = webhook_task.await;
    let _ = escalation_task.await;
    Ok(())
}

/// Starts posting escalations to the workspaces' webhooks until `stop`.
fn spawn_webhooks(
    store: &Store,
    stop: &CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let http = sync::webhook::http_client()?;
    Ok(tokio::spawn(sync::webhook::run_webhooks(
        store.clone(),
        http,
        sync::webhook::wall_clock_ms,
        sync::webhook::DEFAULT_INTERVAL,
        sync::webhook::DeliveryPolicy::default(),
        stop.clone(),
    )))
}

fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} from standard input"))?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(
        !line.trim().is_empty(),
        "the {what} on standard input is empty"
    );
    Ok(line)
}

/// The workspace called `name` (default "Default"), created when missing.
pub async fn workspace(store: &Store, name: Option<&str>) -> anyhow::Result<WorkspaceId> {
    let name = name.unwrap_or("Default").trim();
    anyhow::ensure!(!name.is_empty(), "the workspace name is empty");
    if let Some(ws) = store
        .list_workspaces()
        .await?
        .into_iter()
        .find(|w| w.name == name)
    {
        return Ok(ws.id);
    }
    Ok(store.create_workspace(name).await?)
}

pub async fn user_add(args: UserAddArgs) -> anyhow::Result<()> {
    let password = read_stdin_line("password")?;
    let (_, store) = open(&args.config).await?;
    let (user, ws, key) = crate::api::add_user(
        &store,
        &args.email,
        &password,
        args.workspace.as_deref(),
        args.api_key,
    )
    .await?;
    println!("user {user} added to workspace {ws}");
    if let Some(key) = key {
        println!("API key (shown once): {key}");
    }
    Ok(())
}

pub async fn account_add(args: AccountAddArgs) -> anyhow::Result<()> {
    let token = read_stdin_line("WB token")?;
    let (_, store) = open(&args.config).await?;
    let ws = workspace(&store, args.workspace.as_deref()).await?;
    let id = store
        .create_account(
            ws,
            args.name.trim(),
            &Secret::new(token),
            args.api_base_url.as_deref(),
        )
        .await?;
    println!("account {id} added to workspace {ws}");
    Ok(())
}

pub async fn account_list(args: ConfigArg) -> anyhow::Result<()> {
    let (_, store) = open(&args).await?;
    for ws in store.list_workspaces().await? {
        for a in store.list_accounts(ws.id).await? {
            println!(
                "{}\t{}\t{}\t{}\t{}",
                a.id,
                ws.name,
                a.name,
                a.state,
                a.last_error.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}

pub async fn sync_once(args: SyncArgs) -> anyhow::Result<()> {
    let (settings, store) = open(&args.config).await?;
    let engine = Engine::new(store, settings.sync_config());
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut pages = 0u64;
    let mut events = 0u64;
    let mut inserted = 0u64;
    let mut waits = (0u64, Duration::ZERO);
    let mut on_progress = |p: Progress| {
        match p {
            Progress::Page { report, .. } => {
                pages += 1;
                events = events.max(report.events);
                inserted = inserted.max(report.inserted);
            }
            Progress::Waiting {
                waits: n, waited, ..
            } => waits = (n, waited),
        }
        bar.set_message(format!(
            "страниц: {pages}, событий: {events}, новых: {inserted}, ожиданий лимита: {} ({:.1} с)",
            waits.0,
            waits.1.as_secs_f64()
        ));
    };
    let results = engine.sync_once(args.account, &mut on_progress).await?;
    bar.finish_and_clear();
    anyhow::ensure!(
        !results.is_empty(),
        "no account to sync (add one with `agentiq account add`, or its token is invalid)"
    );
    let mut failed = 0;
    for (account, result) in results {
        match result {
            Ok(r) => println!(
                "account {account}: {} pages, {} events, {} new, {} duplicates, {} new chats",
                r.pages, r.events, r.inserted, r.duplicates, r.chats_created
            ),
            Err(e) => {
                failed += 1;
                println!("account {account}: failed: {e}");
            }
        }
    }
    anyhow::ensure!(failed == 0, "{failed} account(s) failed to sync");
    Ok(())
}

const DEMO_EMAIL: &str = "demo@agentiq.local";
const DEMO_PASSWORD: &str = "demo-password";
const DEMO_SELLERS: [(&str, &str); 2] = [
    ("Магазин «Уютный дом»", "demo-token-home"),
    ("Магазин «Спорт и отдых»", "demo-token-sport"),
];

/// `agentiq demo`: an in-process WB sandbox with simulated buyers, a SQLite store, the sync
/// engine and the API, all on loopback; prints where to look and how to log in.
pub async fn demo(
    listen: std::net::SocketAddr,
    data: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let temp;
    let data_dir = match data {
        Some(d) => {
            anyhow::ensure!(
                !d.join("agentiq.db").exists(),
                "{} already holds a database: the demo starts from a fresh data directory",
                d.display()
            );
            d
        }
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary data directory")?;
            temp.path().to_path_buf()
        }
    };
    let sandbox = sandbox::start(
        sandbox::Sandbox::new(sandbox::SandboxConfig {
            tokens: DEMO_SELLERS.iter().map(|(_, t)| (*t).to_owned()).collect(),
            chats: 8,
            traffic_per_min: 6.0,
            ..sandbox::SandboxConfig::default()
        }),
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .context("cannot start the WB sandbox")?;
    let settings = Settings {
        listen,
        database_url: None,
        data_dir: data_dir.clone(),
        secret_key: None,
        secret_key_file: None,
        wb_timeout_ms: None,
        outbox_resend_after_ms: None,
    };
    let store = settings.open_store().await?;
    let (_, ws, api_key) =
        crate::api::add_user(&store, DEMO_EMAIL, DEMO_PASSWORD, Some("Демо"), true).await?;
    for (name, token) in DEMO_SELLERS {
        store
            .create_account(ws, name, &Secret::new(token), Some(&sandbox.url()))
            .await?;
    }
    let engine = Engine::new(store.clone(), settings.sync_config());
    let stop = CancellationToken::new();
    let sync_task = tokio::spawn(Arc::clone(&engine).run(stop.clone()));
    let outbox_task = tokio::spawn(Arc::clone(&engine).run_outbox(stop.clone()));
    let webhook_task = spawn_webhooks(&store, &stop)?;
    let escalation_task = tokio::spawn(sync::escalation::run_escalations(
        store.clone(),
        store::Clock::System,
        sync::escalation::DEFAULT_INTERVAL,
        Some(engine.notices()),
        stop.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let key = api_key.unwrap_or_default();
    println!("AgentIQ Chat Center — демо");
    println!("  интерфейс:  http://{addr}/inbox");
    println!("  вход:       {DEMO_EMAIL} / {DEMO_PASSWORD}");
    println!("  API:        http://{addr}/api/v1/chats");
    println!("  API-ключ:   {key}");
    println!(
        "  WB sandbox: {} (2 продавца, покупатели пишут ~6 сообщений в минуту)",
        sandbox.url()
    );
    println!("  данные:     {}", data_dir.display());
    println!("Try: curl -H 'Authorization: Bearer {key}' http://{addr}/api/v1/chats");
    println!("Press Ctrl+C to stop.");
    crate::api::serve(listener, store, engine, shutdown_signal()).await?;
    stop.cancel();
    let _ = sync_task.await;
    let _ = outbox_task.await;
    let _ = webhook_task.await;
    let _ = escalation_task.await;
    drop(sandbox);
    Ok(())
}
