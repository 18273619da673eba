//! WB-like moderation of what a seller sends: the rules WB enforces on `POST /message`.
//!
//! This is the sandbox playing WB, not our product's guardrails (those live in `domain` and are
//! deliberately stricter and better explained). It rejects what WB is known to reject: external
//! links, e-mail addresses, phone numbers and messenger mentions in text, more than 1000
//! characters, and files that are not JPEG/PNG/PDF by content, over 5 MB each or 30 MB together.

use std::sync::LazyLock;

use regex::Regex;

pub const MAX_TEXT_CHARS: usize = 1000;
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_TOTAL_FILE_BYTES: usize = 30 * 1024 * 1024;

/// Why WB would reject a message; `detail` is what goes into the 400 body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub detail: String,
}

impl Rejection {
    fn new(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
        }
    }
}

struct Rule {
    pattern: Regex,
    detail: &'static str,
}

#[allow(clippy::expect_used)] // The patterns are constants; a typo must fail every test at once.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |pattern: &str, detail: &'static str| Rule {
        pattern: Regex::new(pattern).expect("moderation pattern compiles"),
        detail,
    };
    vec![
        rule(
            r"(?i)[\w.+-]+@[\w-]+(\.[\w-]+)+",
            "message contains an e-mail address",
        ),
        rule(
            r"(?i)(https?://|www\.)\S+|\b[\w-]+\.(ru|рф|com|net|org|me|su|io|shop|store|info|biz|pro|online|site)\b",
            "message contains an external link",
        ),
        rule(
            r"(\+7|\b8)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s-]*\d{2}[\s-]*\d{2}\b",
            "message contains a phone number",
        ),
        rule(
            r"(?i)\b(идиот\w*|дебил\w*|придур\w*|дура[кч]\w*)",
            "message contains insults",
        ),
        rule(
            r"(?i)\b(telegram|телеграм\w*|whats\s?app|ватсап\w*|вотсап\w*|viber|вайбер\w*|instagram|инстаграм\w*|вконтакте)\b",
            "message mentions a messenger or social network",
        ),
    ]
});

/// Checks a message's text as WB's moderation would.
pub fn check_text(text: &str) -> Result<(), Rejection> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Rejection::new(format!(
            "message is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    for rule in RULES.iter() {
        if rule.pattern.is_match(text) {
            return Err(Rejection::new(format!(
                "moderation: {}; сообщение не прошло модерацию",
                rule.detail
            )));
        }
    }
    Ok(())
}

/// What a file turned out to be, by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Jpeg,
    Png,
    Pdf,
}

impl FileKind {
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
            FileKind::Pdf => "application/pdf",
        }
    }

    pub fn is_image(self) -> bool {
        matches!(self, FileKind::Jpeg | FileKind::Png)
    }
}

/// Sniffs a file's type from its magic bytes; the name and declared type are not trusted.
pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
    match infer::get(bytes).map(|t| t.mime_type()) {
        Some("image/jpeg") => Some(FileKind::Jpeg),
        Some("image/png") => Some(FileKind::Png),
        Some("application/pdf") => Some(FileKind::Pdf),
        _ => None,
    }
}

/// Checks a set of files as WB would: type by content, size each and together.
pub fn check_files<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Vec<FileKind>, Rejection> {
    let mut total = 0usize;
    let mut kinds = Vec::new();
    for (name, bytes) in files {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(Rejection::new(format!(
                "file {name:?} is larger than 5 MB ({} bytes)",
                bytes.len()
            )));
        }
        total += bytes.len();
        let kind = sniff(bytes).ok_or_else(|| {
            Rejection::new(format!(
                "file {name:?} is not a JPEG, PNG or PDF by its content"
            ))
        })?;
        kinds.push(kind);
    }
    if total > MAX_TOTAL_FILE_BYTES {
        return Err(Rejection::new(format!(
            "files are larger than 30 MB together ({total} bytes)"
        )));
    }
    Ok(kinds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_contacts_and_links() {
        for bad in [
            "Напишите нам на shop@mail.ru",
            "Смотрите https://example.com/x",
            "Наш сайт shop.ru",
            "Каталог на магазин.рф",
            "Звоните +7 (999) 123-45-67",
            "Звоните 8 999 123 45 67",
            "Пишите в Telegram",
            "Напишите в вотсап",
            "Сами вы идиоты",
        ] {
            assert!(check_text(bad).is_err(), "should reject {bad:?}");
        }
    }

    #[test]
    fn accepts_everyday_seller_messages() {
        for ok in [
            "Здравствуйте! Ваш заказ 1234567890123 уже в пути.",
            "Цена 2 490 ₽, размер 42, доставка 3-5 дней.",
            "Трек-номер 80081234567890, артикул 145678901.",
            "",
        ] {
            assert_eq!(check_text(ok), Ok(()), "should accept {ok:?}");
        }
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(check_text(&"я".repeat(1000)).is_ok());
        assert!(check_text(&"я".repeat(1001)).is_err());
    }

    #[test]
    fn files_by_content_and_size() {
        let jpeg = include_bytes!("../assets/buyer-photo.jpg");
        let pdf = include_bytes!("../assets/buyer-receipt.pdf");
        assert_eq!(
            check_files([("a.jpg", &jpeg[..]), ("b.pdf", &pdf[..])]),
            Ok(vec![FileKind::Jpeg, FileKind::Pdf])
        );
        assert!(check_files([("a.exe", &b"MZ\x90\x00"[..])]).is_err());
        let big = vec![0u8; MAX_FILE_BYTES + 1];
        assert!(check_files([("big.pdf", &big[..])]).is_err());
        let mut pdf_like = pdf.to_vec();
        pdf_like.resize(MAX_FILE_BYTES, b' ');
        let seven: Vec<(&str, &[u8])> = (0..7).map(|_| ("p.pdf", &pdf_like[..])).collect();
        assert!(check_files(seven).is_err());
    }
}
