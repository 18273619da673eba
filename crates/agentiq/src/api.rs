//! Wiring of the HTTP API (the `web` crate) into the binary's commands.

use std::future::Future;
use std::sync::Arc;

use store::Store;
use sync::Engine;
use tokio::net::TcpListener;

pub use web::add_user;

/// Serves the API with the running sync engine until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    store: Store,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    web::serve(listener, web::AppState::new(store, Some(engine)), shutdown).await?;
    Ok(())
}
