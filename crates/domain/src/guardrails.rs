//! Guardrails: what an operator's reply must not contain before it goes to WB.
//!
//! WB's moderation rejects replies that carry contacts or links, and sellers get warnings for
//! trying to move a buyer off the marketplace. These pure functions find such content *before*
//! sending, each finding as a [`Violation`] with its kind, its span and a Russian message for
//! the operator. They are deliberately stricter than WB (spelled phone numbers, bare domains,
//! slang like «тг», «пишите в личку») but must leave alone what sellers write every day: order
//! and track numbers (up to 20 digits), prices, dates, times, sizes, dimensions, percentages,
//! article numbers, version numbers, abbreviations like «т.е.» and file names like
//! `инструкция.pdf`. `guardrails/tests.rs` holds the labelled table that pins this down.
//!
//! # Offsets
//! [`Violation::start`]/[`Violation::end`] are **Unicode scalar value (Rust `char`) indices**
//! into the text, end exclusive — the same unit as the 1000-character limit. JavaScript strings
//! count UTF-16 code units instead (an emoji is two), so an HTTP layer serving a browser
//! converts with [`Violation::utf16_span`] / [`char_to_utf16`]. Violations that concern no part
//! of the text (`empty`, the file kinds) have the empty span `0..0`; `too_long` spans the
//! characters past the limit.
//!
//! # Order
//! Violations come sorted by `start` (then by kind). One stretch of text is reported once, as
//! its most specific kind: `ivan@mail.ru` is an `email`, not also a `url` and a `handle`;
//! `wa.me/79991234567` is a `url`, not also a `phone`. Only `too_long` may overlap others.
//!
//! # Judgement calls
//! * Bare domains count only with a TLD from a fixed list: `shop.ru`,
//!   `t.me/x`, `магазин.рф` are links; `инструкция.pdf`, `README.md`, `г.Москва`, `т.е.` are not.
//!   Links with a scheme or `www.` always count.
//! * An unformatted run of digits right after «заказ», «трек», «артикул», «№», «ШК» and the
//!   like is that number even if it looks like `89991234567`; formatted numbers (`+7`,
//!   brackets, separators) are phones wherever they stand.
//! * Area codes must start with 3, 4, 8 or 9, so lists of sizes (`8 100 120 14 16`) pass.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::sync::LazyLock;

use linkify::{LinkFinder, LinkKind};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::chat::UnknownVariant;

/// Longest text WB accepts, in Unicode characters (scalar values, not bytes or UTF-16 units).
pub const MAX_TEXT_CHARS: usize = 1000;
/// Largest single file WB accepts, in bytes (5 MiB).
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
/// Largest total of all files of one message, in bytes (30 MiB).
pub const MAX_TOTAL_FILE_BYTES: usize = 30 * 1024 * 1024;

/// What a violation is about. The string forms are stable: the API and the UI use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// No text (or only spaces) and no files.
    Empty,
    /// More than [`MAX_TEXT_CHARS`] characters.
    TooLong,
    /// A link: with a scheme, `www.…`, or a bare domain such as `shop.ru`, `t.me/x`, `магазин.рф`.
    Url,
    /// An e-mail address.
    Email,
    /// A Russian phone number (`+7 (999) 123-45-67`, `8 999 1234567`, `(495) 123-45-67`, …).
    Phone,
    /// A messenger or social network, or an invitation to private messages («пишите в личку»).
    Messenger,
    /// An `@handle`.
    Handle,
    /// A file that is not JPEG, PNG or PDF by its content.
    FileType,
    /// One file over [`MAX_FILE_BYTES`].
    FileTooLarge,
    /// All files together over [`MAX_TOTAL_FILE_BYTES`].
    FilesTooLarge,
}

impl ViolationKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [ViolationKind] = &[
        ViolationKind::Empty,
        ViolationKind::TooLong,
        ViolationKind::Url,
        ViolationKind::Email,
        ViolationKind::Phone,
        ViolationKind::Messenger,
        ViolationKind::Handle,
        ViolationKind::FileType,
        ViolationKind::FileTooLarge,
        ViolationKind::FilesTooLarge,
    ];

    /// The stable snake_case form (also the serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::Empty => "empty",
            ViolationKind::TooLong => "too_long",
            ViolationKind::Url => "url",
            ViolationKind::Email => "email",
            ViolationKind::Phone => "phone",
            ViolationKind::Messenger => "messenger",
            ViolationKind::Handle => "handle",
            ViolationKind::FileType => "file_type",
            ViolationKind::FileTooLarge => "file_too_large",
            ViolationKind::FilesTooLarge => "files_too_large",
        }
    }

    /// Which kind wins when two findings cover the same text (lower wins).
    fn precedence(self) -> u8 {
        match self {
            ViolationKind::Email => 0,
            ViolationKind::Url => 1,
            ViolationKind::Phone => 2,
            ViolationKind::Messenger => 3,
            ViolationKind::Handle => 4,
            _ => 5,
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ViolationKind {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ViolationKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownVariant {
                kind: "violation kind",
                value: s.to_owned(),
            })
    }
}

/// One reason not to send a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    /// First character of the offending text, as a `char` index (see the module docs).
    pub start: usize,
    /// One past the last character, as a `char` index.
    pub end: usize,
    /// For file violations: the index of the file in the list checked.
    pub file: Option<usize>,
    /// What the operator reads, in Russian.
    pub message: String,
}

impl Violation {
    /// The span in `char` indices.
    pub fn span(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The span in UTF-16 code units of `text` (the text this violation was found in), which is
    /// how JavaScript indexes strings.
    pub fn utf16_span(&self, text: &str) -> Range<usize> {
        char_to_utf16(text, self.start)..char_to_utf16(text, self.end)
    }
}

/// The UTF-16 offset of the `char_index`-th character of `text` (clamped to the end).
pub fn char_to_utf16(text: &str, char_index: usize) -> usize {
    text.chars().take(char_index).map(char::len_utf16).sum()
}

/// Checks a whole outgoing message: text and attached files (`(name, content)` pairs).
/// `empty` means no text (blank counts as none) *and* no files.
pub fn check_message(text: &str, files: &[(&str, &[u8])]) -> Vec<Violation> {
    let mut out = Vec::new();
    if text.trim().is_empty() && files.is_empty() {
        out.push(Violation {
            kind: ViolationKind::Empty,
            start: 0,
            end: 0,
            file: None,
            message: "Сообщение пустое: напишите текст или приложите файл.".to_owned(),
        });
    }
    out.extend(scan_text(text));
    out.extend(check_files(files));
    sort(&mut out);
    out
}

/// Checks a text-only message (the composer's live check): [`check_message`] without files.
pub fn check_text(text: &str) -> Vec<Violation> {
    check_message(text, &[])
}

/// Checks attachments: JPEG, PNG or PDF by their magic bytes, each at most
/// [`MAX_FILE_BYTES`], all together at most [`MAX_TOTAL_FILE_BYTES`].
pub fn check_files(files: &[(&str, &[u8])]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut total: usize = 0;
    for (i, (name, bytes)) in files.iter().enumerate() {
        total = total.saturating_add(bytes.len());
        if sniff(bytes).is_none() {
            out.push(file_violation(
                ViolationKind::FileType,
                Some(i),
                format!(
                    "Файл «{name}» нельзя отправить: WB принимает только JPEG, PNG и PDF \
                     (проверяется содержимое файла, а не расширение)."
                ),
            ));
        }
        if bytes.len() > MAX_FILE_BYTES {
            out.push(file_violation(
                ViolationKind::FileTooLarge,
                Some(i),
                format!(
                    "Файл «{name}» весит {}, а WB принимает файлы до 5 МБ.",
                    megabytes(bytes.len())
                ),
            ));
        }
    }
    if total > MAX_TOTAL_FILE_BYTES {
        out.push(file_violation(
            ViolationKind::FilesTooLarge,
            None,
            format!(
                "Файлы вместе весят {}, а WB принимает до 30 МБ на сообщение. Уберите часть \
                 файлов или отправьте их отдельными сообщениями.",
                megabytes(total)
            ),
        ));
    }
    out
}

/// A file type WB accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Jpeg,
    Png,
    Pdf,
}

/// The accepted type of `bytes` by its magic bytes, or `None`.
pub fn sniff(bytes: &[u8]) -> Option<FileType> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(FileType::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(FileType::Png)
    } else if bytes.starts_with(b"%PDF-") {
        Some(FileType::Pdf)
    } else {
        None
    }
}

fn file_violation(kind: ViolationKind, file: Option<usize>, message: String) -> Violation {
    Violation {
        kind,
        start: 0,
        end: 0,
        file,
        message,
    }
}

fn megabytes(bytes: usize) -> String {
    // Whole tenths, computed in integers: 5.1 МБ rather than 5 МБ for a file just over the limit.
    let tenths = (bytes as u64 * 10).div_ceil(1024 * 1024);
    format!("{},{} МБ", tenths / 10, tenths % 10)
}

fn sort(v: &mut [Violation]) {
    v.sort_by_key(|v| (v.start, v.end, v.kind, v.file));
}

/// A finding in byte offsets, before overlaps are resolved.
struct Hit {
    kind: ViolationKind,
    range: Range<usize>,
}

/// Everything wrong with the text itself except emptiness: length and contacts.
fn scan_text(text: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        out.push(Violation {
            kind: ViolationKind::TooLong,
            start: MAX_TEXT_CHARS,
            end: chars,
            file: None,
            message: format!(
                "Сообщение длиннее {MAX_TEXT_CHARS} символов: в нём {chars}. Сократите его на {}.",
                chars - MAX_TEXT_CHARS
            ),
        });
    }

    let mut hits = Vec::new();
    find_links(text, &mut hits);
    find_phones(text, &mut hits);
    find_pattern(text, &MESSENGER, ViolationKind::Messenger, &mut hits);
    find_handles(text, &mut hits);

    // Most specific kind first, then leftmost, then longest; keep what does not overlap.
    hits.sort_by_key(|h| {
        (
            h.kind.precedence(),
            h.range.start,
            usize::MAX - h.range.len(),
        )
    });
    let mut kept: Vec<Hit> = Vec::new();
    for hit in hits {
        if kept
            .iter()
            .all(|k| hit.range.end <= k.range.start || k.range.end <= hit.range.start)
        {
            kept.push(hit);
        }
    }
    kept.sort_by_key(|h| h.range.start);

    // Byte offsets to char offsets in one pass over the text.
    let mut positions: Vec<usize> = kept
        .iter()
        .flat_map(|h| [h.range.start, h.range.end])
        .collect();
    positions.sort_unstable();
    positions.dedup();
    let mut map = Vec::with_capacity(positions.len());
    let mut chars_before = text
        .char_indices()
        .map(|(b, _)| b)
        .chain([text.len()])
        .enumerate();
    for byte in positions {
        // Every hit boundary is a char boundary, so the walk meets each position exactly.
        if let Some((index, _)) = chars_before.by_ref().find(|&(_, b)| b == byte) {
            map.push((byte, index));
        }
    }
    let to_char = |byte: usize| {
        map.binary_search_by_key(&byte, |&(b, _)| b)
            .map_or_else(|_| text[..byte].chars().count(), |i| map[i].1)
    };

    for hit in kept {
        let fragment = &text[hit.range.clone()];
        out.push(Violation {
            kind: hit.kind,
            start: to_char(hit.range.start),
            end: to_char(hit.range.end),
            file: None,
            message: text_message(hit.kind, fragment),
        });
    }
    out
}

fn text_message(kind: ViolationKind, fragment: &str) -> String {
    match kind {
        ViolationKind::Url => format!(
            "Ссылка «{fragment}»: WB не пропускает ссылки на сторонние сайты, в мессенджеры и \
             соцсети. Уберите её или опишите, где найти информацию на WB."
        ),
        ViolationKind::Email => format!(
            "Адрес почты «{fragment}»: WB запрещает передавать покупателю контакты. Уберите его."
        ),
        ViolationKind::Phone => format!(
            "Номер телефона «{fragment}»: WB запрещает передавать покупателю контакты. Уберите \
             его — общайтесь с покупателем в этом чате."
        ),
        ViolationKind::Messenger => format!(
            "«{fragment}»: WB не пропускает предложения перейти в мессенджеры, соцсети или \
             личные сообщения. Продолжайте общение в чате WB."
        ),
        ViolationKind::Handle => format!(
            "«{fragment}» похоже на ник в соцсети или мессенджере: WB запрещает передавать \
             контакты. Уберите его."
        ),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Links and e-mails

/// Top-level domains that make `word.tld` a link even without a scheme. A list rather than
/// "anything after a dot", so file names (`фото.jpg`, `README.md`, `logo.ai`), abbreviations
/// (`т.е.`, `г.Москва`) and run-together sentences stay clean: TLDs that double as file
/// extensions or common words are left out on purpose.
const BARE_TLDS: &[&str] = &[
    // Russia and neighbours, in Latin and Cyrillic.
    "ru",
    "su",
    "рф",
    "рус",
    "онлайн",
    "сайт",
    "орг",
    "by",
    "бел",
    "kz",
    "қаз",
    "ua",
    "укр",
    "uz",
    "kg",
    "tj",
    "am",
    "ge",
    "az",
    // Generic.
    "com",
    "net",
    "org",
    "info",
    "biz",
    "pro",
    "me",
    "io",
    "co",
    "cc",
    "tv",
    "ws",
    "to",
    "ly",
    "gl",
    "gg",
    "fm",
    "pw",
    "xyz",
    "top",
    "site",
    "online",
    "shop",
    "store",
    "space",
    "website",
    "tech",
    "app",
    "dev",
    "link",
    "club",
    "live",
    "life",
    "world",
    "market",
    "click",
    "page",
    "blog",
    "one",
    "eu",
    "us",
    "de",
    "uk",
    "cn",
    "tk",
    "ml",
    "ga",
    "ink",
    "email",
    "group",
    "moscow",
    "spb",
    "msk",
];

static LINKS: LazyLock<LinkFinder> = LazyLock::new(|| {
    let mut finder = LinkFinder::new();
    finder.url_must_have_scheme(false);
    finder
});

/// Bare domains that linkify's finder may not see (glued to punctuation, Cyrillic labels):
/// labels of letters, digits and hyphens, a listed TLD, an optional path.
#[allow(clippy::expect_used)] // A constant pattern: a typo fails every test at once.
static BARE_DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    let tlds = BARE_TLDS.join("|");
    Regex::new(&format!(
        r"(?i)\b(?:www\.)?(?:[\p{{L}}\d](?:[\p{{L}}\d-]*[\p{{L}}\d])?\.)+(?:{tlds})\b(?:[/?#][^\s]*)?"
    ))
    .expect("bare domain pattern compiles")
});

#[allow(clippy::expect_used)] // A constant pattern: a typo fails every test at once.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[\p{L}\d._%+-]+@[\p{L}\d-]+(?:\.[\p{L}\d-]+)*\.\p{L}{2,}")
        .expect("e-mail pattern compiles")
});

fn find_links(text: &str, hits: &mut Vec<Hit>) {
    for link in LINKS.links(text) {
        let range = link.start()..link.end();
        match link.kind() {
            LinkKind::Email => hits.push(Hit {
                kind: ViolationKind::Email,
                range,
            }),
            LinkKind::Url if is_link(link.as_str()) => hits.push(Hit {
                kind: ViolationKind::Url,
                range,
            }),
            _ => {}
        }
    }
    // linkify's e-mails are ASCII-only in the domain; this one also sees `info@магазин.рф`.
    for m in EMAIL.find_iter(text) {
        hits.push(Hit {
            kind: ViolationKind::Email,
            range: m.range(),
        });
    }
    for m in BARE_DOMAIN.find_iter(text) {
        // The scheme-less pattern must not start inside a word or a number (`№12.ru`), nor be
        // the domain of an e-mail (that one is already an `email`).
        if let Some(prev) = text[..m.start()].chars().next_back()
            && (prev.is_alphanumeric() || prev == '_' || prev == '@' || prev == '.')
        {
            continue;
        }
        let end = m.start() + trim_trailing_punctuation(m.as_str()).len();
        hits.push(Hit {
            kind: ViolationKind::Url,
            range: m.start()..end,
        });
    }
}

/// Whether a linkify URL candidate really is a link: it has a scheme, starts with `www.`, or its
/// host ends with a listed TLD.
fn is_link(candidate: &str) -> bool {
    let lower = candidate.to_lowercase();
    if lower.contains("://") || lower.starts_with("www.") {
        return true;
    }
    let host = lower.split(['/', '?', '#', ':']).next().unwrap_or_default();
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty())
        && labels.last().is_some_and(|tld| BARE_TLDS.contains(tld))
}

fn trim_trailing_punctuation(s: &str) -> &str {
    s.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '»', '"', '\'', '…'])
}

// ---------------------------------------------------------------------------------------------
// Phones

/// Phone shapes, each a separate pattern so one failing boundary check does not hide another
/// shape at the same place. Digits are ASCII on purpose. Area codes start with 3, 4, 8 or 9
/// (that keeps "8 100 120 14 16" a list of sizes).
#[allow(clippy::expect_used)] // Constant patterns: a typo fails every test at once.
static PHONES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    let sep = r"[ \t\u{00A0}.\-]{0,2}";
    let area = r"(?:\(\s?[3489]\d{2}\s?\)|[3489]\d{2})";
    let tail = format!(r"\d{{3}}{sep}(?:\d{{2}}{sep}\d{{2}}|\d{{4}})");
    [
        // +7 / 7 / 8, area code, number: +7 (999) 123-45-67, 8 999 1234567, 89991234567.
        format!(r"(?:\+\s?7|7|8){sep}{area}{sep}{tail}"),
        // The same digit by digit: 8 9 9 9 1 2 3 4 5 6 7.
        r"(?:\+\s?7|7|8)(?:[ \-]\d){10}".to_owned(),
        // No country prefix, area code in brackets: (495) 123-45-67.
        format!(r"\(\s?[3489]\d{{2}}\s?\){sep}{tail}"),
        // No country prefix, mobile: 999 123-45-67, 999-123-4567, 9991234567.
        format!(r"9\d{{2}}{sep}{tail}"),
        // No country prefix, any area code, dashed: 495 123-45-67.
        r"[3489]\d{2}[ \-]\d{3}-\d{2}-\d{2}".to_owned(),
        // City number: 123-45-67.
        r"\d{3}-\d{2}-\d{2}".to_owned(),
    ]
    .iter()
    .map(|p| Regex::new(p).expect("phone pattern compiles"))
    .collect()
});

/// Words right before a bare run of digits that make it an order, track or article number.
#[allow(clippy::expect_used)] // A constant pattern: a typo fails every test at once.
static NUMBER_CONTEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:№|#|\bзаказ\w*|\bтрек\w*|\bартикул\w*|\bарт|\bшк|\bбаркод\w*|\bштрих-?код\w*|\bстикер\w*|\bотправлени\w*|\bпосылк\w*|\bnm\s?id|\bid|\bкод\w*|\bпоставк\w*)[\s:.\-–—]*(?:номер\w*)?[\s:.\-–—№]*$",
    )
    .expect("number context pattern compiles")
});

fn find_phones(text: &str, hits: &mut Vec<Hit>) {
    for re in PHONES.iter() {
        let mut from = 0;
        while let Some(m) = re.find_at(text, from) {
            let (start, end) = (m.start(), m.end());
            if phone_boundaries_ok(text, start, end) && !is_labelled_number(text, start, end) {
                hits.push(Hit {
                    kind: ViolationKind::Phone,
                    range: start..end,
                });
                from = end;
            } else {
                // Try again one character later: a longer number may hide a real phone shape.
                from = start + text[start..].chars().next().map_or(1, char::len_utf8);
            }
            if from >= text.len() {
                break;
            }
        }
    }
}

/// A phone must stand alone: not glued to letters or digits, and not part of a longer number
/// written with `.`, `,`, `/`, `:` or `-` (dates, decimals, times, ranges).
fn phone_boundaries_ok(text: &str, start: usize, end: usize) -> bool {
    let glue = |c: char| matches!(c, '.' | ',' | '/' | ':' | '-' | '+' | '_');
    let mut before = text[..start].chars().rev();
    // `телефон+79161234567`: a leading `+` or `(` already separates the number from a word.
    let opens_itself = text[start..].starts_with(['+', '(']);
    match (before.next(), before.next()) {
        _ if opens_itself => {}
        (Some(c), _) if c.is_alphanumeric() || c == '_' => return false,
        (Some(c), Some(d)) if glue(c) && d.is_alphanumeric() => return false,
        _ => {}
    }
    let mut after = text[end..].chars();
    match (after.next(), after.next()) {
        (Some(c), _) if c.is_alphanumeric() || c == '_' => return false,
        (Some(c), Some(d)) if glue(c) && d.is_ascii_digit() => return false,
        _ => {}
    }
    true
}

/// An unformatted run of digits right after «заказ», «трек-номер», «артикул», «№» and the like
/// is that number, not a phone. Formatted numbers (`+7`, brackets, separators) stay phones.
fn is_labelled_number(text: &str, start: usize, end: usize) -> bool {
    if !text[start..end].bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let before = &text[..start];
    let window_start = before.char_indices().rev().nth(40).map_or(0, |(i, _)| i);
    NUMBER_CONTEXT.is_match(&before[window_start..])
}

// ---------------------------------------------------------------------------------------------
// Messengers, social networks, handles

#[allow(clippy::expect_used)] // A constant pattern: a typo fails every test at once.
static MESSENGER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)
        \b(?:
            telegram\w* | телеграм\w* | телеграмм\w* | телег[аиуе] | телегой | тг | tg | тгк
          | whats\s?app\w* | вотс\s?ап\w* | ватс\s?апп?\w* | вацапп?\w* | вотсапп?\w* | воцап\w*
          | viber | вайбер\w* | вибер\w*
          | vk | вк | вконтакт\w* | vkontakte
          | instagram\w* | инстаграмм?\w* | инст[ауеы]? | insta | инсту
          | facebook | фейсбук\w* | skype | скайп\w* | discord | дискорд\w*
        )\b
        | \b(?:в|на)\s+(?:личк[уеи] | лс | директ | direct | личн\w+\s+сообщени\w* | личн\w+\s+переписк\w*)\b
        ",
    )
    .expect("messenger pattern compiles")
});

#[allow(clippy::expect_used)] // A constant pattern: a typo fails every test at once.
static HANDLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?").expect("handle pattern compiles")
});

fn find_pattern(text: &str, re: &Regex, kind: ViolationKind, hits: &mut Vec<Hit>) {
    for m in re.find_iter(text) {
        hits.push(Hit {
            kind,
            range: m.range(),
        });
    }
}

fn find_handles(text: &str, hits: &mut Vec<Hit>) {
    for m in HANDLE.find_iter(text) {
        let name = &m.as_str()[1..];
        let glued = text[..m.start()]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        // Handles are 3+ characters with a letter; `@2` or `@ 14:00` are not handles.
        if glued || name.len() < 3 || !name.bytes().any(|b| b.is_ascii_alphabetic()) {
            continue;
        }
        hits.push(Hit {
            kind: ViolationKind::Handle,
            range: m.range(),
        });
    }
}

#[cfg(test)]
mod tests;
