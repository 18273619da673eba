//! Triage: what a buyer's message is about, how it sounds, and how soon it needs an answer.
//!
//! [`classify`] reads one buyer message and returns its [`Intent`], its [`Tone`] and every
//! [`Reason`] (rule, matched words, Russian explanation) so the operator sees *why* a chat was
//! put where it is. [`priority`] turns intent and tone (plus the fact that WB itself opened the
//! chat over a negative review) into a [`Priority`]; [`Sla`] maps that to a response time
//! (design §8: urgent < 1 h, high < 4 h, normal < 24 h).
//!
//! The rules are plain stems over [`normalize`]d text: lower case, `ё` → `е`, punctuation and
//! emoji replaced by spaces, runs of three or more identical letters squeezed to one
//! («спасибооо» → «спасибо»). Stems allow the usual unstressed-vowel typos («вазврат»,
//! «сламался», «дифект»). Tone also looks at the raw text: many «!», CAPS and angry emoji.
//!
//! # Judgement calls
//! * When several intents match, the highest total weight wins; ties go to the earlier intent
//!   in [`Intent::ALL`] — a request («верните деньги») beats its cause («брак»).
//! * «Спасибо» alone is politeness: it makes the intent [`Intent::Thanks`] only when nothing
//!   else matched, and the tone [`Tone::Positive`] only then (or with praise in a message that
//!   is not a complaint).
//! * A wrong item or a size that did not fit is a return in the making, so it is urgent like
//!   returns and defects; delivery and pre-purchase questions are high.
//! * `guardrails`-style labelled table in `triage/tests.rs` pins the behaviour down.

use std::sync::LazyLock;
use std::time::Duration;

use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};

/// What the buyer wants. The string forms are stable: the API and the UI use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Wants to return the item or get the money back.
    ReturnRefund,
    /// The item is broken, torn, stained, does not work.
    DefectDamage,
    /// Got a different item, colour or set, or the size did not fit.
    WrongItemOrSize,
    /// Where is the order, when will it come, tracking, pick-up point.
    Delivery,
    /// A question before buying: sizes, stock, materials.
    PrePurchase,
    /// Gratitude or praise and nothing else.
    Thanks,
    /// None of the above.
    Other,
}

impl Intent {
    /// Every intent, in precedence order (ties between matched intents go to the earlier one).
    pub const ALL: &'static [Intent] = &[
        Intent::ReturnRefund,
        Intent::DefectDamage,
        Intent::WrongItemOrSize,
        Intent::Delivery,
        Intent::PrePurchase,
        Intent::Thanks,
        Intent::Other,
    ];

    /// The stable string form (also the serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::ReturnRefund => "return_refund",
            Intent::DefectDamage => "defect_damage",
            Intent::WrongItemOrSize => "wrong_item_or_size",
            Intent::Delivery => "delivery",
            Intent::PrePurchase => "pre_purchase",
            Intent::Thanks => "thanks",
            Intent::Other => "other",
        }
    }

    /// A complaint about an item already received.
    pub fn is_complaint(self) -> bool {
        matches!(
            self,
            Intent::ReturnRefund | Intent::DefectDamage | Intent::WrongItemOrSize
        )
    }

    /// The Russian label the operator sees.
    pub fn label(self) -> &'static str {
        match self {
            Intent::ReturnRefund => "возврат или деньги",
            Intent::DefectDamage => "брак или повреждение",
            Intent::WrongItemOrSize => "не тот товар или не подошёл размер",
            Intent::Delivery => "доставка заказа",
            Intent::PrePurchase => "вопрос до покупки",
            Intent::Thanks => "благодарность",
            Intent::Other => "прочее",
        }
    }
}

/// How the message sounds. The string forms are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    /// Angry or bitter: insults, threats, «обман», many «!», CAPS.
    Angry,
    /// Matter-of-fact.
    Neutral,
    /// Grateful or pleased.
    Positive,
}

impl Tone {
    /// The Russian label the operator sees.
    pub fn label(self) -> &'static str {
        match self {
            Tone::Angry => "раздражён",
            Tone::Neutral => "нейтрально",
            Tone::Positive => "доброжелательно",
        }
    }

    /// Every tone, in declaration order.
    pub const ALL: &'static [Tone] = &[Tone::Angry, Tone::Neutral, Tone::Positive];

    /// The stable string form (also the serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Angry => "angry",
            Tone::Neutral => "neutral",
            Tone::Positive => "positive",
        }
    }
}

/// How soon a chat needs an answer. The string forms are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Within an hour.
    Urgent,
    /// Within four hours.
    High,
    /// Within a day.
    Normal,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: &'static [Priority] = &[Priority::Urgent, Priority::High, Priority::Normal];

    /// The stable string form (also the serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::High => "high",
            Priority::Normal => "normal",
        }
    }
}

/// Why a rule fired: its stable id, the words it matched (normalised) and a Russian
/// explanation for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub rule: &'static str,
    pub matched: String,
    pub explanation: String,
}

/// The result of [`classify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub intent: Intent,
    pub tone: Tone,
    /// Every rule that fired, intent rules first, then tone.
    pub reasons: Vec<Reason>,
}

/// Response times per priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sla {
    pub urgent: Duration,
    pub high: Duration,
    pub normal: Duration,
}

impl Default for Sla {
    /// Design §8: 1 h, 4 h, 24 h.
    fn default() -> Self {
        Sla {
            urgent: Duration::from_secs(3600),
            high: Duration::from_secs(4 * 3600),
            normal: Duration::from_secs(24 * 3600),
        }
    }
}

impl Sla {
    /// The response time for `priority`.
    pub fn for_priority(&self, priority: Priority) -> Duration {
        match priority {
            Priority::Urgent => self.urgent,
            Priority::High => self.high,
            Priority::Normal => self.normal,
        }
    }
}

/// Lower-cases, maps `ё` → `е`, drops stress marks, replaces everything that is not a letter
/// or digit by one space, squeezes runs of 3+ identical letters to one and trims.
pub fn normalize(text: &str) -> String {
    let mut chars: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            // Combining stress mark and diaeresis (a decomposed «ё»): part of the word.
            '\u{0301}' | '\u{0308}' => continue,
            'ё' => chars.push('е'),
            c if c.is_alphanumeric() => chars.push(c),
            _ => {
                if chars.last().is_some_and(|&l| l != ' ') {
                    chars.push(' ');
                }
            }
        }
    }
    while chars.last() == Some(&' ') {
        chars.pop();
    }
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let run = j - i;
        let keep = if run >= 3 && c.is_alphabetic() {
            1
        } else {
            run
        };
        out.extend(std::iter::repeat_n(c, keep));
        i = j;
    }
    out
}

#[derive(Clone, Copy)]
enum Target {
    Intent(Intent),
    /// Anger, with weight; a total of [`ANGER_THRESHOLD`] makes the tone angry.
    Anger,
    /// Praise: counts for [`Intent::Thanks`] and for a positive tone.
    Praise,
}

struct Rule {
    id: &'static str,
    target: Target,
    weight: u32,
    pattern: &'static str,
    explanation: &'static str,
}

const ANGER_THRESHOLD: u32 = 2;

use Intent::{DefectDamage, Delivery, PrePurchase, ReturnRefund, Thanks, WrongItemOrSize};

const fn intent(
    id: &'static str,
    i: Intent,
    weight: u32,
    pattern: &'static str,
    explanation: &'static str,
) -> Rule {
    Rule {
        id,
        target: Target::Intent(i),
        weight,
        pattern,
        explanation,
    }
}

const fn anger(
    id: &'static str,
    weight: u32,
    pattern: &'static str,
    explanation: &'static str,
) -> Rule {
    Rule {
        id,
        target: Target::Anger,
        weight,
        pattern,
        explanation,
    }
}

/// Patterns run over [`normalize`]d text; `\b` is a Unicode word boundary.
const RULES: &[Rule] = &[
    // Returns and refunds.
    intent(
        "return_stem",
        ReturnRefund,
        3,
        r"\bв[оа]з?в?рат",
        "слово «возврат»",
    ),
    intent(
        "return_verb",
        ReturnRefund,
        3,
        r"\bв[еы]рн[уие]",
        "просьба вернуть товар или деньги",
    ),
    intent(
        "return_money",
        ReturnRefund,
        2,
        r"\b(?:деньг|денег|деньж|средств)",
        "речь о деньгах",
    ),
    intent(
        "return_compensation",
        ReturnRefund,
        3,
        r"\b(?:возмест|компенсац|компенсир)",
        "просьба о компенсации",
    ),
    intent(
        "return_hand_back",
        ReturnRefund,
        3,
        r"\b(?:сдать обратно|сдать товар|хочу сдать|отказ[а-я]* от товар|оформить отказ)",
        "хочет сдать товар",
    ),
    intent(
        "return_refund_en",
        ReturnRefund,
        3,
        r"\brefund",
        "слово «refund»",
    ),
    // Defects and damage.
    intent("defect_brak", DefectDamage, 3, r"\bбрак", "слово «брак»"),
    intent(
        "defect_word",
        DefectDamage,
        3,
        r"\bд[еи]фф?ект",
        "слово «дефект»",
    ),
    intent(
        "defect_broken",
        DefectDamage,
        3,
        r"\b(?:с?л[оа]ма|полом|разбит|разбил|тресн|трещин|раскол)",
        "сломано или разбито",
    ),
    intent(
        "defect_torn",
        DefectDamage,
        3,
        r"\b(?:п[оа]рва|рван|разорва|дыр|оторва|отвал|отклеи|расп[оа]рол|расходит[а-я]* шов|ш[оа]в[ыа]? расход)",
        "порвано, дырка, отклеилось",
    ),
    intent(
        "defect_not_working",
        DefectDamage,
        3,
        r"\b(?:не ?работ|не ?включ|не ?заряж|не ?греет|не ?крутит|не ?горит|не ?светит|перестал[а-я]* работ)",
        "не работает",
    ),
    intent(
        "defect_damaged",
        DefectDamage,
        3,
        r"\b(?:повре[жд]|помят|мят[аыо][яйе]|вмятин|царап|поцарап|пятн|испорч|гнил|протек|тека?ет|линя|полиня|облез|катышк|слома)",
        "повреждение, пятна, царапины",
    ),
    intent(
        "defect_smell",
        DefectDamage,
        2,
        r"\b(?:воня|вонь|запах хим|ужасн[а-я]* запах)",
        "неприятный запах",
    ),
    // Wrong item, wrong size.
    intent(
        "wrong_not_that",
        WrongItemOrSize,
        3,
        r"\bне (?:на |для |от |к |из |в )?(?:тот|та|то|те|того|той|ту)\b",
        "«не тот/не та»",
    ),
    intent(
        "wrong_did_not_fit",
        WrongItemOrSize,
        3,
        r"\bне ?(?:под[оа]ш|подход|подх[оа]д|влез|налез|сход[ия]т[а-я]* на)",
        "не подошло",
    ),
    intent(
        "wrong_mixed_up",
        WrongItemOrSize,
        3,
        r"\b(?:перепута|прислали друг|пришел друг|пришла друг|пришло друг|пришли друг|друг[а-я]* цвет|друг[а-я]* модел|друг[а-я]* размер|вместо|не соответств|не совпада|некомплект|не ?полн[а-я]* комплект|не хвата|нет в комплекте)",
        "прислали другое или неполный комплект",
    ),
    intent(
        "wrong_ordered_got",
        WrongItemOrSize,
        3,
        r"\bзаказыва[а-я]*\b.*\bприш(?:ел|ла|ло|ли)\b",
        "«заказывала одно, пришло другое»",
    ),
    intent(
        "wrong_size_off",
        WrongItemOrSize,
        3,
        r"\b(?:мал[аоы]?|маловат[а-я]*|велик[аои]?|великоват[а-я]*|маломерит|большемерит|мало мерит|больше мерит|жмет|жмут|тесн[а-я]*|широк[а-я]?|узк[а-я]*|короткие|длинн[а-я]*)\b",
        "размер мал или велик",
    ),
    // Delivery.
    intent(
        "delivery_where",
        Delivery,
        3,
        r"\bгде (?:мой |моя |мои |же |сейчас )?(?:заказ|посылк|товар|покупк)",
        "«где заказ»",
    ),
    intent(
        "delivery_when",
        Delivery,
        3,
        r"\bкогда (?:же )?(?:будет |придет |приедет |привезут |доставят |)?(?:доставк|дост[оа]в|прид|приед|привез|получ|заказ|посылк|отправ)",
        "«когда доставка»",
    ),
    intent(
        "delivery_word",
        Delivery,
        2,
        r"\b(?:д[оа]ставк|д[оа]ставл|д[оа]ставят|курьер|пвз|пункт[а-я]* выдач|постамат|сортиров|отслеж|трек|статус заказ|задерж|опазд|в пути|не привез|не пришел|не пришла|не пришло|не доставил|не получил|до сих пор нет|не приехал|не приш[ео]л)",
        "доставка, трек, пункт выдачи",
    ),
    intent("delivery_cancel", Delivery, 2, r"\bотмен", "отмена заказа"),
    // Before the purchase.
    intent(
        "pre_is_there",
        PrePurchase,
        3,
        r"\b(?:есть ли|а есть|будет ли|будут ли|есть в наличии|в наличии|поступ|подойдет ли|подойдет на|подойдут ли|стоит ли брать|брать ли|какой брать|какой размер|какую брать|каком размере|размерн[а-я]* сетк|на рост|на какой рост|на обхват|какой состав|из чего|из какого|какая длина|какой материал|сколько стоит|хочу заказать|хочу купить|планирую|собираюсь заказать|перед покупк|до покупк|если закажу|можно ли заказать)",
        "вопрос до покупки",
    ),
    intent(
        "pre_fits_true",
        PrePurchase,
        4,
        r"\b(?:(?:маломерит|большемерит|мерит) или|или (?:в размер|маломерит|большемерит)|в размер ли|ид(?:е|у)т в размер|соответству[а-я]* размер[а-я]* ли)",
        "вопрос, идёт ли в размер",
    ),
    intent(
        "pre_ask",
        PrePurchase,
        1,
        r"\b(?:подскаж|посоветуй|подсказ)",
        "просьба подсказать",
    ),
    // Thanks and praise.
    intent(
        "thanks_word",
        Thanks,
        1,
        r"\b(?:сп[ао]?сиб|спс|пасиб|спасибки|бл[ао]г[оа]дар|сенкс|thank)",
        "слово «спасибо»",
    ),
    Rule {
        id: "praise_word",
        target: Target::Praise,
        weight: 1,
        pattern: r"\b(?:отличн|супер|класс|прекрасн|чудесн|восторг|понрав|нравит|доволен|довольна|довольны|рекомендую|качество хорош|хорош[а-я]* качеств|все пришло|все подошло|подошло идеально|сел[ао]? идеально|идеальн|шикарн|бомба|огонь|молодцы|лучши[ей]|люблю|кайф)",
        explanation: "похвала товару или продавцу",
    },
    // Anger.
    anger(
        "anger_strong",
        2,
        r"\b(?:ужас|кошмар|обман|обманщик|мошенни|развод|разводил|позор|отврат|безобраз|издева|хамств|хамы|беспредел|бесит|достали|задолбал|сколько можно|никогда больше|больше никогда|не рекомендую|не советую|пожалуюсь|жалоб|роспотреб|в суд|прокуратур|полици|претензи|воры|ворье|украли|кидал|лохотрон|халтур|гадост|днище|отстой|говн|г[ао]вн|дерьм|хрень|фигня|херн|бля|блин|пипец|капец|жесть|наглост|наглые|стыдно|стыд)",
        "резкие слова, угрозы жалобой",
    ),
    anger(
        "anger_insult",
        2,
        r"\b(?:идиот|дебил|тупы[ех]|тупые|урод|твар|козл|сволоч|скотин|дураки|придурк|криворук|бездар|поганц|сук[аи])",
        "оскорбление",
    ),
    anger(
        "anger_give_money_back",
        2,
        r"\bверн[иу]те (?:мои |мне |)?деньг",
        "«верните деньги»",
    ),
    anger(
        "anger_upset",
        1,
        r"\b(?:разочарова|возмущ|возмутительн|недовол|в шоке|зла не хватает|нет слов|отвратительн|кошмарн|очень плох|плохое качеств|как так|да вы что|что за|деньги на ветер|выброшен[а-я]* деньг)",
        "недовольство",
    ),
];

/// A prefilter: every rule's pattern without its word boundaries, in one set. Unicode `\b`
/// keeps the regex engine off its fastest path, and a set without it tells in one pass which
/// rules *may* match (dropping `\b` only widens a pattern); only those run their exact regex.
static PREFILTER: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(RULES.iter().map(|r| r.pattern.replace(r"\b", "")))
        .expect("triage rule patterns are valid without word boundaries")
});

static COMPILED: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    RULES
        .iter()
        .map(|r| Regex::new(r.pattern).expect("triage rule pattern is valid"))
        .collect()
});

/// Abbreviations written in capitals that are not shouting.
const CAPS_OK: &[&str] = &[
    "WB", "ПВЗ", "СДЭК", "СДЕК", "XL", "XXL", "XXXL", "XS", "ООО", "ИП", "РФ", "СЦ", "ВБ", "OZON",
    "USB", "LED", "HDMI",
];

const ANGRY_EMOJI: &[char] = &['😡', '🤬', '😠', '👿', '💩', '🤮', '🖕', '👎'];
const HAPPY_EMOJI: &[char] = &[
    '❤', '😍', '🥰', '👍', '🙏', '😊', '☺', '💕', '💖', '🔥', '🤗', '⭐', '😘', '💐', '🌹', '😀',
    '😃', '🙂', '👏', '💯', '🤩',
];

/// Classifies one buyer message. Pure and deterministic.
pub fn classify(text: &str) -> Classification {
    let norm = normalize(text);
    let mut scores = [0u32; 7];
    let mut anger = 0u32;
    let mut praise = 0u32;
    let mut intent_reasons = Vec::new();
    let mut tone_reasons = Vec::new();

    for i in PREFILTER.matches(&norm).iter() {
        let (Some(rule), Some(re)) = (RULES.get(i), COMPILED.get(i)) else {
            continue;
        };
        let Some(m) = re.find(&norm) else { continue };
        let reason = |what: String| Reason {
            rule: rule.id,
            matched: m.as_str().to_owned(),
            explanation: what,
        };
        match rule.target {
            Target::Intent(i) => {
                scores[i as usize] += rule.weight;
                intent_reasons.push(reason(format!("{} → {}", rule.explanation, i.label())));
            }
            Target::Praise => {
                praise += rule.weight;
                scores[Intent::Thanks as usize] += rule.weight;
                intent_reasons.push(reason(format!("{} → благодарность", rule.explanation)));
            }
            Target::Anger => {
                anger += rule.weight;
                tone_reasons.push(reason(format!("{} → раздражение", rule.explanation)));
            }
        }
    }

    // Tone signals from the raw text.
    let (bangs, longest_bang_run) = exclamations(text);
    if longest_bang_run >= 3 || bangs >= 4 {
        anger += 2;
        tone_reasons.push(Reason {
            rule: "anger_exclamations",
            matched: "!".repeat(longest_bang_run.max(bangs).min(10)),
            explanation: format!("много восклицательных знаков ({bangs}) → раздражение"),
        });
    } else if longest_bang_run == 2 {
        anger += 1;
        tone_reasons.push(Reason {
            rule: "anger_exclamations",
            matched: "!!".to_owned(),
            explanation: "двойной восклицательный знак → возможное раздражение".to_owned(),
        });
    }
    // CAPS in a message that only thanks («ОГРОМНОЕ СПАСИБО») is emphasis, not shouting.
    let only_thanks = scores[Intent::Thanks as usize] > 0
        && Intent::ALL
            .iter()
            .filter(|&&i| i != Intent::Thanks && i != Intent::Other)
            .all(|&i| scores[i as usize] == 0);
    if let Some(caps) = shouting(text).filter(|_| !only_thanks) {
        anger += 2;
        tone_reasons.push(Reason {
            rule: "anger_caps",
            matched: caps,
            explanation: "текст написан КАПСОМ → раздражение".to_owned(),
        });
    }
    let angry_emoji: String = text.chars().filter(|c| ANGRY_EMOJI.contains(c)).collect();
    if !angry_emoji.is_empty() {
        anger += 2;
        tone_reasons.push(Reason {
            rule: "anger_emoji",
            matched: angry_emoji,
            explanation: "злые эмодзи → раздражение".to_owned(),
        });
    }
    let happy_emoji: String = text.chars().filter(|c| HAPPY_EMOJI.contains(c)).collect();
    if !happy_emoji.is_empty() {
        praise += 1;
        scores[Intent::Thanks as usize] += 1;
        intent_reasons.push(Reason {
            rule: "praise_emoji",
            matched: happy_emoji,
            explanation: "добрые эмодзи → благодарность".to_owned(),
        });
    }

    // The best intent; ties go to the earlier one. Thanks needs nothing else to have matched.
    let mut intent = Intent::Other;
    let mut best = 0;
    for &i in Intent::ALL {
        let s = scores[i as usize];
        if i == Intent::Thanks && best > 0 {
            continue;
        }
        if s > best {
            best = s;
            intent = i;
        }
    }
    if intent == Intent::Other {
        intent_reasons.push(Reason {
            rule: "intent_other",
            matched: String::new(),
            explanation: "ни одно правило темы не сработало → прочее".to_owned(),
        });
    }

    let tone = if anger >= ANGER_THRESHOLD {
        Tone::Angry
    } else if intent == Intent::Thanks || (praise > 0 && !intent.is_complaint()) {
        tone_reasons.push(Reason {
            rule: "tone_positive",
            matched: String::new(),
            explanation: if intent == Intent::Thanks {
                "благодарность без жалоб → доброжелательный тон".to_owned()
            } else {
                "похвала без жалоб → доброжелательный тон".to_owned()
            },
        });
        Tone::Positive
    } else {
        Tone::Neutral
    };

    let mut reasons = intent_reasons;
    reasons.append(&mut tone_reasons);
    Classification {
        intent,
        tone,
        reasons,
    }
}

/// Total `!` (full-width too) and the longest run of them, ignoring spaces between.
fn exclamations(text: &str) -> (usize, usize) {
    let (mut total, mut run, mut longest) = (0, 0, 0);
    for c in text.chars() {
        match c {
            '!' | '！' | '❗' | '‼' => {
                let n = if c == '‼' { 2 } else { 1 };
                total += n;
                run += n;
                longest = longest.max(run);
            }
            '?' | ' ' | '1' if run > 0 => {}
            _ => run = 0,
        }
    }
    (total, longest)
}

/// Shouting: two or more CAPS words of 3+ letters (not abbreviations), or a text of 12+ letters
/// that is mostly upper case. Returns the shouted words.
fn shouting(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 3)
        .collect();
    let caps: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| w.chars().all(char::is_uppercase) && !CAPS_OK.contains(w))
        .collect();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let upper = text.chars().filter(|c| c.is_uppercase()).count();
    let mostly = letters >= 12 && upper * 10 >= letters * 7;
    if caps.len() >= 2 || (mostly && !caps.is_empty()) {
        Some(caps.join(" "))
    } else {
        None
    }
}

/// The priority of a chat and the one reason that decided it.
///
/// Urgent: WB opened the chat over a negative review, a complaint about a received item
/// (return, defect, wrong item or size) or an angry tone. High: delivery and pre-purchase
/// questions. Normal: the rest.
pub fn priority(
    intent: Intent,
    tone: Tone,
    opened_by_wb_negative_review: bool,
) -> (Priority, Reason) {
    let reason = |rule: &'static str, matched: &str, explanation: &str| Reason {
        rule,
        matched: matched.to_owned(),
        explanation: explanation.to_owned(),
    };
    if opened_by_wb_negative_review {
        return (
            Priority::Urgent,
            reason(
                "priority_wb_negative_review",
                "wb",
                "чат открыт WB по негативному отзыву → срочно (ответ в течение часа)",
            ),
        );
    }
    if intent.is_complaint() {
        return (
            Priority::Urgent,
            Reason {
                rule: "priority_complaint",
                matched: intent.as_str().to_owned(),
                explanation: format!(
                    "жалоба на полученный товар ({}) → срочно (ответ в течение часа)",
                    intent.label()
                ),
            },
        );
    }
    if tone == Tone::Angry {
        return (
            Priority::Urgent,
            reason(
                "priority_angry",
                tone.as_str(),
                "покупатель раздражён → срочно (ответ в течение часа)",
            ),
        );
    }
    if matches!(intent, Intent::Delivery | Intent::PrePurchase) {
        return (
            Priority::High,
            Reason {
                rule: "priority_order_question",
                matched: intent.as_str().to_owned(),
                explanation: format!(
                    "вопрос о заказе или до покупки ({}) → высокий (ответ в течение 4 часов)",
                    intent.label()
                ),
            },
        );
    }
    (
        Priority::Normal,
        Reason {
            rule: "priority_normal",
            matched: intent.as_str().to_owned(),
            explanation: format!(
                "{} без жалоб и раздражения → обычный (ответ в течение суток)",
                intent.label()
            ),
        },
    )
}

/// A [`Reason`] that can be stored and read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonNote {
    pub rule: String,
    pub matched: String,
    pub explanation: String,
}

impl From<Reason> for ReasonNote {
    fn from(r: Reason) -> Self {
        Self {
            rule: r.rule.to_owned(),
            matched: r.matched,
            explanation: r.explanation,
        }
    }
}

/// Why a chat has its automatic priority: the message that decided it, its classification and
/// every rule that fired (the priority rule first). Stored with the chat, shown to operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriageNote {
    pub priority: Priority,
    /// `None` for WB's own template (nothing of the buyer's to classify).
    pub intent: Option<Intent>,
    pub tone: Option<Tone>,
    /// When the deciding message was written (Unix ms).
    pub message_at_ms: Option<i64>,
    pub reasons: Vec<ReasonNote>,
}

impl TriageNote {
    /// Classifies one buyer message of a chat (WB opened it over a negative review or not).
    pub fn for_message(text: &str, at_ms: i64, opened_by_wb_negative_review: bool) -> Self {
        let c = classify(text);
        let (p, why) = priority(c.intent, c.tone, opened_by_wb_negative_review);
        let mut reasons = vec![ReasonNote::from(why)];
        reasons.extend(c.reasons.into_iter().map(ReasonNote::from));
        Self {
            priority: p,
            intent: Some(c.intent),
            tone: Some(c.tone),
            message_at_ms: Some(at_ms),
            reasons,
        }
    }

    /// WB's negative-review template, before the buyer has written.
    pub fn for_review_template(at_ms: i64) -> Self {
        Self {
            priority: Priority::Urgent,
            intent: None,
            tone: None,
            message_at_ms: Some(at_ms),
            reasons: vec![ReasonNote::from(deadline::negative_review_reason())],
        }
    }
}

pub mod deadline;

pub use deadline::{
    ChatTimes, EscalationInput, EscalationKind, EscalationPlan, ReviewWindow, Schedule, Standing,
    escalation_plan, first_escalation_at, is_negative_review_template, schedule, standing,
};

#[cfg(test)]
mod tests;
