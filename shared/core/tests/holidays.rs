//! Japanese national holidays computed by rule, against an independent list.

use jiff::civil::Date;
use parking_core::calendar::japanese_holidays;

const LIST: &str = include_str!("data/jp_holidays_1980_2030.tsv");

#[test]
fn japanese_holidays_match_the_independent_list_1980_to_2030() {
    let mut expected: Vec<Date> = Vec::new();
    for (n, line) in LIST.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let date = line.split('\t').next().unwrap_or_default();
        match date.parse() {
            Ok(d) => expected.push(d),
            Err(e) => panic!("line {}: {date:?}: {e}", n + 1),
        }
    }
    assert!(expected.len() > 800, "the list looks truncated");
    let computed: Vec<Date> = (1980..=2030).flat_map(japanese_holidays).collect();
    let missing: Vec<_> = expected.iter().filter(|d| !computed.contains(d)).collect();
    let extra: Vec<_> = computed.iter().filter(|d| !expected.contains(d)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:?}\nnot in the list: {extra:?}"
    );
}
