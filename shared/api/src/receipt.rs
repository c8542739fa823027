//! The receipt as a printable page (A5 portrait, Japanese with English).

use crate::dto::ReceiptOut;

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn yen(amount: i64, currency: &str) -> String {
    if currency == "JPY" {
        let digits = amount.abs().to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("{}¥{grouped}", if amount < 0 { "-" } else { "" })
    } else {
        format!("{currency} {amount}")
    }
}

/// The page for a receipt.
pub fn render(r: &ReceiptOut) -> String {
    let tax_rows: String = r
        .tax_lines
        .iter()
        .map(|t| {
            format!(
                "<tr><th>{}%対象 Taxable at {}%</th><td>{}</td></tr><tr><th>内消費税 Tax</th><td>{}</td></tr>",
                t.rate_bp / 100,
                t.rate_bp / 100,
                yen(t.amount, &r.currency),
                yen(t.tax, &r.currency)
            )
        })
        .collect();
    let issuer = r.issuer_name.as_deref().unwrap_or("");
    let registration = r
        .registration_number
        .as_deref()
        .map(|n| format!("<p>登録番号 Registration No. {}</p>", esc(n)))
        .unwrap_or_default();
    let paid = match (&r.card_brand, &r.card_last4) {
        (Some(b), Some(l)) => format!("{} •••• {}", esc(b), esc(l)),
        _ => esc(&r.paid_by),
    };
    format!(
        r#"<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>領収書 Receipt {number}</title>
<style>
@page {{ size: A5 portrait; margin: 12mm }}
body {{ font-family: "Hiragino Sans", "Noto Sans JP", sans-serif; max-width: 40em; margin: 2em auto; color: #111 }}
h1 {{ text-align: center; letter-spacing: .3em }}
table {{ width: 100%; border-collapse: collapse }}
th, td {{ border-bottom: 1px solid #ccc; padding: .4em; text-align: left }}
td {{ text-align: right }}
.total {{ font-size: 1.6em; text-align: center; border: 2px solid #111; padding: .4em }}
</style></head>
<body>
<h1>領収書 Receipt</h1>
<p>No. {number} ／ {date}</p>
<p class="total">{amount}</p>
<table>
<tr><th>但し Description</th><td>{description}</td></tr>
<tr><th>入庫 Entry</th><td>{entry}</td></tr>
<tr><th>出庫 Exit</th><td>{exit}</td></tr>
{tax_rows}
<tr><th>お支払い Paid by</th><td>{paid}</td></tr>
</table>
<p>{issuer}</p>
{registration}
</body></html>
"#,
        number = esc(&r.number),
        date = esc(&r.date),
        amount = yen(r.amount, &r.currency),
        description = esc(&r.description),
        entry = esc(&r.entry_local),
        exit = esc(&r.exit_local),
        issuer = esc(issuer),
    )
}
