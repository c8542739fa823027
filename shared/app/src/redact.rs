//! Keeping personal data out of error text. Decoding errors quote the
//! value that did not decode, and that value may be a plate or a token.

/// The text with every value a decoder quotes left out: anything in
/// double quotes (escapes included), and the value of an unknown variant.
/// Field and variant names the decoder expects (in backticks) stay.
///
/// ```
/// use parking_app::redact::without_quoted_values;
/// assert_eq!(
///     without_quoted_values(r#"invalid type: string "品川300さ1234", expected u64"#),
///     r#"invalid type: string "…", expected u64"#
/// );
/// assert_eq!(
///     without_quoted_values("unknown variant `品川`, expected `entry` or `exit`"),
///     "unknown variant `…`, expected `entry` or `exit`"
/// );
/// ```
pub fn without_quoted_values(text: &str) -> String {
    // An unknown variant is written raw between backticks, and may itself
    // hold a backtick: drop everything up to serde's ", expected".
    let text = match text.find("unknown variant `") {
        Some(at) => {
            let start = at + "unknown variant `".len();
            let rest = &text[start..];
            let tail = rest.find("`, expected").map_or("`", |end| &rest[end..]);
            format!("{}…{tail}", &text[..start])
        }
        None => text.to_owned(),
    };
    // Quoted strings are written escaped: `\"` does not end one.
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if quoted {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
                out.push(c);
            }
        } else if c == '"' {
            quoted = true;
            out.push_str("\"…");
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backticks_inside_a_value_do_not_end_it() {
        let shown =
            without_quoted_values(r#"invalid type: string "x\"品川300さ1234", expected u64"#);
        assert_eq!(shown, r#"invalid type: string "…", expected u64"#);
        let shown = without_quoted_values("unknown variant `x`品川`, expected `entry` or `exit`");
        assert_eq!(shown, "unknown variant `…`, expected `entry` or `exit`");
        assert_eq!(
            without_quoted_values("unknown variant `品川"),
            "unknown variant `…`"
        );
    }
}
