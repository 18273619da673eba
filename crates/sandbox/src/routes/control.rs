//! Control routes under `/_sandbox/`: act as buyers and as WB, read the ground truth, change
//! faults, read statistics. Authenticated with a seller's token (it picks the seller) and served
//! only to loopback peers.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{SellerIdx, bad_request, base_url, gateway_error, token};
use crate::faults::FaultSpec;
use crate::model::{Moderation, NewFile, Sender, source};
use crate::seed;
use crate::server::ConnCtl;
use crate::state::{Sandbox, lock, now_ms};
use crate::wire::GoodCard;

pub(super) fn router(sandbox: Sandbox) -> Router<Sandbox> {
    Router::new()
        .route("/chats", post(create_chat).get(list_chats))
        .route("/chats/{chat_id}/buyer-messages", post(buyer_message))
        .route("/chats/{chat_id}/messages", get(ground_truth))
        .route("/reviews", post(review))
        .route("/faults", post(set_faults).get(get_faults))
        .route("/stats", get(stats))
        .route_layer(middleware::from_fn_with_state(sandbox, guard))
}

async fn guard(State(sb): State<Sandbox>, mut req: Request, next: Next) -> Response {
    let loopback = req
        .extensions()
        .get::<ConnCtl>()
        .is_some_and(|c| c.peer.ip().is_loopback());
    if !loopback {
        return gateway_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "control routes are served to loopback clients only",
        );
    }
    let Some(seller) = token(req.headers()).and_then(|t| sb.seller_of(t)) else {
        return gateway_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "control routes need a seller's token in Authorization",
        );
    };
    req.extensions_mut().insert(SellerIdx(seller));
    next.run(req).await
}

/// JSON input that answers malformed bodies with a WB-shaped 400 saying what was wrong.
struct Body<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(json_rejection(&e)),
        }
    }
}

fn json_rejection(e: &JsonRejection) -> Response {
    bad_request(StatusCode::BAD_REQUEST, "Bad Request", &e.body_text())
}

fn seller_of(req_ext: &axum::http::Extensions) -> usize {
    req_ext.get::<SellerIdx>().map_or(0, |s| s.0)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewChat {
    #[serde(rename = "clientName")]
    client_name: String,
    #[serde(rename = "goodCard")]
    good_card: Option<NewGoodCard>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGoodCard {
    #[serde(rename = "nmID")]
    nm_id: i64,
    #[serde(default)]
    price: i64,
    #[serde(rename = "priceCurrency", default = "rub")]
    price_currency: String,
    #[serde(default)]
    rid: String,
    #[serde(default)]
    size: String,
}

fn rub() -> String {
    "RUB".into()
}

async fn create_chat(
    State(sb): State<Sandbox>,
    axum::Extension(SellerIdx(seller)): axum::Extension<SellerIdx>,
    Body(body): Body<NewChat>,
) -> Response {
    if body.client_name.trim().is_empty() {
        return bad_request(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "clientName is empty",
        );
    }
    let mut world = lock(&sb.inner.world);
    let s = &mut world.sellers[seller];
    let card = body.good_card.map(|g| GoodCard {
        nm_id: g.nm_id,
        price: g.price,
        price_currency: g.price_currency,
        rid: g.rid,
        size: g.size,
    });
    let idx = s.create_chat(&body.client_name, card);
    let chat = &s.chats[idx];
    Json(json!({"chatID": chat.chat_id, "replySign": chat.reply_sign})).into_response()
}

async fn list_chats(
    State(sb): State<Sandbox>,
    axum::Extension(SellerIdx(seller)): axum::Extension<SellerIdx>,
) -> Response {
    let world = lock(&sb.inner.world);
    let chats: Vec<_> = world.sellers[seller]
        .chats
        .iter()
        .map(|c| {
            json!({
                "chatID": c.chat_id,
                "replySign": c.reply_sign,
                "clientName": c.client_name,
                "goodCard": c.good_card,
                "started": c.first_event.is_some(),
            })
        })
        .collect();
    Json(json!({ "chats": chats })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuyerMessage {
    text: String,
    #[serde(default)]
    attachments: Vec<NewAttachment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAttachment {
    kind: AttachmentKind,
    name: Option<String>,
    #[serde(default)]
    moderation: ModerationInput,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum AttachmentKind {
    Image,
    File,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ModerationInput {
    #[default]
    Ok,
    Pending,
    Blocked,
}

async fn buyer_message(
    State(sb): State<Sandbox>,
    req_headers: HeaderMap,
    Path(chat_id): Path<String>,
    req: Request,
) -> Response {
    let seller = seller_of(req.extensions());
    let body: BuyerMessage = match Body::from_request(req, &()).await {
        Ok(Body(b)) => b,
        Err(r) => return r,
    };
    let files: Vec<NewFile> = body
        .attachments
        .into_iter()
        .map(|a| {
            let moderation = match a.moderation {
                ModerationInput::Ok => Moderation::Approved,
                ModerationInput::Pending => Moderation::Pending { polls_left: 1 },
                ModerationInput::Blocked => Moderation::Blocked,
            };
            let mut file = match a.kind {
                AttachmentKind::Image => seed::photo(moderation),
                AttachmentKind::File => seed::receipt("документ.pdf", moderation),
            };
            if let Some(name) = a.name {
                file.name = name;
            }
            file
        })
        .collect();
    if body.text.trim().is_empty() && files.is_empty() {
        return bad_request(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "text is empty and there are no attachments",
        );
    }
    let mut world = lock(&sb.inner.world);
    let s = &mut world.sellers[seller];
    let Some(chat) = s.chat_index(&chat_id) else {
        return bad_request(
            StatusCode::NOT_FOUND,
            "Not Found",
            "no such chat for this seller",
        );
    };
    let src = seed::buyer_source(s.rng());
    let idx = s.append(chat, Sender::Client, src, &body.text, files, now_ms());
    let event = s.event_wire(&s.events[idx], &base_url(&req_headers));
    Json(event).into_response()
}

async fn ground_truth(
    State(sb): State<Sandbox>,
    axum::Extension(SellerIdx(seller)): axum::Extension<SellerIdx>,
    Path(chat_id): Path<String>,
) -> Response {
    let world = lock(&sb.inner.world);
    let s = &world.sellers[seller];
    let Some(chat) = s.chat_index(&chat_id) else {
        return bad_request(
            StatusCode::NOT_FOUND,
            "Not Found",
            "no such chat for this seller",
        );
    };
    let messages: Vec<_> = s
        .events
        .iter()
        .filter(|e| e.chat == chat)
        .map(|e| {
            let blobs: Vec<_> = e
                .attachments
                .iter()
                .filter_map(|id| s.blob(id).map(|b| (id, b)))
                .collect();
            json!({
                "eventID": e.event_id,
                "sender": e.sender.as_str(),
                "source": e.source,
                "text": e.text,
                "addTimestamp": e.ts,
                "files": blobs.iter().filter(|(_, b)| !b.kind.is_image()).map(|(id, b)| json!({
                    "downloadID": id, "name": b.name, "contentType": b.kind.content_type(), "size": b.bytes.len()
                })).collect::<Vec<_>>(),
                "images": blobs.iter().filter(|(_, b)| b.kind.is_image()).map(|(id, _)| json!({
                    "downloadID": id
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({"chatID": chat_id, "messages": messages})).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewReview {
    #[serde(rename = "clientName")]
    client_name: String,
    rating: u8,
    text: String,
    #[serde(rename = "nmID")]
    nm_id: Option<i64>,
}

async fn review(
    State(sb): State<Sandbox>,
    axum::Extension(SellerIdx(seller)): axum::Extension<SellerIdx>,
    Body(body): Body<NewReview>,
) -> Response {
    if !(1..=5).contains(&body.rating) {
        return bad_request(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "rating must be an integer from 1 to 5",
        );
    }
    if body.rating >= 4 {
        return Json(json!({"chatID": null})).into_response();
    }
    let mut world = lock(&sb.inner.world);
    let s = &mut world.sellers[seller];
    let mut card = seed::good_card(s.rng());
    if let Some(nm) = body.nm_id {
        card.nm_id = nm;
    }
    let nm_id = card.nm_id;
    let idx = s.create_chat(&body.client_name, Some(card));
    let text = seed::negative_review_template(body.rating, nm_id, &body.text);
    s.append(idx, Sender::Wb, source::RUSITE, &text, vec![], now_ms());
    let chat = &s.chats[idx];
    Json(json!({"chatID": chat.chat_id, "replySign": chat.reply_sign})).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsBody {
    spec: String,
}

async fn set_faults(State(sb): State<Sandbox>, Body(body): Body<FaultsBody>) -> Response {
    match body.spec.parse::<FaultSpec>() {
        Ok(spec) => {
            let normalised = spec.to_string();
            sb.set_faults(spec);
            Json(json!({ "spec": normalised })).into_response()
        }
        Err(e) => bad_request(StatusCode::BAD_REQUEST, "Bad Request", &e.to_string()),
    }
}

async fn get_faults(State(sb): State<Sandbox>) -> Response {
    Json(json!({ "spec": sb.faults().to_string() })).into_response()
}

async fn stats(State(sb): State<Sandbox>) -> Response {
    let by_route = sb.stats();
    let total: u64 = by_route.values().flat_map(|m| m.values()).sum();
    Json(json!({"total": total, "byRoute": by_route})).into_response()
}
