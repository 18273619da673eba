//! Request extractors whose rejections speak our error format.
//!
//! axum's own `Json` and `Query` answer bad input with plain-text bodies; these wrappers turn
//! every such rejection into a [`WebError`] (400 for malformed syntax, 422 for well-formed JSON
//! with wrong fields, 415 without a JSON content type), so clients always get
//! `{"error", "message"}`.

use axum::extract::{FromRequest, FromRequestParts};

use crate::error::WebError;

/// `axum::Json` with our rejection.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(WebError))]
pub struct AppJson<T>(pub T);

/// `axum::extract::Query` with our rejection.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(WebError))]
pub struct AppQuery<T>(pub T);

/// `axum::extract::Path` with our rejection.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(WebError))]
pub struct AppPath<T>(pub T);
