//! Licence plates: parsing camera and app input to one canonical key, and
//! a similarity measure for low-confidence camera reads.
//!
//! A Japanese plate has four parts: the region (`品川`), the class number
//! (`300`, since 2017 possibly with letters, `30A`), one kana (`さ`, or a
//! Latin letter on some plates) and a serial of up to four digits, shown as
//! `12-34`, `・123`, `・・12` or `・・・1`. Camera and app input varies in
//! spacing, hyphens, full-width digits and the `・` padding; all of these
//! normalise to one key, `品川300さ1234` or `品川300さ・・12`.
//!
//! Anything else that is plain letters and digits (`ABC-1234`, `KA 01 AB
//! 1234`) is a generic plate whose key is its upper-case letters and digits.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

/// Why a text is not a plate. The messages never repeat the plate: plates
/// are personal data and errors end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlateError {
    #[error("plate is empty")]
    Empty,
    /// A character no plate has, at this position (counted from 1 after
    /// spaces are dropped).
    #[error("plate has an unexpected character at position {0}")]
    BadCharacter(usize),
    #[error("plate has no region name before the class number")]
    MissingRegion,
    #[error("plate has no class number after the region")]
    MissingClass,
    #[error("plate class number must be 1 to 3 characters starting with a digit")]
    BadClass,
    #[error("plate has no kana after the class number")]
    MissingKana,
    #[error("plate serial must be 1 to 4 digits (as in 12-34 or ・・12)")]
    BadSerial,
    #[error("generic plate must have 2 to 10 letters or digits")]
    BadGeneric,
}

/// A parsed licence plate.
///
/// A plate is personal data: its `Debug` output is only its
/// [`fingerprint`], so a record holding one can be logged. `Display` and
/// [`Plate::key`] give the plate itself, for storage and for the driver.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Plate {
    Japanese {
        region: String,
        class: String,
        kana: char,
        serial: u16,
    },
    Generic(String),
    /// A camera read with no usable plate text (empty, `品川 300 さ 77-O1`,
    /// a serial alone): known only by a hash of the read's own identity,
    /// so no two reads ever share it (a common misread such as empty text
    /// would otherwise gather every car that produced it), and the text
    /// itself is never kept.
    Unreadable(u64),
    /// A plate whose text was removed when its retention ended: known by
    /// a hash of the record that held it (a stay's id), so the records it
    /// left cannot be joined to each other or to the car.
    Erased(u64),
}

const DOTS: &[char] = &['・', '･', '·', '•', '.', '∙', '⋅'];
const HYPHENS: &[char] = &['-', '‐', '‑', '‒', '–', '—', '―', '−', 'ー', '－', '﹣'];
/// Latin letters used in the kana position (e.g. on US forces' vehicles).
const LATIN_KANA: &[char] = &['A', 'B', 'E', 'H', 'K', 'M', 'T', 'Y'];

fn is_kana(c: char) -> bool {
    ('\u{3041}'..='\u{3096}').contains(&c)
}

fn is_region_char(c: char) -> bool {
    // Kanji and kana, as in 品川, つくば, 尾張小牧.
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
        || ('\u{3400}'..='\u{4DBF}').contains(&c)
        || ('\u{3041}'..='\u{30FF}').contains(&c) && c != '・' && c != 'ー'
        || c == '々'
}

impl Plate {
    /// Parses a plate as read by a camera or typed in the app.
    pub fn parse(input: &str) -> Result<Plate, PlateError> {
        // NFKC folds full-width digits and letters and half-width kana.
        let folded: String = input.nfkc().collect();
        let chars: Vec<char> = folded
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .map(katakana_to_hiragana)
            .collect();
        if chars.is_empty() {
            return Err(PlateError::Empty);
        }
        if chars
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || HYPHENS.contains(c))
        {
            let key: String = chars.iter().filter(|c| c.is_ascii_alphanumeric()).collect();
            if !(2..=10).contains(&key.len()) {
                return Err(PlateError::BadGeneric);
            }
            return Ok(Plate::Generic(key));
        }
        parse_japanese(&chars)
    }

    /// The identity of a read with no usable plate text: a hash of the
    /// read's own key (device and event), so each such read stands alone.
    pub fn unreadable(read_key: &str) -> Plate {
        Plate::Unreadable(fnv(read_key))
    }

    /// What replaces a plate's text once it is no longer kept: a hash of
    /// the record (`record_key`, a stay's id) alone, never of the plate.
    pub fn erased(record_key: &str) -> Plate {
        Plate::Erased(fnv(record_key))
    }

    /// Whether this is only part of a plate: digits alone, at most four of
    /// them, is the serial of a Japanese plate read without its region,
    /// class and kana. Thousands of cars share a serial, so such a read
    /// identifies none of them.
    pub fn is_partial(&self) -> bool {
        matches!(self, Plate::Generic(k) if k.len() <= 4 && k.bytes().all(|b| b.is_ascii_digit()))
    }

    /// Whether this is a plate at all (not [`Plate::Unreadable`] nor
    /// [`Plate::Erased`]).
    pub fn is_readable(&self) -> bool {
        !matches!(self, Plate::Unreadable(_) | Plate::Erased(_))
    }

    /// The canonical key: equal for every spelling of the same plate.
    pub fn key(&self) -> String {
        self.to_string()
    }

    /// The plate's [`fingerprint`], for logs and error text.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.key())
    }

    /// The serial as four digits, as a pay kiosk asks for it (`12-34` is
    /// `1234`, `・・12` is `0012`); the last four digits of a plate of
    /// another form; `None` when there are none.
    pub fn serial_digits(&self) -> Option<String> {
        match self {
            Plate::Japanese { serial, .. } => Some(format!("{serial:04}")),
            Plate::Generic(s) => {
                let digits: Vec<char> = s.chars().filter(char::is_ascii_digit).collect();
                (!digits.is_empty()).then(|| {
                    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
                    format!("{tail:0>4}")
                })
            }
            Plate::Unreadable(_) | Plate::Erased(_) => None,
        }
    }

    /// Just enough of the plate to pick a car among those sharing its
    /// serial, as a pay kiosk shows it: the region and the serial of a
    /// Japanese plate (`品川 … 12-34`), the last two characters of another
    /// of at least five (`…C3`; nothing of a shorter one), nothing of an
    /// unreadable one.
    pub fn hint(&self) -> String {
        match self {
            Plate::Japanese { region, serial, .. } => {
                format!("{region} … {}", serial_text(*serial, true))
            }
            // Never the whole plate: its last two characters, and only
            // when it has at least five.
            Plate::Generic(s) => {
                let n = s.chars().count();
                let tail: String = s.chars().skip(n.saturating_sub(2)).collect();
                if n >= 5 {
                    format!("…{tail}")
                } else {
                    "…".to_owned()
                }
            }
            Plate::Unreadable(_) | Plate::Erased(_) => "…".to_owned(),
        }
    }

    /// The plate as printed, with spaces: `品川 300 さ 12-34`.
    pub fn display(&self) -> String {
        self.render(true)
    }

    /// The key (`printed == false`) or the printed form.
    fn render(&self, printed: bool) -> String {
        match self {
            Plate::Japanese {
                region,
                class,
                kana,
                serial,
            } => {
                let sep = if printed { " " } else { "" };
                let serial = serial_text(*serial, printed);
                format!("{region}{sep}{class}{sep}{kana}{sep}{serial}")
            }
            Plate::Generic(s) => s.clone(),
            Plate::Unreadable(h) => format!("{UNREADABLE}{h:016x}"),
            Plate::Erased(h) => format!("{ERASED}{h:016x}"),
        }
    }
}

/// FNV-1a of a text's UTF-8 bytes.
fn fnv(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// How the key of an [`Plate::Unreadable`] starts; no plate has it.
const UNREADABLE: char = '?';
/// How the key of an [`Plate::Erased`] starts; no plate has it.
const ERASED: char = '~';

/// Text folded for comparison: NFKC, upper case, hiragana, and no spaces,
/// hyphens or `・` padding.
fn fold(text: &str) -> String {
    text.nfkc()
        .filter(|c| !c.is_whitespace() && !HYPHENS.contains(c) && !DOTS.contains(c))
        .map(|c| c.to_ascii_uppercase())
        .map(katakana_to_hiragana)
        .collect()
}

/// The OCR-confusion skeleton of a plate key or of raw camera text: the
/// folded text with every character a camera confuses replaced by its
/// group's first member (`O`, `D`, `Q` → `0`; `B` → `8`; `I`, `L`, `7` →
/// `1`; …). A misread and the plate it misreads share a skeleton, so
/// candidates for a doubtful read are one index lookup away.
pub fn skeleton(text: &str) -> String {
    fold(text)
        .chars()
        .map(|c| {
            CONFUSABLE
                .iter()
                .find(|g| g.contains(&c))
                .map_or(c, |g| g[0])
        })
        .collect()
}

fn katakana_to_hiragana(c: char) -> char {
    if ('\u{30A1}'..='\u{30F6}').contains(&c) {
        char::from_u32(c as u32 - 0x60).unwrap_or(c)
    } else {
        c
    }
}

fn serial_text(serial: u16, hyphen: bool) -> String {
    match serial {
        0..=9 => format!("・・・{serial}"),
        10..=99 => format!("・・{serial}"),
        100..=999 => format!("・{serial}"),
        _ if hyphen => format!("{}-{:02}", serial / 100, serial % 100),
        _ => serial.to_string(),
    }
}

fn parse_japanese(chars: &[char]) -> Result<Plate, PlateError> {
    let mut i = 0;
    while i < chars.len() && is_region_char(chars[i]) {
        i += 1;
    }
    if i == 0 {
        return match chars[0] {
            c if c.is_ascii_digit() => Err(PlateError::MissingRegion),
            _ => Err(PlateError::BadCharacter(1)),
        };
    }
    let region: String = chars[..i].iter().collect();
    let rest = &chars[i..];
    let class_len = rest
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if class_len == 0 {
        return match rest.first() {
            None => Err(PlateError::MissingClass),
            Some(_) => Err(PlateError::BadCharacter(i + 1)),
        };
    }
    // The class is up to three characters; a Latin kana may follow it
    // directly (`300Y1234`), so take the kana from the alphanumeric run
    // when no hiragana follows.
    let (class, kana, after): (String, char, &[char]) = match rest.get(class_len) {
        Some(&k) if is_kana(k) => (
            rest[..class_len].iter().collect(),
            k,
            &rest[class_len + 1..],
        ),
        _ => {
            let run = &rest[..class_len];
            let Some(pos) = run
                .iter()
                .enumerate()
                .skip(1)
                .find(|(_, c)| LATIN_KANA.contains(c))
                .map(|(p, _)| p)
                .filter(|&p| p <= 3 && run[..p].iter().all(char::is_ascii_digit))
            else {
                return Err(PlateError::MissingKana);
            };
            (run[..pos].iter().collect(), run[pos], &rest[pos + 1..])
        }
    };
    let mut cs = class.chars();
    if class.chars().count() > 3 || !cs.next().is_some_and(|c| c.is_ascii_digit()) {
        return Err(PlateError::BadClass);
    }
    let mut digits = String::new();
    for &c in after {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if DOTS.contains(&c) || HYPHENS.contains(&c) {
            continue;
        } else {
            return Err(PlateError::BadSerial);
        }
    }
    if digits.is_empty() || digits.len() > 4 {
        return Err(PlateError::BadSerial);
    }
    let serial: u16 = digits.parse().map_err(|_| PlateError::BadSerial)?;
    if serial == 0 {
        return Err(PlateError::BadSerial);
    }
    Ok(Plate::Japanese {
        region,
        class,
        kana,
        serial,
    })
}

impl fmt::Debug for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plate({})", self.fingerprint())
    }
}

/// A short, stable stand-in for a plate key in logs and error text
/// (`plate:4f3c9a1e`): equal plates share it, and it does not show the
/// plate. (FNV-1a, 32 bits: for telling log lines apart, not a secret.)
pub fn fingerprint(key: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in key.as_bytes() {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("plate:{h:08x}")
}

impl fmt::Display for Plate {
    /// The canonical key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl Serialize for Plate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key())
    }
}

impl<'de> Deserialize<'de> for Plate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if let Some(hex) = s.strip_prefix(UNREADABLE) {
            return u64::from_str_radix(hex, 16)
                .map(Plate::Unreadable)
                .map_err(|_| {
                    serde::de::Error::custom("unreadable plate key is not 16 hex digits")
                });
        }
        if let Some(hex) = s.strip_prefix(ERASED) {
            return u64::from_str_radix(hex, 16)
                .map(Plate::Erased)
                .map_err(|_| serde::de::Error::custom("erased plate key is not 16 hex digits"));
        }
        Plate::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Groups of characters that cameras confuse with each other.
const CONFUSABLE: &[&[char]] = &[
    &['0', 'O', 'D', 'Q'],
    &['8', 'B'],
    &['1', 'I', 'L', '7'],
    &['2', 'Z'],
    &['5', 'S'],
    &['6', 'G'],
];

/// What substituting one character for another costs in [`similarity`].
const CONFUSION_COST: f64 = 0.25;

fn substitution_cost(a: char, b: char) -> f64 {
    if a == b {
        0.0
    } else if CONFUSABLE.iter().any(|g| g.contains(&a) && g.contains(&b)) {
        CONFUSION_COST
    } else {
        1.0
    }
}

/// How alike two plate keys are, from 0.0 (nothing in common) to 1.0
/// (equal): one minus an edit distance, normalised by the longer key, in
/// which swapping characters a camera commonly confuses (0/O/D, 8/B,
/// 1/I/L, 2/Z, 5/S) costs a quarter of any other edit.
pub fn similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    let mut prev: Vec<f64> = (0..=b.len()).map(|j| j as f64).collect();
    let mut cur = vec![0.0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = (i + 1) as f64;
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + substitution_cost(ca, cb))
                .min(prev[j + 1] + 1.0)
                .min(cur[j] + 1.0);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    1.0 - prev[b.len()] / longest as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> String {
        match Plate::parse(s) {
            Ok(p) => p.key(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn an_erased_plate_keeps_no_text_and_reads_back() {
        let e = Plate::erased("s-123");
        assert_ne!(e, Plate::erased("s-124"), "each record its own");
        assert!(!e.is_readable());
        assert_eq!((e.hint(), e.serial_digits()), ("…".to_owned(), None));
        let json = serde_json::to_string(&e).expect("json");
        assert!(json.starts_with("\"~"), "{json}");
        assert_eq!(serde_json::from_str::<Plate>(&json).expect("back"), e);
        assert_ne!(Plate::unreadable("s-123"), e, "never an unreadable read");
    }

    #[test]
    fn a_hint_shows_the_region_and_serial_only() {
        let p = |s: &str| Plate::parse(s).expect("plate");
        assert_eq!(p("品川 300 さ 12-34").hint(), "品川 … 12-34");
        assert_eq!(p("品川 300 さ ・・12").hint(), "品川 … ・・12");
        assert_eq!(Plate::unreadable("r").hint(), "…");
        assert_eq!(p("A1B2C3").hint(), "…C3");
        assert_eq!(p("AB12").hint(), "…", "a short plate shows nothing");
    }

    #[test]
    fn misreads_share_a_skeleton_with_the_plate() {
        let plate = key("品川 300 さ 77-01");
        assert_eq!(skeleton("品川 300 さ 77-O1"), skeleton(&plate));
        assert_eq!(skeleton("ABC-1234"), skeleton("A8C1234"));
        assert!(
            Plate::parse("品川 300 さ 77-O1").is_err(),
            "a letter O in the serial"
        );
        assert_ne!(skeleton("品川300さ7701"), skeleton("品川300さ7702"));
    }

    #[test]
    fn an_unreadable_read_is_known_by_a_hash_of_the_read_that_round_trips() {
        let a = Plate::unreadable("cam-1/e-1");
        assert_eq!(a, Plate::unreadable("cam-1/e-1"));
        assert_ne!(a, Plate::unreadable("cam-1/e-2"));
        assert_ne!(a, Plate::unreadable("cam-2/e-1"));
        assert!(!a.is_readable());
        let json = serde_json::to_string(&a).expect("serialize");
        assert!(!json.contains("77"), "{json}");
        assert_eq!(serde_json::from_str::<Plate>(&json).expect("parse"), a);
        assert!(
            Plate::parse(&a.key()).is_err(),
            "no typed text makes an unreadable plate"
        );
    }

    #[test]
    fn a_serial_alone_is_partial_and_a_whole_plate_is_not() {
        for partial in ["12-34", "・・12", "7701", "1"] {
            if let Ok(p) = Plate::parse(partial) {
                assert!(p.is_partial(), "{partial}");
            }
        }
        for whole in ["品川 300 さ 12-34", "ABC-1234", "KA01AB1234", "12345"] {
            assert!(!Plate::parse(whole).expect("plate").is_partial(), "{whole}");
        }
    }

    #[test]
    fn japanese_spellings_share_one_key() {
        let k = "品川300さ1234";
        for s in [
            "品川 300 さ 12-34",
            "品川300さ1234",
            "品川３００さ１２－３４",
            "  品川　300　さ　12ー34 ",
            "品川 300 サ 12‐34",
        ] {
            assert_eq!(key(s), k, "{s}");
        }
        assert_eq!(key("品川 500 あ ・・12"), "品川500あ・・12");
        assert_eq!(key("品川500あ12"), "品川500あ・・12");
        assert_eq!(key("品川 500 あ ･･12"), "品川500あ・・12");
        assert_eq!(key("尾張小牧 30A ね ・123"), "尾張小牧30Aね・123");
        assert_eq!(key("沖縄 300 Y 1-23"), "沖縄300Y・123");
        let p = Plate::parse("品川３００さ１２－３４").ok();
        assert_eq!(p.map(|p| p.display()).as_deref(), Some("品川 300 さ 12-34"));
    }

    #[test]
    fn debug_and_errors_never_show_the_plate() {
        let p = Plate::parse("品川 300 さ 12-34").expect("plate");
        let debug = format!("{p:?}");
        assert!(
            !debug.contains("品川") && !debug.contains("1234"),
            "{debug}"
        );
        assert_eq!(debug, format!("Plate({})", fingerprint("品川300さ1234")));
        for bad in ["品川 300 さ 12345", "品川 3000 さ 1234", "X", "品川"] {
            let e = Plate::parse(bad).map(|_| ()).map_err(|e| e.to_string());
            let text = format!("{e:?}");
            assert!(!text.contains("品川") && !text.contains("123"), "{text}");
        }
    }

    #[test]
    fn generic_plates_keep_letters_and_digits() {
        assert_eq!(key("abc-1234"), "ABC1234");
        assert_eq!(key("KA 01 AB 1234"), "KA01AB1234");
        assert_eq!(key("ＡＢＣ１２３"), "ABC123");
    }

    #[test]
    fn bad_plates_say_what_is_wrong() {
        assert_eq!(key("  "), "error: plate is empty");
        assert_eq!(
            key("品川 300 12-34"),
            "error: plate has no kana after the class number"
        );
        assert_eq!(
            key("品川 300 さ 12345"),
            "error: plate serial must be 1 to 4 digits (as in 12-34 or ・・12)"
        );
        assert_eq!(
            key("品川 さ 1234"),
            "error: plate has no kana after the class number"
        );
        assert_eq!(
            key("品川 300 さ 00-00"),
            "error: plate serial must be 1 to 4 digits (as in 12-34 or ・・12)"
        );
        assert_eq!(
            key("品川 3000 さ 1234"),
            "error: plate class number must be 1 to 3 characters starting with a digit"
        );
        assert_eq!(
            key("300 さ 1234"),
            "error: plate has no region name before the class number"
        );
        assert_eq!(
            key("品川 300 さ 12#4"),
            "error: plate serial must be 1 to 4 digits (as in 12-34 or ・・12)"
        );
        assert_eq!(
            key("A"),
            "error: generic plate must have 2 to 10 letters or digits"
        );
    }

    #[test]
    fn similarity_knows_camera_confusions() {
        assert_eq!(similarity("ABC123", "ABC123"), 1.0);
        let confused = similarity("B0123", "80123");
        let different = similarity("B0123", "X0123");
        assert!(confused > 0.9 && different < 0.85, "{confused} {different}");
        assert!(similarity("5Z1O", "S210") > 0.75);
        assert!(
            similarity("品川300さ1234", "品川300さ1934")
                < similarity("品川300さ1234", "品川300さ1Z34")
        );
        assert_eq!(similarity("", ""), 1.0);
        assert_eq!(similarity("AB", "CD"), 0.0);
    }
}
