//! The one error type of the web layer, and how it becomes an HTTP answer.
//!
//! Every handler returns `Result<_, WebError>`; [`WebError`] is this crate's `AppError`. Its
//! JSON is always `{"error": "<stable code>", "message": "<Russian text for the operator>"}`,
//! plus `"detail"` where a parser has something precise to add (which field, which position).
//! 4xx variants carry text meant for the user; 5xx variants never show their cause: the
//! response says "something went wrong", and the cause rides in the response's extensions to
//! [`log_errors`], which logs it inside the request. Converting stays free of side effects.

use std::sync::Arc;

use axum::Json;
use axum::extract::Request;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use store::StoreError;
use wb::WbError;

/// What went wrong while serving a request (or adding a user from the CLI).
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// 401: no credentials at all.
    #[error("no credentials")]
    MissingCredentials,
    /// 401: credentials that do not match any key.
    #[error("invalid API key")]
    InvalidApiKey,
    /// 401: login with an unknown e-mail or a wrong password (indistinguishable).
    #[error("wrong e-mail or password")]
    WrongPassword,
    /// 401: a session cookie that is unknown, expired or logged out.
    #[error("invalid or expired session")]
    InvalidSession,
    /// 403: authenticated, but the request may not be made (a missing or wrong CSRF token).
    #[error("forbidden ({code}): {message}")]
    Forbidden { code: &'static str, message: String },
    /// 429: too many attempts (login throttling); retry after that many seconds.
    #[error("too many requests, retry after {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// 400: the request itself is malformed (syntax, query string, path).
    #[error("bad request ({code}): {message}")]
    BadRequest {
        code: &'static str,
        message: String,
        detail: Option<String>,
    },
    /// 422: well-formed, but the values are not acceptable.
    #[error("invalid input ({code}): {message}")]
    Invalid {
        code: &'static str,
        message: String,
        detail: Option<String>,
    },
    /// 415: the body is not declared as JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 404: the row does not exist or belongs to another workspace (indistinguishable).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// 409: a uniqueness rule, with the store's explanation.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 422: WB refused the token of a new account (401, 402 or 403).
    #[error("WB refused the token: {0}")]
    TokenRejected(#[source] WbError),
    /// 502: WB could not be asked (network, timeout, 5xx, rate limit, an unreadable answer).
    #[error("WB could not check the token: {0}")]
    WbUnavailable(#[source] WbError),
    /// 503: the database does not answer (health check).
    #[error("store unavailable: {0}")]
    Unavailable(#[source] StoreError),
    /// 500: the store failed.
    #[error("store: {0}")]
    Store(#[source] StoreError),
    /// 500: anything else that is our fault (a password could not be hashed, a task died).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what } => WebError::NotFound { what },
            StoreError::Conflict(message) => WebError::Conflict(message),
            other => WebError::Store(other),
        }
    }
}

impl From<JsonRejection> for WebError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonSyntaxError(e) => WebError::BadRequest {
                code: "invalid_json",
                message: "Тело запроса — не корректный JSON. Проверьте кавычки, запятые и скобки."
                    .to_owned(),
                detail: Some(e.body_text()),
            },
            JsonRejection::JsonDataError(e) => WebError::Invalid {
                code: "invalid_body",
                message: "В JSON не хватает полей или у поля неверный тип.".to_owned(),
                detail: Some(e.body_text()),
            },
            JsonRejection::MissingJsonContentType(_) => WebError::UnsupportedMediaType,
            other => WebError::BadRequest {
                code: "invalid_body",
                message: "Не удалось прочитать тело запроса.".to_owned(),
                detail: Some(other.body_text()),
            },
        }
    }
}

impl From<QueryRejection> for WebError {
    fn from(r: QueryRejection) -> Self {
        WebError::BadRequest {
            code: "invalid_query",
            message: "Неверные параметры запроса в адресе.".to_owned(),
            detail: Some(r.body_text()),
        }
    }
}

impl From<PathRejection> for WebError {
    fn from(r: PathRejection) -> Self {
        WebError::BadRequest {
            code: "invalid_path",
            message: "Неверный адрес запроса.".to_owned(),
            detail: Some(r.body_text()),
        }
    }
}

impl WebError {
    /// A 400 with a code and a Russian message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        WebError::BadRequest {
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// A 400 with a code, a Russian message and the parser's own words.
    pub fn bad_request_detail(
        code: &'static str,
        message: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        WebError::BadRequest {
            code,
            message: message.into(),
            detail: Some(detail.into()),
        }
    }

    /// A 422 with a code and a Russian message.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        WebError::Invalid {
            code,
            message: message.into(),
            detail: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            WebError::MissingCredentials
            | WebError::InvalidApiKey
            | WebError::InvalidSession
            | WebError::WrongPassword => StatusCode::UNAUTHORIZED,
            WebError::Forbidden { .. } => StatusCode::FORBIDDEN,
            WebError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            WebError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            WebError::Invalid { .. } | WebError::TokenRejected(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            WebError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebError::NotFound { .. } => StatusCode::NOT_FOUND,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::WbUnavailable(_) => StatusCode::BAD_GATEWAY,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Store(_) | WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code of the answer.
    pub fn code(&self) -> &'static str {
        match self {
            WebError::MissingCredentials => "unauthorized",
            WebError::InvalidApiKey => "invalid_api_key",
            WebError::InvalidSession => "invalid_session",
            WebError::WrongPassword => "invalid_credentials",
            WebError::Forbidden { code, .. } => code,
            WebError::TooManyRequests { .. } => "too_many_requests",
            WebError::BadRequest { code, .. } | WebError::Invalid { code, .. } => code,
            WebError::UnsupportedMediaType => "unsupported_media_type",
            WebError::NotFound { .. } => "not_found",
            WebError::Conflict(_) => "conflict",
            WebError::TokenRejected(_) => "token_rejected",
            WebError::WbUnavailable(_) => "wb_unavailable",
            WebError::Unavailable(_) => "unavailable",
            WebError::Store(_) | WebError::Internal(_) => "internal",
        }
    }

    /// What the operator reads, in Russian.
    pub fn message(&self) -> String {
        match self {
            WebError::MissingCredentials => "Нужна авторизация: войдите в систему или передайте \
                 заголовок «Authorization: Bearer <API-ключ>» (ключ выдаёт \
                 «agentiq user add … --api-key»)."
                .to_owned(),
            WebError::InvalidApiKey => "API-ключ не подходит: он неверен или отозван. \
                 Проверьте ключ или создайте новый."
                .to_owned(),
            WebError::InvalidSession => {
                "Сессия истекла или вы вышли из системы. Войдите снова.".to_owned()
            }
            WebError::WrongPassword => "Неверный e-mail или пароль.".to_owned(),
            WebError::Forbidden { message, .. } => message.clone(),
            WebError::TooManyRequests { retry_after_secs } => format!(
                "Слишком много неудачных попыток входа. Подождите {} мин и попробуйте снова.",
                retry_after_secs.div_ceil(60).max(1)
            ),
            WebError::BadRequest { message, .. } | WebError::Invalid { message, .. } => {
                message.clone()
            }
            WebError::UnsupportedMediaType => {
                "Тело запроса должно быть JSON с заголовком «Content-Type: application/json»."
                    .to_owned()
            }
            WebError::NotFound { what } => format!("Не найдено: {}.", what_ru(what)),
            WebError::Conflict(_) => "Такая запись уже существует.".to_owned(),
            WebError::TokenRejected(_) => "Токен не принят WB: он неверен, истёк или в нём нет \
                 категории «Чат с покупателями». Создайте токен в личном кабинете WB \
                 (Профиль → Интеграции по API) и попробуйте снова."
                .to_owned(),
            WebError::WbUnavailable(e) => match e {
                WbError::RateLimited { retry_after } => format!(
                    "WB временно ограничил запросы с этим токеном. Повторите через {} с.",
                    retry_after.as_secs().max(1)
                ),
                WbError::InvalidInput(_) => {
                    "Токен или адрес API записаны неверно (лишние символы?). Проверьте и \
                     попробуйте снова."
                        .to_owned()
                }
                _ => "Не удалось связаться с WB, чтобы проверить токен. Аккаунт не добавлен; \
                      повторите попытку через минуту."
                    .to_owned(),
            },
            WebError::Unavailable(_) => "База данных не отвечает.".to_owned(),
            WebError::Store(_) | WebError::Internal(_) => {
                "Внутренняя ошибка сервера. Попробуйте ещё раз; если не поможет — сообщите \
                 администратору."
                    .to_owned()
            }
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            WebError::BadRequest { detail, .. } | WebError::Invalid { detail, .. } => {
                detail.as_deref()
            }
            _ => None,
        }
    }
}

fn what_ru(what: &str) -> &str {
    match what {
        "chat" => "чат",
        "account" => "аккаунт",
        "workspace" => "рабочее пространство",
        "user" => "пользователь",
        "message" => "сообщение",
        "attachment" => "вложение",
        "attachment file" => "файл вложения (WB не дал ссылку для скачивания)",
        "route" => "такой адрес API",
        other => other,
    }
}

/// The JSON body of every error answer.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: self.code(),
            message: self.message(),
            detail: self.detail(),
        };
        let mut response = (status, Json(body)).into_response();
        if let WebError::TooManyRequests { retry_after_secs } = &self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // No logging here: the middleware below logs it inside the request's span.
        response.extensions_mut().insert(Arc::new(self));
        response
    }
}

/// Logs the errors handlers returned: server-side ones as errors (with their cause, which the
/// client never sees), client-side ones at debug level.
pub async fn log_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let response = next.run(request).await;
    if let Some(err) = response.extensions().get::<Arc<WebError>>() {
        let route = path.as_deref().unwrap_or("?");
        if err.status().is_server_error() {
            tracing::error!(%method, route, status = err.status().as_u16(), error = %err, "request failed");
        } else {
            tracing::debug!(%method, route, status = err.status().as_u16(), error = %err, "request rejected");
        }
    }
    response
}
