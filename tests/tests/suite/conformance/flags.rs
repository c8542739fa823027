//! The feature flag document: replaced only at its next revision, with
//! its audit entry.

use super::*;
use parking_app::flags::{FlagSet, StoredFlags};

pub async fn the_flag_document_changes_one_revision_at_a_time<S: FlagStore + AuditStore>(
    store: &S,
) {
    assert_eq!(store.flag_document().await.expect("none yet"), None);
    let audit = AuditEntry {
        id: id("flags-1"),
        lot_id: id("lot-f"),
        at: fx::at("2026-11-24T10:00:00+09:00"),
        actor: Actor {
            role: "admin".into(),
            subject: "ops".into(),
        },
        action: "flags.update".into(),
        target: "flags".into(),
        note: String::new(),
        amount: None,
    };
    let first = StoredFlags {
        set: FlagSet::default(),
        revision: 1,
    };
    store.put_flags(&first, &audit).await.expect("first");
    assert_eq!(
        store.flag_document().await.expect("read"),
        Some(first.clone())
    );
    // A writer that read no document, or an older one, is refused.
    assert_eq!(
        refusal(&store.put_flags(&first, &audit).await),
        Some(&Refusal::StaleFlags { revision: 0 })
    );
    let second = StoredFlags {
        revision: 2,
        ..first.clone()
    };
    store.put_flags(&second, &audit).await.expect("second");
    assert_eq!(store.flag_document().await.expect("read"), Some(second));
}
