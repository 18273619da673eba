//! `POST /api/v1/guardrails/check`: auth, the answer's shape, UTF-16 offsets, bad bodies.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Must, spawn_app};

const CHECK: &str = "/api/v1/guardrails/check";

#[tokio::test]
async fn a_clean_draft_has_no_violations() {
    let app = spawn_app().await;
    let r = app
        .post_json(
            CHECK,
            &app.key_a,
            &json!({"text": "Заказ 1234567890 приедет 12.05, цена 1 990 ₽."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json,
        json!({"violations": [], "chars": 45, "limit": 1000})
    );
}

#[tokio::test]
async fn violations_carry_kind_utf16_span_and_a_russian_message() {
    let app = spawn_app().await;
    // The emoji is one Unicode character but two UTF-16 code units.
    let text = "😊 Пишите на shop@mail.ru или звоните +7 (999) 123-45-67, мы в тг";
    let r = app
        .post_json(CHECK, &app.key_a, &json!({"text": text}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["chars"], json!(text.chars().count()));
    assert_eq!(r.json["limit"], json!(1000));
    let violations = r.json["violations"].as_array().must_array();
    let kinds: Vec<&str> = violations
        .iter()
        .map(|v| v["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["email", "phone", "messenger"]);

    let utf16: Vec<u16> = text.encode_utf16().collect();
    let slice = |v: &Value| {
        let start = v["start"].as_u64().unwrap_or_default() as usize;
        let end = v["end"].as_u64().unwrap_or_default() as usize;
        String::from_utf16_lossy(&utf16[start..end])
    };
    assert_eq!(slice(&violations[0]), "shop@mail.ru");
    assert_eq!(
        violations[0]["start"],
        json!(13),
        "char offset 12 + 1 for the emoji"
    );
    assert_eq!(slice(&violations[1]), "+7 (999) 123-45-67");
    assert_eq!(slice(&violations[2]), "тг");
    for v in violations {
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.contains("WB"), "{message}");
        assert_eq!(v.as_object().map(|o| o.len()), Some(4), "{v}");
    }
}

#[tokio::test]
async fn empty_and_too_long_drafts() {
    let app = spawn_app().await;
    let r = app
        .post_json(CHECK, &app.key_a, &json!({"text": "  "}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["violations"][0]["kind"], "empty");
    assert_eq!(r.json["violations"][0]["start"], 0);
    assert_eq!(r.json["violations"][0]["end"], 0);

    // 1001 emoji: 1001 characters, 2002 UTF-16 code units.
    let text = "😊".repeat(1001);
    let r = app
        .post_json(CHECK, &app.key_a, &json!({"text": text}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["chars"], 1001);
    let v = &r.json["violations"][0];
    assert_eq!(v["kind"], "too_long");
    assert_eq!(
        (v["start"].clone(), v["end"].clone()),
        (json!(2000), json!(2002))
    );

    let r = app
        .post_json(CHECK, &app.key_a, &json!({"text": "😊".repeat(1000)}))
        .await;
    assert_eq!(r.json["violations"], json!([]), "{}", r.text);
}

#[tokio::test]
async fn the_check_needs_an_operator() {
    let app = spawn_app().await;
    let body = json!({"text": "Здравствуйте"}).to_string();
    let r = app.post_raw(CHECK, "not-a-key", &body).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.json["error"], "invalid_api_key");

    let resp = app
        .http
        .post(format!("{}{CHECK}", app.base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .must("request");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_bodies_answer_in_the_error_format() {
    let app = spawn_app().await;
    let r = app.post_raw(CHECK, &app.key_a, "{\"text\": ").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json["error"], "invalid_json");

    let r = app
        .post_raw(CHECK, &app.key_a, "{\"txt\": \"привет\"}")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["error"], "invalid_body");

    let r = app.post_raw(CHECK, &app.key_a, "{\"text\": 5}").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

    let r = app
        .send(
            app.http
                .post(format!("{}{CHECK}", app.base))
                .bearer_auth(&app.key_a)
                .body("{\"text\": \"привет\"}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
}

trait MustArray {
    fn must_array(self) -> Vec<Value>;
}

impl MustArray for Option<&Vec<Value>> {
    fn must_array(self) -> Vec<Value> {
        match self {
            Some(v) => v.clone(),
            None => panic!("expected a JSON array"),
        }
    }
}

#[test]
fn violations_json_converts_char_offsets_to_utf16() {
    let text = "👍👍 t.me/shop";
    let v = domain::guardrails::check_text(text);
    let json = web::api::guardrails::violations_json(text, &v);
    assert_eq!(json.len(), 1);
    assert_eq!((v[0].start, v[0].end), (3, 12));
    assert_eq!((json[0].start, json[0].end), (5, 14));
}
