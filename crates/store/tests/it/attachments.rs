//! Attachment ids in messages, and the recorded outcome of their downloads.

use domain::{AttachmentKind, AttachmentRowId, DownloadId, Sender};
use store::{Attachment, AttachmentCacheState, StoreError};

use crate::support::{Must, TestDb};
use crate::{ev, fixture, new_chat_ev, only_chat, page};

crate::both_backends!(
    attachments_have_ids_and_record_downloads,
    attachment_lookups_are_workspace_scoped,
);

const SHA: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn file(download: &str, kind: AttachmentKind, name: Option<&str>) -> Attachment {
    Attachment {
        id: None,
        kind,
        download_id: Some(DownloadId::parse(download).must("download id")),
        name: name.map(ToOwned::to_owned),
        content_type: name.map(|_| "application/pdf".to_owned()),
        size: name.map(|_| 48_213),
        url: None,
    }
}

async fn attachments_have_ids_and_record_downloads(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    let mut with_files = ev(1, "e2", Sender::Client, 1_200, "фото и чек");
    with_files.attachments = vec![
        file("img-1", AttachmentKind::Image, None),
        file("pdf-1", AttachmentKind::File, Some("чек.pdf")),
    ];
    store
        .ingest_page(
            account,
            &page(
                vec![new_chat_ev(1, "e1", 1_100, "Здравствуйте"), with_files],
                1_201,
            ),
        )
        .await
        .must("ingest");
    let chat = only_chat(&store, ws).await;
    let messages = store.list_messages(ws, chat.id).await.must("messages");
    let atts = &messages[1].attachments;
    assert_eq!(atts.len(), 2);
    let image = atts[0].id.must("image id");
    let pdf = atts[1].id.must("pdf id");
    assert_ne!(image, pdf);

    // Never asked for yet: no cache row.
    let found = store.find_attachment(ws, pdf).await.must("find pdf");
    assert_eq!(found.id, pdf);
    assert_eq!(found.workspace_id, ws);
    assert_eq!(found.account_id, account);
    assert_eq!(found.kind, AttachmentKind::File);
    assert_eq!(
        found.download_id.as_ref().map(|d| d.as_str()),
        Some("pdf-1")
    );
    assert_eq!(found.name.as_deref(), Some("чек.pdf"));
    assert_eq!(found.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(found.cache, None);

    // Pending, then cached; a late pending does not demote cached bytes.
    store
        .record_attachment_pending(pdf, 9_999_999)
        .await
        .must("pending");
    let c = store
        .find_attachment(ws, pdf)
        .await
        .must("find")
        .cache
        .must("cache row");
    assert_eq!(c.state, AttachmentCacheState::Pending);
    assert_eq!(c.retry_after_ms, Some(9_999_999));
    assert!(c.fetched_at_ms > 0);
    assert_eq!(c.sha256, None);

    store
        .record_attachment_cached(pdf, SHA, "application/pdf", 48_213)
        .await
        .must("cached");
    store
        .record_attachment_pending(pdf, 1)
        .await
        .must("late pending");
    let c = store
        .find_attachment(ws, pdf)
        .await
        .must("find")
        .cache
        .must("cache row");
    assert_eq!(c.state, AttachmentCacheState::Cached);
    assert_eq!(c.sha256.as_deref(), Some(SHA));
    assert_eq!(c.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(c.size, Some(48_213));
    assert_eq!(c.retry_after_ms, None);

    // Blocked, with WB's reason.
    store
        .record_attachment_blocked(image, "moderation error")
        .await
        .must("blocked");
    let c = store
        .find_attachment(ws, image)
        .await
        .must("find")
        .cache
        .must("cache row");
    assert_eq!(c.state, AttachmentCacheState::Blocked);
    assert_eq!(c.reason.as_deref(), Some("moderation error"));
    assert_eq!(c.sha256, None);

    // Unknown ids are NotFound for every call.
    let missing = AttachmentRowId::new(999_999).must("id");
    assert!(matches!(
        store.find_attachment(ws, missing).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .record_attachment_cached(missing, SHA, "image/jpeg", 1)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.record_attachment_blocked(missing, "x").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.record_attachment_pending(missing, 1).await,
        Err(StoreError::NotFound { .. })
    ));

    // Re-ingesting the event keeps the ids (and so the cache rows).
    let mut again = ev(1, "e2", Sender::Client, 1_200, "фото и чек");
    again.attachments = vec![file("img-1", AttachmentKind::Image, None)];
    store
        .ingest_page(account, &page(vec![again], 1_202))
        .await
        .must("again");
    let messages = store.list_messages(ws, chat.id).await.must("messages");
    let ids: Vec<_> = messages[1].attachments.iter().map(|a| a.id).collect();
    assert_eq!(ids, vec![Some(image), Some(pdf)]);
}

async fn attachment_lookups_are_workspace_scoped(db: TestDb) {
    let store = db.store().await;
    let (ws_a, account) = fixture(&store).await;
    let (ws_b, _) = fixture(&store).await;
    let mut with_file = ev(1, "e1", Sender::Client, 1_100, "фото");
    with_file.attachments = vec![file("img-1", AttachmentKind::Image, None)];
    store
        .ingest_page(account, &page(vec![with_file], 1_101))
        .await
        .must("ingest");
    let chat = only_chat(&store, ws_a).await;
    let id = store.list_messages(ws_a, chat.id).await.must("messages")[0].attachments[0]
        .id
        .must("id");
    assert!(store.find_attachment(ws_a, id).await.is_ok());
    assert!(matches!(
        store.find_attachment(ws_b, id).await,
        Err(StoreError::NotFound { what: "attachment" })
    ));
}
