//! Files both ways through the real binary: a buyer's image and PDF downloaded and served by
//! the API; a seller's image and PDF sent through the outbox and visible in the sandbox.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;

use crate::support::{App, http};

const SELLER: &str = "files-seller";
const PNG: &[u8] = include_bytes!("../../../sandbox/assets/buyer-screenshot.png");
const PDF: &[u8] = include_bytes!("../../../sandbox/assets/buyer-receipt.pdf");

async fn get_json(url: &str, key: &str) -> (u16, Value) {
    let r = http()
        .get(url)
        .header("Authorization", format!("Bearer {key}"))
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_and_pdf_round_trip() {
    let sb = sandbox::start(
        Sandbox::new(SandboxConfig {
            tokens: vec![SELLER.into()],
            chats: 3,
            seed: 5,
            rate_limit: None,
            ..SandboxConfig::default()
        }),
        "127.0.0.1:0".parse::<SocketAddr>().expect("addr"),
    )
    .await
    .expect("sandbox");
    let app = App::new();
    let key = app.operator_with_account("files@shop.ru", &sb.url(), SELLER);
    let (mut serve, base) = app.serve_with_url();

    // Buyer files: every attachment of every synced message is served with its type.
    let deadline = Instant::now() + Duration::from_secs(30);
    let chats = loop {
        let (_, body) = get_json(&format!("{base}/api/v1/chats"), &key).await;
        let chats = body["chats"].as_array().cloned().unwrap_or_default();
        if chats.len() >= 3 {
            break chats;
        }
        assert!(Instant::now() < deadline, "no chats: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut served = Vec::new();
    for chat in &chats {
        let id = chat["id"].as_i64().expect("id");
        let (_, msgs) = get_json(&format!("{base}/api/v1/chats/{id}/messages"), &key).await;
        for m in msgs["messages"].as_array().cloned().unwrap_or_default() {
            for a in m["attachments"].as_array().cloned().unwrap_or_default() {
                let aid = a["id"].as_i64().expect("attachment id");
                // A file still in WB's moderation answers 202 first; ask again as told.
                let mut tries = 0;
                loop {
                    let r = http()
                        .get(format!("{base}/api/v1/attachments/{aid}"))
                        .header("Authorization", format!("Bearer {key}"))
                        .send()
                        .await
                        .expect("download");
                    if r.status().as_u16() == 202 && tries < 10 {
                        tries += 1;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    assert_eq!(r.status().as_u16(), 200);
                    let ct = r.headers()["content-type"]
                        .to_str()
                        .expect("ascii")
                        .to_owned();
                    let bytes = r.bytes().await.expect("bytes");
                    served.push((ct, bytes.len()));
                    break;
                }
            }
        }
    }
    assert!(
        served.iter().any(|(ct, n)| ct == "image/jpeg" && *n > 0),
        "{served:?}"
    );
    assert!(
        served
            .iter()
            .any(|(ct, n)| ct == "application/pdf" && *n > 0),
        "{served:?}"
    );

    // Seller files: multipart through the outbox, then visible in the sandbox.
    let chat = chats[0]["id"].as_i64().expect("id");
    let wb_chat = chats[0]["chatId"].as_str().expect("chatId").to_owned();
    let form = reqwest::multipart::Form::new()
        .text("text", "Фото и накладная во вложении")
        .part(
            "file",
            reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("фото.png"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(PDF.to_vec()).file_name("накладная.pdf"),
        );
    let r = http()
        .post(format!("{base}/api/v1/chats/{chat}/messages"))
        .header("Authorization", format!("Bearer {key}"))
        .header("Idempotency-Key", "files-1")
        .multipart(form)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 202);
    let row: Value = r.json().await.expect("json");
    let id = row["id"].as_i64().expect("outbox id");
    // A disguised file is stopped by the guardrails before it is stored.
    let bad = reqwest::multipart::Form::new()
        .text("text", "Документ")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"MZ\x90\x00".to_vec()).file_name("doc.pdf"),
        );
    let r = http()
        .post(format!("{base}/api/v1/chats/{chat}/messages"))
        .header("Authorization", format!("Bearer {key}"))
        .multipart(bad)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 422);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, row) = get_json(&format!("{base}/api/v1/outbox/{id}"), &key).await;
        if row["state"] == "sent" {
            break;
        }
        assert!(Instant::now() < deadline, "not sent: {row}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    serve.kill().expect("kill");
    let _ = serve.wait();
    let truth: Value = http()
        .get(format!("{}/_sandbox/chats/{wb_chat}/messages", sb.url()))
        .header("Authorization", SELLER)
        .send()
        .await
        .expect("truth")
        .json()
        .await
        .expect("json");
    let sent: Vec<&Value> = truth["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter(|m| m["text"] == "Фото и накладная во вложении")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(sent.len(), 1, "sent exactly once: {truth}");
    assert_eq!(sent[0]["images"].as_array().map(Vec::len), Some(1));
    assert_eq!(sent[0]["files"][0]["contentType"], "application/pdf");
    assert_eq!(sent[0]["files"][0]["name"], "накладная.pdf");
}
