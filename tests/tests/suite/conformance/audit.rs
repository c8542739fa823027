//! The audit trail: an entry written is listed in its lot's trail by
//! time, once however often it is written, and never in another lot's.

use super::*;

fn entry(id_text: &str, lot: &str, at: &str) -> AuditEntry {
    AuditEntry {
        id: id(id_text),
        lot_id: id(lot),
        at: fx::at(at),
        actor: Actor {
            role: "operator".into(),
            subject: "op-1".into(),
        },
        action: "session.refund".into(),
        target: "s-1".into(),
        note: "a note".into(),
        amount: Some(300),
    }
}

pub async fn an_audit_entry_is_listed_once_in_its_lot<S: AuditStore>(store: &S) {
    let late = entry("act-2", "lot-au", "2026-11-24T12:00:00+09:00");
    let early = entry("act-1", "lot-au", "2026-11-24T10:00:00+09:00");
    let elsewhere = entry("act-3", "lot-other", "2026-11-24T11:00:00+09:00");
    for e in [&late, &early, &late, &elsewhere] {
        store.record_audit(e).await.expect("recorded");
    }
    let trail = store
        .audit_trail(
            &id("lot-au"),
            fx::at("2026-11-24T00:00:00+09:00"),
            fx::at("2026-11-25T00:00:00+09:00"),
        )
        .await
        .expect("trail");
    assert_eq!(trail, [early.clone(), late.clone()]);
    let morning = store
        .audit_trail(
            &id("lot-au"),
            fx::at("2026-11-24T00:00:00+09:00"),
            fx::at("2026-11-24T11:00:00+09:00"),
        )
        .await
        .expect("trail");
    assert_eq!(morning, [early]);
}
