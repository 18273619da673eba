//! The labelled table: realistic buyer messages (typos, no punctuation, mixed case, emoji) with
//! the intent and tone an operator would give them. The test prints per-class precision and
//! recall and fails below 0.9 overall accuracy or 0.7 recall for any class.

use super::*;
use Intent::{Other, Thanks};
use Tone::{Angry as A, Neutral as N, Positive as P};

const R: Intent = Intent::ReturnRefund;
const D: Intent = Intent::DefectDamage;
const W: Intent = Intent::WrongItemOrSize;
const DL: Intent = Intent::Delivery;
const PP: Intent = Intent::PrePurchase;
const T: Intent = Thanks;
const O: Intent = Other;

const TABLE: &[(&str, Intent, Tone)] = &[
    // Returns and refunds.
    (
        "Здравствуйте, хочу оформить возврат, как это сделать?",
        R,
        N,
    ),
    ("как сделать вазврат товара", R, N),
    (
        "Добрый день. Подскажите пожалуйста как вернуть куртку, не понравилась",
        R,
        N,
    ),
    ("возврат оформила неделю назад деньги так и не пришли", R, N),
    ("ВЕРНИТЕ ДЕНЬГИ!!! ОБМАНЩИКИ", R, A),
    ("верните деньги я товар сдала 2 недели назад", R, A),
    (
        "Когда вернутся деньги за возврат? Сдала в пвз 5 дней назад",
        R,
        N,
    ),
    ("можно вернуть если не подошел по цвету", R, N),
    ("хочу сдать обратно, передумала", R, N),
    (
        "деньги за отмененный товар не вернули уже месяц это вообще нормально??",
        R,
        N,
    ),
    ("вы мошенники деньги не возвращаете", R, A),
    (
        "Отказали в возврате, почему? товар не ношеный бирки на месте",
        R,
        N,
    ),
    ("как получить компенсацию за брак", R, N),
    ("Вернуть деньги можно? Получила не то что ожидала", R, N),
    ("где мои деньги за возврат 😡", R, A),
    ("возрат не принимают в пвз что делать", R, N),
    ("Я хочу вернуть товар, он мне не нужен", R, N),
    ("Уже третий раз пишу верните деньги это беспредел", R, A),
    ("прошу вернуть средства на карту", R, N),
    ("ВОЗВРАТ ГДЕ МОИ ДЕНЬГИ", R, A),
    ("вернуть можно в течении 14 дней?", R, N),
    ("оформила отказ от товара деньги когда придут", R, N),
    ("заявка на возврат отклонена, это развод какой то", R, A),
    (
        "Здравствуйте, верните пожалуйста деньги, товар бракованый",
        R,
        N,
    ),
    ("как вернуть деньги если чек потеряла", R, N),
    // Defects and damage.
    ("Пришел брак, шов разошелся на рукаве", D, N),
    ("куртка с дыркой на спине", D, N),
    ("Здравствуйте, у сумки оторвалась ручка через день", D, N),
    ("телефон не включается вообще", D, N),
    ("чайник протекает снизу", D, N),
    ("на платье пятно, как будто уже носили", D, N),
    ("пришла разбитая ваза, коробка целая", D, N),
    ("сламался замок на второй день", D, N),
    (
        "ужас а не качество, все нитки торчат и дыра на кармане!!!",
        D,
        A,
    ),
    ("зарядка не заряжает", D, N),
    ("Подошва отклеилась после первой носки", D, N),
    ("экран с трещиной", D, N),
    ("товар поврежден при доставке, упаковка мятая", D, N),
    ("наушники не работает левый", D, N),
    ("Это БРАК!!! Позор такое продавать", D, A),
    ("кофта полиняла после первой стирки", D, N),
    ("на очках царапины", D, N),
    ("порвались колготки сразу же", D, N),
    ("Дифект на ткани, затяжки по всему рукаву", D, N),
    ("сумка воняет химией невозможно", D, N),
    ("игрушка сломана, деталь отвалилась ребенок плачет 😢", D, N),
    ("кружка пришла с отколом и трещиной", D, N),
    ("лампа не горит", D, N),
    ("кошмар, все в катышках после одной стирки", D, A),
    ("Молния сломалась сразу, качество отвратительное", D, A),
    // Wrong item or size.
    ("прислали не тот цвет, заказывала черный пришел синий", W, N),
    ("размер не подошел", W, N),
    ("Пришла другая модель", W, N),
    ("сильно маломерит, на 46 не налезает", W, N),
    ("кроссовки велики на размер", W, N),
    ("Вместо куртки прислали шапку", W, N),
    ("не подашел размер очень мал", W, N),
    ("в комплекте не хватает одной детали", W, N),
    ("Заказывала XL пришел S", W, N),
    ("перепутали размер на бирке 42 а по факту 38", W, N),
    ("товар не соответствует фото", W, N),
    ("ВЫ ЧТО НЕ ВИДИТЕ ЧТО ПРИСЛАЛИ НЕ ТО!!!", W, A),
    ("брюки короткие и узкие, не подходят", W, N),
    ("пришел не тот товар вообще", W, N),
    ("джинсы маловаты в талии", W, N),
    ("Платье велико, можно поменять на размер меньше?", W, N),
    ("пришло 2 левых ботинка", W, N),
    ("прислали не того цвета, обман", W, A),
    ("нет в комплекте зарядки", W, N),
    ("кольцо мало, жмет", W, N),
    ("не подходит по размеру к моему телефону", W, N),
    ("чехол не на ту модель", W, N),
    ("Футболка большемерит очень", W, N),
    ("рукава длинные и плечи широкие", W, N),
    ("не тот размер опять, сколько можно", W, A),
    // Delivery.
    ("Где мой заказ?", DL, N),
    ("где заказ уже неделя прошла", DL, N),
    ("когда доставка", DL, N),
    ("Подскажите, когда привезут заказ в пвз?", DL, N),
    ("трек номер не отслеживается", DL, N),
    ("заказ задерживается уже на 5 дней", DL, N),
    ("Курьер не приехал, весь день ждала", DL, N),
    ("когда придет посылка", DL, N),
    ("статус заказа не меняется третий день", DL, N),
    ("ГДЕ МОЙ ЗАКАЗ Я ЖДУ ДВЕ НЕДЕЛИ", DL, A),
    ("заказ до сих пор не пришел!!!", DL, A),
    ("можно ли отменить заказ", DL, N),
    ("Заказ висит в сортировочном центре неделю", DL, N),
    ("когда будет доставка в Казань", DL, N),
    ("Посылка не пришла а в приложении пишет доставлено", DL, N),
    ("можно изменить пункт выдачи?", DL, N),
    ("Где посылка, издеваетесь?", DL, A),
    ("когда отправите заказ", DL, N),
    ("доставку перенесли уже 3 раза, это издевательство", DL, A),
    ("не получил заказ, в пвз говорят нет такого", DL, N),
    ("сколько дней идет доставка до Новосибирска", DL, N),
    ("где моя покупка", DL, N),
    ("заказ в пути уже 10 дней это нормально", DL, N),
    ("Даставка когда будет", DL, N),
    ("курьер опаздывает на 3 часа", DL, N),
    // Before the purchase.
    ("Здравствуйте, есть ли размер 48?", PP, N),
    ("подскажите какой размер брать на рост 170 вес 65", PP, N),
    ("а есть в черном цвете", PP, N),
    ("Будет ли поступление 42 размера?", PP, N),
    ("из какого материала сделана куртка", PP, N),
    ("Подойдет ли на iphone 13?", PP, N),
    ("маломерит или в размер?", PP, N),
    ("какой состав у свитера, есть шерсть?", PP, N),
    ("хочу заказать 3 штуки, будет скидка?", PP, N),
    ("Какая длина платья на размер М?", PP, N),
    ("на какой рост подойдет 128", PP, N),
    ("есть ли гарантия на товар", PP, N),
    ("в наличии только синий?", PP, N),
    ("стоит ли брать на зиму", PP, N),
    (
        "подскажите пожалуйста размерная сетка соответствует?",
        PP,
        N,
    ),
    ("Какой размер взять если обычно ношу 44", PP, N),
    ("а будут ли еще такие же в розовом", PP, N),
    ("Сколько стоит доставка до Минска если закажу", PP, N),
    ("Хочу купить в подарок мужу, подойдет на 52?", PP, N),
    ("есть ли такая же но с капюшоном? очень красивая 😍", PP, P),
    ("собираюсь заказать, это оригинал?", PP, N),
    ("будет ли такая модель в 40 размере", PP, N),
    ("подскажите а на обхват груди 100 какой размер", PP, N),
    ("классная куртка, будет ли в наличии М?", PP, P),
    ("Есть ли инструкция на русском", PP, N),
    // Thanks and praise.
    ("Спасибо большое!", T, P),
    ("спасибо все пришло", T, P),
    ("Благодарю за быстрый ответ", T, P),
    ("спс", T, P),
    ("Все отлично, спасибо 👍", T, P),
    ("куртка супер, сидит идеально ❤️", T, P),
    ("Очень довольна покупкой, рекомендую", T, P),
    ("спасибооо вы лучшие", T, P),
    ("пасиба", T, P),
    ("Товар отличный, качество хорошее", T, P),
    ("благадарю за помощь", T, P),
    ("все подошло спасибо большое 🙏", T, P),
    ("ОГРОМНОЕ СПАСИБО", T, P),
    ("понравилось очень", T, P),
    ("Спасибо за подарок в посылке, приятно 😊", T, P),
    ("молодцы быстро решили вопрос", T, P),
    ("ок спасибо", T, P),
    ("Доброго дня, благодарю, все получила", T, P),
    ("шикарное платье", T, P),
    ("спасибо что заменили", T, P),
    // Other.
    ("Здравствуйте", O, N),
    ("алло", O, N),
    ("можно поговорить с менеджером", O, N),
    ("я оставила отзыв", O, N),
    ("Добрый вечер, у меня вопрос", O, N),
    ("вы мошенники", O, A),
    ("Хорошо, жду", O, N),
    ("как с вами связаться", O, N),
    ("👍", T, P),
    ("ответьте уже хоть кто-нибудь!!!", O, A),
    ("Почему удалили мой отзыв? Это беспредел", O, A),
    ("понятно", O, N),
    ("а вы производитель?", O, N),
    ("что за хамство, почему не отвечаете", O, A),
    ("Хорошо, поняла", O, N),
];

/// Written after the rules were tuned on [`TABLE`] and never tuned on: an honest sample.
const HELD_OUT: &[(&str, Intent, Tone)] = &[
    ("добрый день как оформить возврат через приложение", R, N),
    (
        "Деньги за возврат до сих пор не поступили, прошло 10 дней",
        R,
        N,
    ),
    ("верните мои деньги вы воры", R, A),
    ("можно ли вернуть товар без упаковки", R, N),
    ("хочу вернуть платье оно не понравилось совсем", R, N),
    ("Отдали в пвз на возврат а деньги где??", R, N),
    ("пылесос перестал работать через неделю", D, N),
    ("На футболке дырка, это вообще нормально???", D, N),
    ("Ножка стула треснула при сборке", D, N),
    ("Пришла помятая коробка и разбитый флакон духов", D, N),
    ("часы не работают, батарейка новая", D, N),
    ("ОТВРАТИТЕЛЬНОЕ КАЧЕСТВО ВСЕ РАЗВАЛИЛОСЬ", D, A),
    ("Прислали размер L вместо M", W, N),
    ("туфли малы на полразмера", W, N),
    ("Цвет совсем другой чем на фото", W, N),
    ("пришла не та модель телефона", W, N),
    ("шапка маленькая на ребенка 5 лет не налезла", W, N),
    ("в наборе не хватает двух кистей", W, N),
    ("когда доставят мой заказ", DL, N),
    ("Заказ уже 2 недели в пути, где он?", DL, N),
    ("Трек не работает, где посылка", DL, N),
    ("почему так долго доставка??? уже 3 недели жду", DL, A),
    ("Можно забрать заказ в другом пункте выдачи?", DL, N),
    ("когда поступит в продажу синий цвет", PP, N),
    ("Здравствуйте, а размер 50 есть?", PP, N),
    ("Подскажите, этот крем подойдет для сухой кожи?", PP, N),
    ("идет в размер? обычно ношу S", PP, N),
    ("есть ли доставка в Беларусь", PP, N),
    ("Какой размер посоветуете при росте 182?", PP, N),
    ("Спасибо огромное, все пришло целое и быстро", T, P),
    ("благодарю, очень красиво", T, P),
    ("Супер! Буду заказывать еще", T, P),
    ("спасибо за оперативность 🌹", T, P),
    ("всё супер, муж доволен", T, P),
    ("добрый день", O, N),
    ("вы вообще отвечаете покупателям или нет", O, N),
    ("Ваш магазин полный отстой", O, A),
    ("хорошо, буду ждать ответа", O, N),
    ("Я отправила фото, посмотрите", O, N),
    ("какого черта вы молчите", O, A),
];

fn prf(labels: &[(usize, usize)], class: usize) -> (usize, usize, f64, f64) {
    let tp = labels
        .iter()
        .filter(|&&(e, g)| e == class && g == class)
        .count();
    let expected = labels.iter().filter(|&&(e, _)| e == class).count();
    let got = labels.iter().filter(|&&(_, g)| g == class).count();
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    (expected, got, ratio(tp, got), ratio(tp, expected))
}

#[test]
fn labelled_table() {
    let mut intents = Vec::new();
    let mut tones = Vec::new();
    let mut held_right = 0;
    for (row, &(text, want_intent, want_tone)) in TABLE.iter().chain(HELD_OUT).enumerate() {
        let c = classify(text);
        intents.push((want_intent as usize, c.intent as usize));
        tones.push((want_tone as usize, c.tone as usize));
        let right = c.intent == want_intent && c.tone == want_tone;
        if row >= TABLE.len() && right {
            held_right += 1;
        }
        if !right {
            let fired: Vec<_> = c.reasons.iter().map(|r| r.rule).collect();
            println!(
                "  wrong: {text:?}: want {}/{}, got {}/{} ({fired:?})",
                want_intent.as_str(),
                want_tone.as_str(),
                c.intent.as_str(),
                c.tone.as_str()
            );
        }
    }
    let accuracy =
        |v: &[(usize, usize)]| v.iter().filter(|(e, g)| e == g).count() as f64 / v.len() as f64;
    let (ia, ta) = (accuracy(&intents), accuracy(&tones));
    println!(
        "triage table: {} rows ({} tuned on, {} held out; held-out rows fully right: {held_right}); \
         intent accuracy {ia:.3}, tone accuracy {ta:.3}",
        TABLE.len() + HELD_OUT.len(),
        TABLE.len(),
        HELD_OUT.len()
    );
    println!(
        "  {:<20} {:>5} {:>5} {:>9} {:>7}",
        "class", "n", "pred", "precision", "recall"
    );
    let mut low_recall = Vec::new();
    for &i in Intent::ALL {
        let (n, got, p, r) = prf(&intents, i as usize);
        println!("  {:<20} {n:>5} {got:>5} {p:>9.3} {r:>7.3}", i.as_str());
        assert!(n > 0, "no row for intent {}", i.as_str());
        if r < 0.7 {
            low_recall.push(i.as_str());
        }
    }
    for &t in Tone::ALL {
        let (n, got, p, r) = prf(&tones, t as usize);
        println!("  {:<20} {n:>5} {got:>5} {p:>9.3} {r:>7.3}", t.as_str());
        assert!(n > 0, "no row for tone {}", t.as_str());
        if r < 0.7 {
            low_recall.push(t.as_str());
        }
    }
    assert!(
        TABLE.len() + HELD_OUT.len() >= 150,
        "the table needs at least 150 rows"
    );
    assert!(ia >= 0.9, "intent accuracy {ia:.3} < 0.9");
    assert!(ta >= 0.9, "tone accuracy {ta:.3} < 0.9");
    assert!(low_recall.is_empty(), "recall < 0.7 for {low_recall:?}");
}

#[test]
fn normalize_lowercases_strips_and_squeezes() {
    assert_eq!(
        normalize("  Ещё РАЗ!!! Где заказ?? 😡😡 "),
        "еще раз где заказ"
    );
    assert_eq!(normalize("спасибооооо"), "спасибо");
    assert_eq!(normalize("ужасссс!!!"), "ужас");
    // Two identical letters are legitimate («класс», «ванна»); digits are never squeezed.
    assert_eq!(normalize("Класс, заказ 1110002"), "класс заказ 1110002");
    // A decomposed «ё» and a stress mark stay inside the word.
    assert_eq!(normalize("е\u{0308}лка прише\u{0301}л"), "елка пришел");
    assert_eq!(normalize("трек-номер:123"), "трек номер 123");
    assert_eq!(normalize("!!! ??? 👍"), "");
    assert_eq!(normalize(""), "");
}

#[test]
fn reasons_name_the_rule_and_the_words() {
    let c = classify("Пришёл БРАК, верните деньги!!!");
    assert_eq!(c.intent, Intent::ReturnRefund);
    assert_eq!(c.tone, Tone::Angry);
    let rules: Vec<_> = c.reasons.iter().map(|r| r.rule).collect();
    for rule in [
        "return_verb",
        "defect_brak",
        "anger_give_money_back",
        "anger_exclamations",
    ] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
    let brak = c
        .reasons
        .iter()
        .find(|r| r.rule == "defect_brak")
        .expect("defect_brak");
    assert_eq!(brak.matched, "брак");
    assert!(brak.explanation.contains("брак"));
    let other = classify("алло");
    assert_eq!(other.intent, Intent::Other);
    assert_eq!(other.reasons[0].rule, "intent_other");
}

#[test]
fn thanks_is_politeness_unless_alone() {
    let c = classify("подскажите есть ли 46 размер, спасибо");
    assert_eq!((c.intent, c.tone), (Intent::PrePurchase, Tone::Neutral));
    let c = classify("брак, спасибо за такое качество");
    assert_eq!(c.intent, Intent::DefectDamage);
    assert_ne!(c.tone, Tone::Positive);
    assert_eq!(classify("спасибо").intent, Intent::Thanks);
}

#[test]
fn priority_rules() {
    use Priority::{High, Normal, Urgent};
    let cases = [
        (
            Intent::Thanks,
            Tone::Positive,
            true,
            Urgent,
            "priority_wb_negative_review",
        ),
        (
            Intent::Other,
            Tone::Neutral,
            true,
            Urgent,
            "priority_wb_negative_review",
        ),
        (
            Intent::ReturnRefund,
            Tone::Neutral,
            false,
            Urgent,
            "priority_complaint",
        ),
        (
            Intent::DefectDamage,
            Tone::Neutral,
            false,
            Urgent,
            "priority_complaint",
        ),
        (
            Intent::WrongItemOrSize,
            Tone::Neutral,
            false,
            Urgent,
            "priority_complaint",
        ),
        (
            Intent::Delivery,
            Tone::Angry,
            false,
            Urgent,
            "priority_angry",
        ),
        (Intent::Other, Tone::Angry, false, Urgent, "priority_angry"),
        (
            Intent::Delivery,
            Tone::Neutral,
            false,
            High,
            "priority_order_question",
        ),
        (
            Intent::PrePurchase,
            Tone::Positive,
            false,
            High,
            "priority_order_question",
        ),
        (
            Intent::Thanks,
            Tone::Positive,
            false,
            Normal,
            "priority_normal",
        ),
        (
            Intent::Other,
            Tone::Neutral,
            false,
            Normal,
            "priority_normal",
        ),
    ];
    for (intent, tone, wb, want, rule) in cases {
        let (got, reason) = priority(intent, tone, wb);
        assert_eq!(got, want, "{intent:?} {tone:?} wb={wb}");
        assert_eq!(reason.rule, rule);
        assert!(!reason.explanation.is_empty());
    }
}

#[test]
fn sla_defaults_and_lookup() {
    let sla = Sla::default();
    assert_eq!(
        sla.for_priority(Priority::Urgent),
        Duration::from_secs(3600)
    );
    assert_eq!(
        sla.for_priority(Priority::High),
        Duration::from_secs(4 * 3600)
    );
    assert_eq!(
        sla.for_priority(Priority::Normal),
        Duration::from_secs(24 * 3600)
    );
    let custom = Sla {
        urgent: Duration::from_secs(60),
        ..Sla::default()
    };
    assert_eq!(
        custom.for_priority(Priority::Urgent),
        Duration::from_secs(60)
    );
}

#[test]
fn string_forms_are_stable() {
    let intents: Vec<_> = Intent::ALL.iter().map(|i| i.as_str()).collect();
    assert_eq!(
        intents,
        [
            "return_refund",
            "defect_damage",
            "wrong_item_or_size",
            "delivery",
            "pre_purchase",
            "thanks",
            "other"
        ]
    );
    let tones: Vec<_> = Tone::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(tones, ["angry", "neutral", "positive"]);
    let priorities: Vec<_> = Priority::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(priorities, ["urgent", "high", "normal"]);
    for &i in Intent::ALL {
        let json = serde_json::to_string(&i).expect("serialize");
        assert_eq!(json, format!("\"{}\"", i.as_str()));
    }
}
