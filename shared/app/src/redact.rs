//! Keeping personal data out of error text. Decoding errors quote the
//! value that did not decode, and that value may be a plate or a token.

/// The text with every value a decoder quotes left out: anything in
/// double quotes, and the value of an `unknown variant `…``. Field and
/// variant names the decoder expects (in backticks) stay.
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
    let mut out = String::with_capacity(text.len());
    let mut open: Option<char> = None;
    for c in text.chars() {
        match open {
            None if c == '"' || (c == '`' && out.ends_with("variant ")) => {
                open = Some(c);
                out.push(c);
                out.push('…');
            }
            None => out.push(c),
            Some(q) if c == q => {
                open = None;
                out.push(c);
            }
            Some(_) => {}
        }
    }
    out
}
