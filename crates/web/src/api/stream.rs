//! `GET /api/v1/stream`: server-sent events for live inbox updates.
//!
//! Forwards the sync engine's notices about the operator's own accounts (others are dropped):
//! `event: new_messages` with `{"accountId","count"}`, `event: account_state` with
//! `{"accountId","state"}` and `event: escalation` with `{"accountId","chatId","kind","title",
//! "clientName"}`. When this subscriber fell behind and notices were lost it sends
//! `event: resync` (`{}`): clients should re-fetch everything they show. A comment is sent every
//! [`KEEP_ALIVE`] so proxies keep the connection open. Without a sync engine in this process
//! the stream carries only keep-alives.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use domain::AccountId;
use futures_util::Stream;
use serde_json::json;
use sync::engine::Notice;
use tokio::sync::broadcast::error::RecvError;

use crate::error::WebError;
use crate::{AppState, Operator};

/// How often an idle stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/stream", get(stream))
}

struct Feed {
    state: AppState,
    op: Operator,
    rx: Option<tokio::sync::broadcast::Receiver<Notice>>,
    /// Whether an account is the operator's, as learned so far.
    mine: HashMap<AccountId, bool>,
}

impl Feed {
    async fn is_mine(&mut self, account: AccountId) -> bool {
        if let Some(&known) = self.mine.get(&account) {
            return known;
        }
        let mine = match self
            .state
            .store()
            .get_account(self.op.workspace_id, account)
            .await
        {
            Ok(_) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) => {
                tracing::warn!(error = %e, "stream: cannot look up an account");
                return false;
            }
        };
        self.mine.insert(account, mine);
        mine
    }

    /// The next event for this operator; `None` when the engine is gone (or absent).
    async fn next(&mut self) -> Option<Event> {
        loop {
            let notice = match self.rx.as_mut()?.recv().await {
                Ok(n) => n,
                Err(RecvError::Lagged(_)) => {
                    return Some(Event::default().event("resync").data("{}"));
                }
                Err(RecvError::Closed) => return None,
            };
            match notice {
                Notice::NewMessages { account, count } => {
                    if self.is_mine(account).await {
                        let data = json!({"accountId": account, "count": count});
                        return Some(
                            Event::default()
                                .event("new_messages")
                                .data(data.to_string()),
                        );
                    }
                }
                Notice::Escalation {
                    account,
                    chat,
                    kind,
                    client_name,
                } => {
                    if self.is_mine(account).await {
                        let data = json!({
                            "accountId": account,
                            "chatId": chat,
                            "kind": kind.as_str(),
                            "title": kind.title(),
                            "clientName": client_name,
                        });
                        return Some(Event::default().event("escalation").data(data.to_string()));
                    }
                }
                Notice::AccountState { account, state } => {
                    if self.is_mine(account).await {
                        let data = json!({"accountId": account, "state": state.as_str()});
                        return Some(
                            Event::default()
                                .event("account_state")
                                .data(data.to_string()),
                        );
                    }
                }
            }
        }
    }
}

/// `GET /api/v1/stream`.
#[utoipa::path(
    get,
    path = "/api/v1/stream",
    tag = "chats",
    responses(
        (status = 200, description = "Server-sent events for the operator's workspace: `ready`, then `new_messages` `{\"accountId\",\"count\"}`, `account_state` `{\"accountId\",\"state\"}` and `escalation` `{\"accountId\",\"chatId\",\"kind\",\"title\",\"clientName\"}`; `resync` when the client fell behind", content_type = "text/event-stream"),
        (status = 401, description = "No valid API key or session", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn stream(
    State(state): State<AppState>,
    op: Operator,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, WebError> {
    let rx = state.engine().map(|e| e.subscribe());
    let feed = Feed {
        state,
        op,
        rx,
        mine: HashMap::new(),
    };
    let hello = Event::default().event("ready").data("{}");
    let events =
        futures_util::stream::unfold((feed, Some(hello)), |(mut feed, first)| async move {
            if let Some(ev) = first {
                return Some((Ok(ev), (feed, None)));
            }
            match feed.next().await {
                Some(ev) => Some((Ok(ev), (feed, None))),
                // No engine: stay open (keep-alives only) rather than make clients reconnect.
                None => {
                    std::future::pending::<()>().await;
                    None
                }
            }
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
