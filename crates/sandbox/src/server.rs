//! The accept loop: serves the router over HTTP/1.1 and can reset a connection on purpose.
//!
//! `axum::serve` cannot drop one connection from inside a handler, and WB's nastiest failure
//! — the request was carried out but the answer never came — needs exactly that. So every
//! connection gets a [`ConnCtl`] in its requests' extensions; `reset()` makes the connection's
//! task close the socket with `SO_LINGER = 0`, which the client sees as a connection reset.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::routes;
use crate::state::Sandbox;
use crate::traffic;

/// Per-connection control handed to handlers.
#[derive(Debug, Clone)]
pub struct ConnCtl {
    pub peer: SocketAddr,
    kill: CancellationToken,
}

impl ConnCtl {
    /// Resets the connection this request came on, without an answer.
    pub fn reset(&self) {
        self.kill.cancel();
    }
}

/// Serves a sandbox on an already-bound listener until `shutdown` completes. Starts the buyer
/// simulator when the config asks for traffic.
pub async fn serve(
    listener: TcpListener,
    sandbox: Sandbox,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let stop = CancellationToken::new();
    if sandbox.config().traffic_per_min > 0.0 {
        tokio::spawn(traffic::run(sandbox.clone(), stop.clone()));
    }
    let app = routes::router(sandbox);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, peer, app, stop).await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    stop.cancel();
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: axum::Router,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    // A second handle on the socket, to set SO_LINGER = 0 at the moment of a reset.
    let std_stream = stream.into_std()?;
    let handle = std_stream.try_clone()?;
    let stream = TcpStream::from_std(std_stream)?;
    let ctl = ConnCtl {
        peer,
        kill: CancellationToken::new(),
    };
    let kill = ctl.kill.clone();
    let service = app.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ctl.clone());
        req.map(axum::body::Body::new)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::select! {
        result = conn => result.map_err(std::io::Error::other),
        () = kill.cancelled() => {
            socket2::SockRef::from(&handle).set_linger(Some(Duration::ZERO))?;
            Ok(())
        }
        () = stop.cancelled() => Ok(()),
    }
}

/// A sandbox served in the background of this process, stopped when dropped. Tests, the demo
/// and benchmarks use it instead of a child process.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub sandbox: Sandbox,
    stop: CancellationToken,
}

impl Running {
    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Binds `listen` (use port 0 for a free one) and serves the sandbox in a background task.
pub async fn start(sandbox: Sandbox, listen: SocketAddr) -> std::io::Result<Running> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let until = stop.clone();
    let served = sandbox.clone();
    tokio::spawn(async move {
        if let Err(e) = serve(listener, served, async move { until.cancelled().await }).await {
            tracing::error!(error = %e, "sandbox stopped");
        }
    });
    Ok(Running {
        addr,
        sandbox,
        stop,
    })
}
