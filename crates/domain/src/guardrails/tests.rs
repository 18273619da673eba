//! The labelled table: realistic seller replies that must pass, and ones that must be flagged
//! with exactly the expected kinds. A labelled table must be fully right: the test prints the
//! false-positive and miss counts and fails unless both are zero.

use super::*;
use ViolationKind::{Email, Handle, Messenger, Phone, Url};

/// Replies sellers write every day; none may be flagged.
const PASS: &[&str] = &[
    "Здравствуйте! Спасибо за заказ, он уже передан в доставку.",
    "Номер вашего заказа 1234567890, отправили сегодня.",
    "Заказ 89991234567 собран и передан в сортировочный центр.",
    "Трек-номер 80012345678901 — отследить можно в разделе «Доставки».",
    "Трек-номер: 12345678901234567890, посылка в пути.",
    "ШК 2041234567890, проверьте, пожалуйста, на коробке.",
    "Артикул 123456789, размер 46, цвет чёрный.",
    "арт. 87654321 — это модель без капюшона.",
    "nmID 145678923, ссылку прислать не можем, найдите по артикулу в поиске WB.",
    "Цена 1 990 ₽, скидка 15%.",
    "Стоимость со скидкой 2 499 руб., без скидки 3 200 руб.",
    "Возврат 4 350,50 ₽ придёт в течение 10 дней.",
    "Цена от 15 000 до 20 000 рублей в зависимости от комплектации.",
    "Доставим 12.05.2024, ориентировочно с 10:00 до 18:00.",
    "Поставка на склад 2024-06-15, товар появится 17/06.",
    "Заказ приедет 3 марта, пункт выдачи работает с 9:00 до 21:00.",
    "Размеры в наличии: 42 44 46 48 50.",
    "Размеры 8 100 120 14 16 — это по детской сетке.",
    "Размер S/M подойдёт на рост 164–170 см.",
    "Рост 170, обхват груди 92, талии 74, бёдер 98 см.",
    "Размер коробки 30x40x15 см, вес 2.5 кг.",
    "Габариты 120×60×75 см, столешница 2,5 см толщиной.",
    "Длина кабеля 1.5 м, мощность 2000 Вт.",
    "Батарея 5000 мАч, экран 6.1 дюйма.",
    "Обновите приложение до версии 2.1.3, ошибка исправлена.",
    "Совместимо с iOS 17.4 и Android 14.",
    "Прошивка v1.0.12 уже установлена.",
    "Это оригинал, т.е. товар от производителя.",
    "Товар будет в наличии через 2-3 дня, т.к. ждём поставку.",
    "Отправили вам инструкция.pdf, посмотрите раздел 3.",
    "Прикрепили photo_2.jpg и photo_3.jpg с бирками.",
    "Схема сборки в файле scheme_v2.png, а гарантийный талон — garanty.pdf.",
    "Прилагаем README.md из комплекта (на английском).",
    "Макет в файле logo.ai мы не отправляем, только PNG.",
    "Доставка в г.Москва занимает 1-2 дня.",
    "ИП Иванов И.И., ИНН 771234567890.",
    "Состав: хлопок 95%, эластан 5%.",
    "Гарантия 12 мес., чек приложен к заказу.",
    "Скидка действует до 31.12, успейте!",
    "Спасибо за отзыв! Рады, что подошло 😊",
    "Очень жаль, что так вышло. Оформите, пожалуйста, возврат через личный кабинет WB.",
    "Напишите, пожалуйста, номер заказа, мы проверим.",
    "Задайте вопрос здесь, в чате WB, мы отвечаем в течение часа.",
    "В личном кабинете есть раздел «Покупки», там видно статус.",
    "Мы всегда на связи в этом чате.",
    "Подарок однокласснику понравится, размер универсальный.",
    "Инструкция по уходу: стирка при 30°, не отбеливать.",
    "Номер партии 2024/05/118, срок годности до 01.2026.",
    "Время работы поддержки 8:00–20:00 по МСК.",
    "Код ошибки E-12, перезагрузите устройство.",
    "Заказ № 45219876301 отменён по вашей просьбе.",
    "Поставка 23984451 ожидается на складе Коледино.",
    "Модель 2023 года, в комплекте 3 насадки.",
    "Возьмите на размер больше: 48 вместо 46.",
    "Набор 6 шт. по 250 мл, итого 1,5 л.",
    "Курс 1:10, разведите концентрат водой.",
    "Дата производства 15.01.2024, партия 118-05.",
    "Количество 100 шт, упаковка 10 х 10.",
    "Пожалуйста! Хорошего дня 🌸",
    "Да, подойдёт для Samsung Galaxy S23.",
    "Нет, зарядка в комплект не входит, только кабель USB-C.",
    "Цвет на фото может немного отличаться из-за настроек экрана.",
    "Отправка в понедельник 10.06 до 12:00.",
    "Температура от -20 до +30 °C.",
    "Телевизор 55\" 4K, 120 Гц.",
    "Пришлите фото брака в этот чат, мы разберёмся.",
    "Пункт выдачи по адресу ул. Ленина, д. 5, кв. 12.",
    "Номер отправления 987654321012 уже в пути.",
    "Рассрочка 0-0-24: 24 платежа по 1 250 ₽.",
    "Сумма возврата 12 345 ₽, срок 3–5 рабочих дней.",
    "Доставка бесплатная от 1 000 ₽, т.е. ваш заказ подходит.",
    "Обхват головы 56-58 см.",
    "Мощность 1.2 кВт, напряжение 220 В.",
    "Товар сертифицирован, ГОСТ 31410-2009.",
    "Приложили чек, e-mail в нём мы скрыли.",
    "Цена за 1 м² — 1 490 ₽.",
    "Курьер приедет с 14.00 до 16.00, звоните в поддержку WB.",
    "Итого: 3 шт. x 1.299,00 = 3 897 ₽",
    "Размерный ряд 44-46-48-50.",
    "Телефон на фото — iPhone 15 Pro Max 256 ГБ.",
    "Дата выпуска 2024.05.12, время 08:30.",
    "Номер заказа: 7123456789012.",
    "ИНН 7707083893, ОГРН 1027700132195.",
    "Почта России, трек RA123456789RU.",
    "Скидка 30%! Промокод SALE30 действует до воскресенья.",
    "Гарантийный талон warranty.docx и чек-лист checklist.xlsx во вложении.",
];

/// Replies that must be flagged, with exactly the kinds expected.
const FLAG: &[(&str, &[ViolationKind])] = &[
    // URLs: schemes, www, bare domains, Cyrillic TLDs, messenger links.
    ("Подробнее на https://myshop.ru/catalog", &[Url]),
    ("Смотрите http://example.com/item?id=5.", &[Url]),
    ("Каталог: www.shop-sale.ru", &[Url]),
    ("Заходите на shop.ru, там больше моделей.", &[Url]),
    ("Наш сайт магазин.рф — там все размеры.", &[Url]),
    ("Полный каталог на домашнийуют.рф!", &[Url]),
    ("Пишите t.me/myshop_bot", &[Url]),
    ("Наш канал t.me/+AbCdEf123", &[Url]),
    ("Напишите на wa.me/79991234567", &[Url]),
    ("Группа vk.com/myshop, там акции", &[Url]),
    ("Наш инстаграм instagram.com/shop_style", &[Messenger, Url]),
    ("Все отзывы на Ozon.ru тоже есть", &[Url]),
    ("Видеообзор: youtube.com/watch?v=abc123", &[Url]),
    ("Скидки на SALE.SHOP каждую пятницу", &[Url]),
    ("Посмотрите на sub.domain.net/page.", &[Url]),
    ("Инструкция лежит тут: bit.ly/3xYzAb", &[Url]),
    ("Адрес сайта: мой-магазин.рус", &[Url]),
    ("Оформите заказ на best-shop.online со скидкой", &[Url]),
    ("Фото тут (drive.google.com/file/d/1AbC)", &[Url]),
    ("См. https://disk.yandex.ru/d/abc, файл большой", &[Url]),
    ("Сайт shop.by для Беларуси", &[Url]),
    ("Каталог на ftp://files.shop.ru/", &[Url]),
    ("Заходите: www.магазин.рф", &[Url]),
    (
        "Ссылка на товар: wildberries.ru/catalog/123456/detail.aspx",
        &[Url],
    ),
    // E-mails.
    ("Пришлите фото на ivan.petrov@mail.ru", &[Email]),
    ("Наша почта: shop@gmail.com", &[Email]),
    ("Пишите на SUPPORT@MYSHOP.RU, ответим быстро.", &[Email]),
    ("Для документов: buh-otdel@company.org.", &[Email]),
    ("Чек вышлем, если напишете на sale+wb@yandex.ru", &[Email]),
    ("Претензию направьте на info@магазин.рф", &[Email]),
    ("Напишите на почту anna_2024@bk.ru (Анна)", &[Email]),
    ("Почта для связи — zakaz@shop.store", &[Email]),
    // Phones.
    ("Звоните +7 (999) 123-45-67", &[Phone]),
    ("Наш номер 8 999 1234567", &[Phone]),
    ("Позвоните 89991234567, решим вопрос", &[Phone]),
    ("Телефон: +79991234567", &[Phone]),
    ("Тел. 8(912)345-67-89", &[Phone]),
    ("Наберите 8-800-555-35-35, это бесплатно.", &[Phone]),
    ("Номер менеджера +7 912 345 67 89", &[Phone]),
    ("Можно по номеру 7 999 123 45 67", &[Phone]),
    ("Городской (495) 123-45-67", &[Phone]),
    ("Звоните 999 123-45-67", &[Phone]),
    ("Мобильный 9161234567, Ольга", &[Phone]),
    ("Офис: 495 123-45-67, с 9 до 18", &[Phone]),
    ("Тел 123-45-67 (магазин)", &[Phone]),
    ("Вот номер: 8 9 9 9 1 2 3 4 5 6 7", &[Phone]),
    (
        "+7-999-123-4567 — это WhatsApp менеджера",
        &[Phone, Messenger],
    ),
    ("Свяжитесь с нами: +7 (843) 200-10-20.", &[Phone]),
    (
        "Номер 8 (800) 200-06-00 не отвечает? Звоните 8-912-000-11-22",
        &[Phone, Phone],
    ),
    ("Курьер позвонит с номера 8.999.123.45.67", &[Phone]),
    ("телефон+79161234567", &[Phone]),
    (
        "Менеджер Анна, 8 916 123 45 67, звоните после 10:00",
        &[Phone],
    ),
    // Messengers and social networks.
    ("Напишите нам в Telegram, там быстрее", &[Messenger]),
    ("Пишите в телеграм, ответим сразу", &[Messenger]),
    ("Есть тг канал с новинками", &[Messenger]),
    ("Давайте обсудим в ТГ", &[Messenger]),
    ("Скиньте фото в WhatsApp", &[Messenger]),
    ("Можно в ватсап или вайбер", &[Messenger, Messenger]),
    ("Напишите в вотсап, пришлю видео", &[Messenger]),
    ("Мы есть в Viber", &[Messenger]),
    ("Подписывайтесь на нашу группу ВКонтакте", &[Messenger]),
    ("Найдите нас в ВК по названию магазина", &[Messenger]),
    ("Больше фото в нашем Instagram", &[Messenger]),
    ("Загляните в инсту, там примерки", &[Messenger]),
    ("Пишите в личку, сделаем скидку", &[Messenger]),
    ("Напишите мне в лс, обсудим", &[Messenger]),
    ("Ответила вам в личные сообщения", &[Messenger]),
    ("Скиньте номер заказа в директ", &[Messenger]),
    ("Кидайте в телегу, я отвечу", &[Messenger]),
    ("Есть скайп для видеосвязи", &[Messenger]),
    ("Пишите в вацап", &[Messenger]),
    ("Мой инст: shop_style", &[Messenger]),
    ("Наш телеграмм-канал с акциями", &[Messenger]),
    ("Напишите на TG, там менеджер", &[Messenger]),
    (
        "Свяжитесь в WhatsApp: +7 999 123 45 67",
        &[Messenger, Phone],
    ),
    // Handles.
    ("Наш ник @myshop_official", &[Handle]),
    ("Найдите нас: @best.shop", &[Handle]),
    ("Менеджер @anna_manager ответит в течение часа", &[Handle]),
    ("Пишите в телеграм @shop_help", &[Messenger, Handle]),
    ("Профиль @Style.Boutique.24, подпишитесь", &[Handle]),
    ("@sale_bot пришлёт промокод", &[Handle]),
    ("Загляните в инстаграм @shop.style", &[Messenger, Handle]),
    // Several at once, and with a day-to-day number nearby.
    (
        "Заказ 1234567890. Звоните 89991234567 или пишите shop@mail.ru",
        &[Phone, Email],
    ),
    (
        "Трек 12345678901234, вопросы в тг @shop_help",
        &[Messenger, Handle],
    ),
    ("Цена 1 990 ₽, закажите дешевле на shop.ru", &[Url]),
    ("Размер 46, подробнее t.me/sizes_shop", &[Url]),
];

fn kinds(text: &str) -> Vec<ViolationKind> {
    check_text(text).into_iter().map(|v| v.kind).collect()
}

#[test]
fn labelled_table_is_fully_right() {
    let mut false_positives = Vec::new();
    let mut misses = Vec::new();
    for &text in PASS {
        let found = check_text(text);
        if !found.is_empty() {
            false_positives.push(format!("{text:?} → {found:?}"));
        }
    }
    for &(text, expected) in FLAG {
        let mut want = expected.to_vec();
        want.sort();
        let mut got = kinds(text);
        got.sort();
        if got != want {
            misses.push(format!(
                "{text:?}: expected {want:?}, got {:?}",
                check_text(text)
            ));
        }
    }
    println!(
        "guardrails table: {} pass rows, {} flag rows ({} total); false positives: {}, misses: {}",
        PASS.len(),
        FLAG.len(),
        PASS.len() + FLAG.len(),
        false_positives.len(),
        misses.len()
    );
    for fp in &false_positives {
        println!("  false positive: {fp}");
    }
    for miss in &misses {
        println!("  miss: {miss}");
    }
    assert!(
        PASS.len() >= 70 && FLAG.len() >= 80,
        "the table is too small"
    );
    assert!(
        false_positives.is_empty() && misses.is_empty(),
        "{} false positives, {} misses (see above)",
        false_positives.len(),
        misses.len()
    );
}

#[test]
fn spans_are_char_offsets_and_utf16_offsets_differ_after_emoji() {
    let text = "😊 Пишите shop@mail.ru";
    let v = check_text(text);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind, Email);
    let chars: Vec<char> = text.chars().collect();
    let fragment: String = chars[v[0].start..v[0].end].iter().collect();
    assert_eq!(fragment, "shop@mail.ru");
    assert_eq!((v[0].start, v[0].end), (9, 21));
    // The emoji is two UTF-16 code units.
    assert_eq!(v[0].utf16_span(text), 10..22);
    assert_eq!(char_to_utf16(text, 0), 0);
    assert_eq!(char_to_utf16(text, 1000), text.encode_utf16().count());
    assert!(v[0].message.contains("shop@mail.ru"));
}

#[test]
fn violations_are_sorted_and_do_not_overlap() {
    let text = "Пишите wa.me/79991234567 или ivan@mail.ru, тг @shop_help, тел. 8 999 123-45-67";
    let v = check_text(text);
    let got: Vec<_> = v.iter().map(|v| v.kind).collect();
    assert_eq!(got, [Url, Email, Messenger, Handle, Phone]);
    for pair in v.windows(2) {
        assert!(pair[0].end <= pair[1].start, "{pair:?}");
    }
}

#[test]
fn empty_means_no_text_and_no_files() {
    for blank in ["", "   ", "\n\t "] {
        let v = check_text(blank);
        assert_eq!(v.len(), 1, "{blank:?}");
        assert_eq!(v[0].kind, ViolationKind::Empty);
        assert_eq!(v[0].span(), 0..0);
        assert!(v[0].message.contains("пустое"));
    }
    let pdf: &[u8] = b"%PDF-1.7 ...";
    assert!(check_message("", &[("акт.pdf", pdf)]).is_empty());
    assert!(check_message("Акт во вложении", &[("акт.pdf", pdf)]).is_empty());
}

#[test]
fn length_counts_unicode_characters_not_bytes() {
    let exactly = "ж".repeat(MAX_TEXT_CHARS);
    assert!(
        check_text(&exactly).is_empty(),
        "1000 Cyrillic letters are 2000 bytes but fine"
    );
    let emoji = "😊".repeat(MAX_TEXT_CHARS);
    assert!(
        check_text(&emoji).is_empty(),
        "1000 emoji are 2000 UTF-16 units but fine"
    );
    let over = format!("{exactly}ёё");
    let v = check_text(&over);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind, ViolationKind::TooLong);
    assert_eq!(v[0].span(), 1000..1002);
    assert!(v[0].message.contains("1002"), "{}", v[0].message);
}

#[test]
fn too_long_and_contacts_are_both_reported() {
    let text = format!("{} shop.ru", "а".repeat(1000));
    let got: Vec<_> = check_text(&text).into_iter().map(|v| v.kind).collect();
    assert_eq!(got, [ViolationKind::TooLong, Url]);
}

#[test]
fn files_are_checked_by_magic_bytes_and_size() {
    let jpeg: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10];
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let pdf: &[u8] = b"%PDF-1.4\n";
    assert_eq!(sniff(jpeg), Some(FileType::Jpeg));
    assert_eq!(sniff(png), Some(FileType::Png));
    assert_eq!(sniff(pdf), Some(FileType::Pdf));
    assert!(check_files(&[("a.jpg", jpeg), ("b.png", png), ("c.pdf", pdf)]).is_empty());

    // A renamed executable, a GIF, an empty file: the extension does not matter.
    let exe: &[u8] = b"MZ\x90\0";
    let gif: &[u8] = b"GIF89a";
    let v = check_files(&[("фото.jpg", exe), ("anim.gif", gif), ("пусто.pdf", b"")]);
    let got: Vec<_> = v.iter().map(|v| (v.kind, v.file)).collect();
    assert_eq!(
        got,
        [
            (ViolationKind::FileType, Some(0)),
            (ViolationKind::FileType, Some(1)),
            (ViolationKind::FileType, Some(2)),
        ]
    );
    assert!(v[0].message.contains("«фото.jpg»"), "{}", v[0].message);

    // Exactly 5 MB is fine, one byte more is not.
    let mut big = vec![0u8; MAX_FILE_BYTES];
    big[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    assert!(check_files(&[("ok.jpg", &big)]).is_empty());
    big.push(0);
    let v = check_files(&[("большое.jpg", &big)]);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind, ViolationKind::FileTooLarge);
    assert!(v[0].message.contains("«большое.jpg»") && v[0].message.contains("5,1 МБ"));

    // Seven files of 4.5 MB: each fine, together 31.5 MB.
    let mut part = vec![0u8; MAX_FILE_BYTES * 9 / 10];
    part[..5].copy_from_slice(b"%PDF-");
    let files: Vec<(&str, &[u8])> = (0..7).map(|_| ("скан.pdf", part.as_slice())).collect();
    let v = check_files(&files);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind, ViolationKind::FilesTooLarge);
    assert_eq!(v[0].file, None);
    let v = check_message("Сканы во вложении", &files[..6]);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn kinds_have_stable_snake_case_strings() {
    let names: Vec<_> = ViolationKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "empty",
            "too_long",
            "url",
            "email",
            "phone",
            "messenger",
            "handle",
            "file_type",
            "file_too_large",
            "files_too_large"
        ]
    );
    for k in ViolationKind::ALL {
        assert_eq!(k.as_str().parse::<ViolationKind>(), Ok(*k));
        assert_eq!(
            serde_json::to_string(k).ok(),
            Some(format!("\"{}\"", k.as_str()))
        );
    }
    assert!("link".parse::<ViolationKind>().is_err());
}
