//! `GET /api/openapi.json`: the OpenAPI document generated from the handlers, and `q` search
//! on the chat list.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{MustSome, TOKEN_A, spawn_app};

/// Every route the router serves (besides the document itself), as `METHOD path`.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/api/openapi.json"),
    ("get", "/api/v1/accounts"),
    ("post", "/api/v1/accounts"),
    ("get", "/api/v1/accounts/{id}"),
    ("get", "/api/v1/chats"),
    ("get", "/api/v1/chats/{id}/messages"),
    ("post", "/api/v1/chats/{id}/messages"),
    ("post", "/api/v1/chats/{id}/read"),
    ("put", "/api/v1/chats/{id}/priority"),
    ("put", "/api/v1/chats/{id}/snooze"),
    ("get", "/api/v1/outbox/{id}"),
    ("post", "/api/v1/outbox/{id}/retry"),
    ("post", "/api/v1/guardrails/check"),
    ("get", "/api/v1/attachments/{id}"),
    ("get", "/api/v1/stream"),
    ("get", "/api/v1/notifications"),
    ("post", "/api/v1/notifications/read"),
    ("get", "/api/v1/settings/triage"),
    ("put", "/api/v1/settings/triage"),
    ("get", "/api/v1/analytics"),
    ("post", "/api/v1/session"),
    ("delete", "/api/v1/session"),
];

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = spawn_app().await;
    let r = app.get("/api/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let doc: Value = serde_json::from_str(&r.text).expect("the document is JSON");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert_eq!(doc["info"]["title"], "AgentIQ Chat Center API");

    // Exactly the routes of the router, each with its methods.
    let paths = doc["paths"].as_object().must_some("paths");
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flat_map(|ops| ops.keys())
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(documented, expected);

    // And the router really serves each of them (no "unknown route" 404, no 405).
    for (method, path) in ROUTES {
        let url = format!("{}{}", app.base, path.replace("{id}", "1"));
        let req = match *method {
            "get" => app.http.get(url),
            "put" => app.http.put(url),
            "delete" => app.http.delete(url),
            _ => app.http.post(url),
        };
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !(status == StatusCode::NOT_FOUND
                && body["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("адрес API"))),
            "{method} {path} is not routed"
        );
    }

    // Bearer API key everywhere except the public routes.
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    for public in ["/healthz", "/api/openapi.json"] {
        assert_eq!(paths[public]["get"]["security"], json!([{}]), "{public}");
    }
    assert!(paths["/api/v1/chats"]["get"].get("security").is_none());

    // The schemas clients need, with their fields.
    let schemas = doc["components"]["schemas"]
        .as_object()
        .must_some("schemas");
    for (name, fields) in [
        ("ChatListJson", &["chats", "nextCursor"][..]),
        (
            "ChatJson",
            &[
                "id",
                "accountId",
                "chatId",
                "clientName",
                "unreadCount",
                "replyable",
                "waitingSince",
            ],
        ),
        ("MessagesJson", &["messages", "pending"]),
        (
            "MessageJson",
            &["id", "eventId", "sender", "text", "at", "attachments"],
        ),
        ("AttachmentJson", &["id", "kind", "contentType"]),
        (
            "OutboxJson",
            &["id", "chatId", "state", "error", "text", "attempts"],
        ),
        ("ViolationJson", &["kind", "start", "end", "message"]),
        (
            "ReplyViolationJson",
            &["kind", "start", "end", "file", "message"],
        ),
        (
            "GuardrailsRejectionJson",
            &["error", "message", "violations"],
        ),
        ("CheckJson", &["violations", "chars", "limit"]),
        (
            "AccountJson",
            &["id", "name", "state", "lastSyncAt", "lastError"],
        ),
        ("ErrorJson", &["error", "message", "detail"]),
        ("Health", &["status"]),
        ("NotificationListJson", &["notifications", "unread"]),
        (
            "NotificationJson",
            &[
                "id",
                "chatId",
                "kind",
                "title",
                "keyAt",
                "createdAt",
                "readAt",
            ],
        ),
        (
            "TriageSettingsJson",
            &[
                "slaMinutes",
                "escalationLeadMinutes",
                "webhookUrl",
                "webhookSecretSet",
            ],
        ),
    ] {
        let props = schemas
            .get(name)
            .and_then(|s| s["properties"].as_object())
            .unwrap_or_else(|| panic!("schema {name} missing: {:?}", schemas.keys()));
        for f in fields {
            assert!(props.contains_key(*f), "{name}.{f}");
        }
    }
    // Every $ref points at a schema that exists.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .must_some("local ref");
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
    let q = paths["/api/v1/chats"]["get"]["parameters"]
        .as_array()
        .must_some("parameters");
    assert!(q.iter().any(|p| p["name"] == "q" && p["in"] == "query"));
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(s)) => out.push(s.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn chats_can_be_searched_by_buyer_and_message_text() {
    let app = spawn_app().await;
    let account = app.connected_account(&app.key_a, TOKEN_A).await;
    app.sync(account).await;
    let all = app.get("/api/v1/chats?limit=200", Some(&app.key_a)).await;
    let chats = all.json["chats"].as_array().must_some("chats").clone();
    assert!(chats.len() > 1);
    // A word from one chat's buyer name, typed in another case, finds that chat.
    let chat = chats
        .iter()
        .find(|c| {
            c["clientName"]
                .as_str()
                .is_some_and(|n| !n.trim().is_empty())
        })
        .must_some("a named chat");
    let name = chat["clientName"].as_str().must_some("name");
    let word = name
        .split_whitespace()
        .next()
        .must_some("word")
        .to_uppercase();
    let r = app
        .send(
            app.http
                .get(format!("{}/api/v1/chats", app.base))
                .query(&[("q", word.as_str())])
                .bearer_auth(&app.key_a),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let found = r.json["chats"].as_array().must_some("found");
    assert!(
        found.iter().any(|c| c["id"] == chat["id"]),
        "{word}: {}",
        r.text
    );
    assert!(found.iter().all(|c| {
        c["clientName"]
            .as_str()
            .is_some_and(|n| n.to_uppercase().contains(&word))
            || c["lastMessage"]["text"].is_string()
    }));

    // Message text: the whole text of a chat's first message.
    let id = chat["id"].as_i64().must_some("id");
    let m = app
        .get(&format!("/api/v1/chats/{id}/messages"), Some(&app.key_a))
        .await;
    let text = m.json["messages"][0]["text"]
        .as_str()
        .must_some("text")
        .to_owned();
    let needle: String = text.chars().take(12).collect::<String>().to_lowercase();
    let r = app
        .send(
            app.http
                .get(format!("{}/api/v1/chats", app.base))
                .query(&[("q", needle.as_str()), ("filter", "all"), ("limit", "200")])
                .bearer_auth(&app.key_a),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let found = r.json["chats"].as_array().must_some("found");
    assert!(
        found.iter().any(|c| c["id"] == json!(id)),
        "{needle}: {}",
        r.text
    );

    // Nothing matches a string nobody wrote; a blank q is no search; too long is a 400.
    let r = app
        .get(
            "/api/v1/chats?q=%25zz_%D0%AF%D0%AF%D0%AF%25",
            Some(&app.key_a),
        )
        .await;
    assert_eq!(r.json["chats"], json!([]), "{}", r.text);
    let r = app
        .get("/api/v1/chats?q=%20&limit=200", Some(&app.key_a))
        .await;
    assert_eq!(r.json["chats"].as_array().map(Vec::len), Some(chats.len()));
    let long = "я".repeat(201);
    let r = app
        .send(
            app.http
                .get(format!("{}/api/v1/chats", app.base))
                .query(&[("q", long.as_str())])
                .bearer_auth(&app.key_a),
        )
        .await;
    super::assert_error(&r, StatusCode::BAD_REQUEST, "invalid_q");
}
