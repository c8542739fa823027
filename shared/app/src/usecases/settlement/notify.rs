//! Telling drivers: each notification rendered in Japanese and English
//! (the app shows the driver's language) and published to the driver's
//! own topic, `parking/drivers/{driver_id}/notifications`. A notification
//! carries no plate and no card data; neither does anything logged about
//! it.
//!
//! Times are shown in the lots' zone (Asia/Tokyo); amounts with their
//! currency (`¥1,200` for yen).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use parking_core::{Currency, Money};
use serde::Serialize;

use crate::ids::*;
use crate::outbox::SendError;
use crate::outbox::{Notification, NotificationKind};

/// A notification as the app receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    /// The notification's id: the app drops one it has shown.
    pub id: String,
    pub kind: &'static str,
    pub lot_id: LotId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<ReservationId>,
    /// Where the app goes from it (the receipt, the card settings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    pub ja: Text,
    pub en: Text,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text {
    pub title: String,
    pub body: String,
}

fn text(title: impl Into<String>, body: impl Into<String>) -> Text {
    Text {
        title: title.into(),
        body: body.into(),
    }
}

/// `¥1,200` for yen; `USD 12.50` otherwise.
pub fn money(m: Money) -> String {
    let shown = m.to_string();
    if m.currency == Currency::JPY {
        shown.replacen("JPY ", "¥", 1)
    } else {
        shown
    }
}

fn local(at: Timestamp) -> String {
    let tz = TimeZone::get("Asia/Tokyo").unwrap_or(TimeZone::UTC);
    at.to_zoned(tz).strftime("%m/%d %H:%M").to_string()
}

/// A settlement failure's reason, in Japanese.
fn reason_ja(reason: &str) -> &'static str {
    if reason.contains("declined") {
        "カードが承認されませんでした"
    } else if reason.contains("removed") {
        "カードが削除されています"
    } else {
        "決済サービスがお支払いを受け付けませんでした"
    }
}

/// The driver's topic.
pub fn topic(driver: &DriverId) -> String {
    format!("parking/drivers/{driver}/notifications")
}

/// Renders a notification in both languages.
pub fn render(n: &Notification) -> Rendered {
    let (kind, link, ja, en) = match &n.kind {
        NotificationKind::Entry { bays } => {
            let list = bays
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let (ja, en) = if bays.is_empty() {
                (
                    "空いている区画にお停めください。".to_owned(),
                    "Park in any free bay.".to_owned(),
                )
            } else {
                (
                    format!("おすすめの区画: {list}"),
                    format!("Recommended bays: {list}"),
                )
            };
            (
                "entry",
                None,
                text("入庫しました", ja),
                text("Welcome in", en),
            )
        }
        NotificationKind::Exit { amount } => {
            let link = n
                .session_id
                .as_ref()
                .map(|s| format!("/v1/me/sessions/{s}/receipt"));
            let (ja, en) = match amount {
                Some(a) if a.minor > 0 => (
                    format!(
                        "ご利用料金は{}です。登録カードでお支払いします。領収書はアプリでご覧いただけます。",
                        money(*a)
                    ),
                    format!(
                        "Your stay came to {}, charged to your card on file. Your receipt is in the app.",
                        money(*a)
                    ),
                ),
                _ => (
                    "ご利用ありがとうございました。お支払いはありません。".to_owned(),
                    "Thank you. There is nothing to pay.".to_owned(),
                ),
            };
            ("exit", link, text("出庫しました", ja), text("Goodbye", en))
        }
        NotificationKind::PaymentFailed {
            amount,
            reason,
            retrying,
        } => {
            let needs_holder = reason.contains("authenticate");
            let (again_ja, again_en) = if *retrying {
                ("自動で再試行します。", " We will try again.")
            } else {
                (
                    "担当者から連絡することがあります。",
                    " We may contact you about it.",
                )
            };
            let (ja, en) = if needs_holder {
                (
                    format!(
                        "{}のお支払いにはカードの本人認証が必要です。アプリを開いて認証してください。",
                        money(*amount)
                    ),
                    format!(
                        "Your bank wants you to confirm the payment of {}. Open the app to confirm it.",
                        money(*amount)
                    ),
                )
            } else {
                (
                    format!(
                        "{}のお支払いができませんでした（{}）。アプリでカードを確認・変更してください。{again_ja}",
                        money(*amount),
                        reason_ja(reason)
                    ),
                    format!(
                        "The payment of {} did not go through ({reason}). Check or change your card in the app.{again_en}",
                        money(*amount)
                    ),
                )
            };
            (
                "payment_failed",
                Some("/v1/me/payment-methods".to_owned()),
                text("お支払いができませんでした", ja),
                text("Payment failed", en),
            )
        }
        NotificationKind::RefundDelayed { amount } => (
            "refund_delayed",
            None,
            text(
                "返金が遅れています",
                format!(
                    "{}の返金をカード会社に受け付けてもらえませんでした。担当者が対応し、ご連絡します。",
                    money(*amount)
                ),
            ),
            text(
                "Your refund is delayed",
                format!(
                    "The refund of {} could not be made to your card. Our staff are on it and will contact you.",
                    money(*amount)
                ),
            ),
        ),
        NotificationKind::ReservationReminder { start } => (
            "reservation_reminder",
            None,
            text(
                "まもなく予約の時間です",
                format!("ご予約は{}からです。", local(*start)),
            ),
            text(
                "Your reservation starts soon",
                format!("Your reservation starts at {}.", local(*start)),
            ),
        ),
        NotificationKind::ReservationEnded { no_show, fee } => {
            let charged_ja = fee.map_or(String::new(), |f| {
                let what = if *no_show {
                    "ご予約の料金"
                } else {
                    "キャンセル料"
                };
                format!("{what}{}を登録カードにご請求します。", money(f))
            });
            let charged_en = fee.map_or(String::new(), |f| {
                format!(" A fee of {} is charged to your card.", money(f))
            });
            let (ja, en) = if *no_show {
                (
                    format!("ご来場がなかったため、予約は終了しました。{charged_ja}"),
                    format!("You did not arrive, so the reservation has ended.{charged_en}"),
                )
            } else {
                (
                    format!("予約をキャンセルしました。{charged_ja}"),
                    format!("Your reservation is cancelled.{charged_en}"),
                )
            };
            (
                "reservation_ended",
                None,
                text("予約が終了しました", ja),
                text("Reservation ended", en),
            )
        }
        NotificationKind::Unpaid {
            amount,
            stays,
            held,
        } => {
            let (gate_ja, gate_en) = if *held {
                (
                    "お支払いいただくまで入庫できません。",
                    " The gate opens once they are paid.",
                )
            } else {
                ("", "")
            };
            (
                "unpaid",
                Some("/v1/me/sessions".to_owned()),
                text(
                    "未精算の駐車料金があります",
                    format!(
                        "以前のご利用{stays}件分、{}が未精算です。アプリまたは精算機でお支払いください。{gate_ja}",
                        money(*amount)
                    ),
                ),
                text(
                    "You have unpaid parking",
                    format!(
                        "{} is unpaid from {stays} earlier stay(s). Please pay in the app or at a kiosk.{gate_en}",
                        money(*amount)
                    ),
                ),
            )
        }
        NotificationKind::PassExpiring { until } => (
            "pass_expiring",
            None,
            text(
                "定期券の期限が近づいています",
                format!("定期券は{}までです。更新はアプリから。", local(*until)),
            ),
            text(
                "Your monthly pass ends soon",
                format!("Your pass ends {}. Renew it in the app.", local(*until)),
            ),
        ),
    };
    Rendered {
        id: n.id.clone(),
        kind,
        lot_id: n.lot_id.clone(),
        session_id: n.session_id.clone(),
        reservation_id: n.reservation_id.clone(),
        link,
        ja,
        en,
        at: n.at,
    }
}

/// Where drivers' notifications are published.
pub trait DriverLink: Send + Sync {
    /// Publishes a rendered notification to `topic`, at least once.
    fn notify(
        &self,
        topic: &str,
        message: &Rendered,
    ) -> impl std::future::Future<Output = Result<(), SendError>> + Send;
}

impl<T: DriverLink> DriverLink for &T {
    async fn notify(&self, topic: &str, message: &Rendered) -> Result<(), SendError> {
        (**self).notify(topic, message).await
    }
}

/// What became of one notifications message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Told {
    /// Published.
    Sent,
    /// The link failed: deliver it again later.
    Again(String),
    /// Not a notification: it goes to the dead-letter queue after its
    /// retries.
    Poison(String),
}

/// Reads, renders and publishes a batch of notifications messages, in
/// order; one that fails holds back the rest of its driver's in the batch
/// (so they arrive in order), and nothing else.
pub async fn notify_batch<L: DriverLink>(
    link: &L,
    batch: &[crate::usecases::settle::Delivered<'_>],
) -> Vec<Told> {
    let mut held_back: Vec<&str> = Vec::new();
    let mut out = Vec::with_capacity(batch.len());
    for m in batch {
        if let Some(g) = m.group
            && held_back.contains(&g)
        {
            out.push(Told::Again(
                "an earlier message of its group is not sent".into(),
            ));
            continue;
        }
        let told = match read(m.body) {
            Err(e) => Told::Poison(e),
            Ok(n) => match link.notify(&topic(&n.driver_id), &render(&n)).await {
                Ok(()) => Told::Sent,
                Err(e) => Told::Again(e.to_string()),
            },
        };
        if told != Told::Sent
            && let Some(g) = m.group
        {
            held_back.push(g);
        }
        out.push(told);
    }
    out
}

fn read(body: &str) -> Result<Notification, String> {
    let de = &mut serde_json::Deserializer::from_str(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        format!("the message is not a notification: {path} is missing or malformed")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(kind: NotificationKind) -> Notification {
        Notification {
            id: "n-1".into(),
            driver_id: "d-1".parse().expect("id"),
            lot_id: "shinjuku-west".parse().expect("id"),
            session_id: Some("s-1".parse().expect("id")),
            reservation_id: None,
            kind,
            at: "2026-11-30T01:00:00Z".parse().expect("time"),
        }
    }

    #[test]
    fn every_kind_reads_in_both_languages() {
        let yen = Money::new(1200, Currency::JPY);
        let cases = [
            NotificationKind::Entry {
                bays: vec!["A-12".parse().expect("bay")],
            },
            NotificationKind::Exit { amount: Some(yen) },
            NotificationKind::PaymentFailed {
                amount: yen,
                reason: "the card was declined (card_declined)".into(),
                retrying: true,
            },
            NotificationKind::ReservationReminder {
                start: "2026-11-30T09:00:00Z".parse().expect("time"),
            },
            NotificationKind::ReservationEnded {
                no_show: true,
                fee: Some(Money::new(500, Currency::JPY)),
            },
            NotificationKind::PassExpiring {
                until: "2026-12-31T15:00:00Z".parse().expect("time"),
            },
            NotificationKind::Unpaid {
                amount: yen,
                stays: 2,
                held: true,
            },
        ];
        for kind in cases {
            let r = render(&note(kind));
            for t in [&r.ja, &r.en] {
                assert!(!t.title.is_empty() && !t.body.is_empty(), "{r:?}");
            }
        }
        let exit = render(&note(NotificationKind::Exit { amount: Some(yen) }));
        assert!(exit.ja.body.contains("¥1,200"), "{}", exit.ja.body);
        assert_eq!(exit.link.as_deref(), Some("/v1/me/sessions/s-1/receipt"));
        let reminder = render(&note(NotificationKind::ReservationReminder {
            start: "2026-11-30T09:00:00Z".parse().expect("time"),
        }));
        assert!(
            reminder.ja.body.contains("11/30 18:00"),
            "{}",
            reminder.ja.body
        );
        let auth = render(&note(NotificationKind::PaymentFailed {
            amount: yen,
            reason: "the card needs the cardholder to authenticate".into(),
            retrying: false,
        }));
        assert!(
            auth.en.body.contains("Open the app to confirm"),
            "{}",
            auth.en.body
        );
        assert_eq!(
            topic(&"d-1".parse().expect("id")),
            "parking/drivers/d-1/notifications"
        );
    }
}
