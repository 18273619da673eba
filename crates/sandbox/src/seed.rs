//! Deterministic seeded data and the simulated buyers: names, products and Russian texts.
//!
//! Given the same seed, a seller gets the same chats, ids, texts, goodCards and files; only
//! timestamps move with the start time. The texts are what WB buyers actually write about:
//! sizes, delivery, defects, returns — the mix the inbox has to triage.

use bytes::Bytes;
use rand::Rng;
use rand::seq::IndexedRandom;

use crate::model::{Moderation, NewFile, Seller, Sender, source};
use crate::moderation::FileKind;
use crate::wire::GoodCard;

pub const PHOTO_JPEG: &[u8] = include_bytes!("../assets/buyer-photo.jpg");
pub const SCREENSHOT_PNG: &[u8] = include_bytes!("../assets/buyer-screenshot.png");
pub const RECEIPT_PDF: &[u8] = include_bytes!("../assets/buyer-receipt.pdf");

const NAMES: &[&str] = &[
    "Анна",
    "Мария",
    "Екатерина",
    "Ольга",
    "Наталья",
    "Ирина",
    "Светлана",
    "Татьяна",
    "Юлия",
    "Елена",
    "Дарья",
    "Алина",
    "Ксения",
    "Виктория",
    "Полина",
    "Александр",
    "Дмитрий",
    "Сергей",
    "Андрей",
    "Алексей",
    "Максим",
    "Иван",
    "Михаил",
    "Артём",
    "Николай",
    "Владимир",
    "Егор",
    "Павел",
    "Роман",
    "Кирилл",
];

const FIRST_MESSAGES: &[&str] = &[
    "Здравствуйте! Подскажите, этот размер маломерит? Обычно ношу 44.",
    "Добрый день. Заказ должен был прийти вчера, но до сих пор в пути. Когда ждать?",
    "Здравствуйте, пришла куртка с дыркой на рукаве. Что делать? Фото приложила.",
    "Добрый вечер! Есть ли этот товар в другом цвете?",
    "Подскажите, пожалуйста, из какого материала сделан чехол? На фото выглядит как кожа.",
    "Пришёл не тот размер, заказывала M, а прислали L. Как обменять?",
    "Здравствуйте! Хочу оформить возврат, товар не подошёл. Как это сделать?",
    "Добрый день, коробка пришла мятая, внутри разбита кружка. Верните деньги, пожалуйста.",
    "Подскажите, когда будет поступление 42 размера?",
    "Здравствуйте. Какой срок гарантии на наушники? Левый перестал работать через неделю.",
    "Добрый день! Можно ли стирать в машинке при 40 градусах?",
    "Это оригинал? Есть сертификат?",
    "Здравствуйте, в комплекте не хватает зарядного устройства. Чек прикладываю.",
    "Товар отличный, но пришёл без инструкции. Можно получить инструкцию?",
    "Здравствуйте, почему цена выросла, пока товар лежал в корзине?",
    "Добрый день! Подойдёт ли этот фильтр к пылесосу модели 2021 года?",
    "Ужасное качество, шов разошёлся после первой носки. Очень недовольна.",
    "Подскажите длину по стельке у 38 размера?",
    "Здравствуйте! Заказ отменился сам, а деньги не вернулись. Помогите разобраться.",
    "Пришло два одинаковых товара вместо одного, что делать со вторым?",
];

const FOLLOW_UPS: &[&str] = &[
    "Спасибо за ответ!",
    "Понятно, буду ждать.",
    "А можно побыстрее? Подарок на день рождения в субботу.",
    "Вы так и не ответили на мой вопрос.",
    "Хорошо, тогда оформлю возврат.",
    "Вот фото, посмотрите, пожалуйста.",
    "Уже третий день жду ответа!",
    "Отлично, всё подошло, спасибо большое!",
    "А размер 46 будет?",
    "Деньги так и не пришли.",
];

const SELLER_REPLIES: &[&str] = &[
    "Здравствуйте! Спасибо за обращение, уже проверяем ваш заказ.",
    "Добрый день! Размер соответствует таблице размеров в карточке товара.",
    "Приносим извинения за неудобства. Оформите, пожалуйста, возврат через личный кабинет.",
    "Здравствуйте! Поступление ожидаем на следующей неделе.",
    "Спасибо, что написали! Передали информацию на склад.",
];

const SIZES: &[&str] = &["42", "44", "46", "48", "S", "M", "L", "XL", "38", "0"];

/// A buyer's name, deterministic for the generator.
pub fn client_name(rng: &mut impl Rng) -> &'static str {
    NAMES.choose(rng).copied().unwrap_or("Покупатель")
}

pub fn first_message(rng: &mut impl Rng) -> &'static str {
    FIRST_MESSAGES
        .choose(rng)
        .copied()
        .unwrap_or("Здравствуйте!")
}

pub fn follow_up(rng: &mut impl Rng) -> &'static str {
    FOLLOW_UPS.choose(rng).copied().unwrap_or("Спасибо!")
}

pub fn good_card(rng: &mut impl Rng) -> GoodCard {
    let rid: u128 = rng.random();
    GoodCard {
        nm_id: rng.random_range(10_000_000..400_000_000),
        price: rng.random_range(3..300) * 100 - 10,
        price_currency: "RUB".into(),
        rid: format!("{:032x}.0.0", rid),
        size: SIZES.choose(rng).copied().unwrap_or("0").into(),
    }
}

pub fn buyer_source(rng: &mut impl Rng) -> &'static str {
    [source::ANDROID, source::IOS, source::RUSITE]
        .choose(rng)
        .copied()
        .unwrap_or(source::RUSITE)
}

pub fn photo(moderation: Moderation) -> NewFile {
    NewFile {
        name: "photo.jpg".into(),
        bytes: Bytes::from_static(PHOTO_JPEG),
        kind: FileKind::Jpeg,
        moderation,
    }
}

pub fn screenshot(moderation: Moderation) -> NewFile {
    NewFile {
        name: "screenshot.png".into(),
        bytes: Bytes::from_static(SCREENSHOT_PNG),
        kind: FileKind::Png,
        moderation,
    }
}

pub fn receipt(name: &str, moderation: Moderation) -> NewFile {
    NewFile {
        name: name.into(),
        bytes: Bytes::from_static(RECEIPT_PDF),
        kind: FileKind::Pdf,
        moderation,
    }
}

/// WB's message in a chat it opens for a review under 4 stars.
pub fn negative_review_template(rating: u8, nm_id: i64, text: &str) -> String {
    format!(
        "Покупатель оставил отзыв с оценкой {rating} из 5 на товар {nm_id}: «{text}». \
         Отзыв будет опубликован через 72 часа. Свяжитесь с покупателем в этом чате, \
         чтобы решить вопрос — покупатель может изменить оценку."
    )
}

/// Fills a seller with `chats` chats of history spread over the two days before `now_ms`.
///
/// Chat 0 opens with a photo, chat 1 carries a PDF whose download is pending once (WB's 202),
/// chat 2 is a negative-review chat opened by WB; the rest are ordinary questions, some
/// already answered by the seller.
pub fn seed_seller(seller: &mut Seller, chats: usize, now_ms: i64) {
    seed_seller_with(seller, chats, 0, now_ms);
}

/// [`seed_seller`] with `followups` more messages per chat (seller answers and buyer
/// follow-ups, alternating), for longer conversations.
pub fn seed_seller_with(seller: &mut Seller, chats: usize, followups: usize, now_ms: i64) {
    const HOUR: i64 = 3_600_000;
    let span = 48 * HOUR;
    let step = span / (chats.max(1) as i64 * (4 + followups as i64) + 1);
    let mut ts = now_ms - span;
    let mut tick = |rng: &mut rand_chacha::ChaCha8Rng| {
        ts += rng.random_range(step / 2..=step.max(1));
        ts
    };
    for i in 0..chats {
        let name = client_name(seller.rng());
        let card = good_card(seller.rng());
        let chat = seller.create_chat(name, Some(card.clone()));
        let src = buyer_source(seller.rng());
        match i {
            0 => {
                let t = tick(seller.rng());
                seller.append(
                    chat,
                    Sender::Client,
                    src,
                    "Здравствуйте, пришла куртка с дыркой на рукаве. Фото приложила.",
                    vec![photo(Moderation::Approved)],
                    t,
                );
            }
            1 => {
                let t = tick(seller.rng());
                seller.append(
                    chat,
                    Sender::Client,
                    src,
                    "В комплекте не хватает зарядного устройства. Чек прикладываю.",
                    vec![receipt("чек.pdf", Moderation::Pending { polls_left: 1 })],
                    t,
                );
            }
            2 => {
                let t = tick(seller.rng());
                let text = "Шов разошёлся после первой носки";
                seller.append(
                    chat,
                    Sender::Wb,
                    source::RUSITE,
                    &negative_review_template(2, card.nm_id, text),
                    vec![],
                    t,
                );
                let t = tick(seller.rng());
                seller.append(
                    chat,
                    Sender::Client,
                    src,
                    "Да, хочу вернуть деньги или получить замену.",
                    vec![],
                    t,
                );
            }
            _ => {
                let text = first_message(seller.rng());
                let t = tick(seller.rng());
                seller.append(chat, Sender::Client, src, text, vec![], t);
                if seller.rng().random_bool(0.5) {
                    let reply = SELLER_REPLIES.choose(seller.rng()).copied().unwrap_or("");
                    let t = tick(seller.rng());
                    seller.append(
                        chat,
                        Sender::Seller,
                        source::SELLER_PORTAL,
                        reply,
                        vec![],
                        t,
                    );
                    if seller.rng().random_bool(0.5) {
                        let text = follow_up(seller.rng());
                        let t = tick(seller.rng());
                        seller.append(chat, Sender::Client, src, text, vec![], t);
                    }
                }
            }
        }
        for k in 0..followups {
            let t = tick(seller.rng());
            if k % 2 == 0 {
                let reply = SELLER_REPLIES.choose(seller.rng()).copied().unwrap_or("");
                seller.append(
                    chat,
                    Sender::Seller,
                    source::SELLER_PORTAL,
                    reply,
                    vec![],
                    t,
                );
            } else {
                let text = follow_up(seller.rng());
                seller.append(chat, Sender::Client, src, text, vec![], t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(seed: u64) -> Vec<(String, String)> {
        let mut s = Seller::new(0, "T".into(), seed);
        seed_seller(&mut s, 8, 1_800_000_000_000);
        s.events
            .iter()
            .map(|e| (e.event_id.clone(), e.text.clone()))
            .collect()
    }

    #[test]
    fn same_seed_same_world_other_seed_other_world() {
        assert_eq!(texts(7), texts(7));
        assert_ne!(texts(7), texts(8));
    }

    #[test]
    fn seeded_chats_include_an_image_a_pdf_and_a_wb_chat() {
        let mut s = Seller::new(0, "T".into(), 3);
        seed_seller(&mut s, 3, 1_800_000_000_000);
        let kinds: Vec<FileKind> = s
            .events
            .iter()
            .flat_map(|e| e.attachments.iter())
            .filter_map(|id| s.blob(id).map(|b| b.kind))
            .collect();
        assert!(kinds.contains(&FileKind::Jpeg));
        assert!(kinds.contains(&FileKind::Pdf));
        assert!(s.events.iter().any(|e| e.sender == Sender::Wb));
        let ts: Vec<i64> = s.events.iter().map(|e| e.ts).collect();
        assert!(ts.windows(2).all(|w| w[0] < w[1]));
        assert!(ts.iter().all(|t| *t < 1_800_000_000_000));
    }
}
