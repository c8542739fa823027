//! The unpaid register: entries written and removed with a plate's
//! timeline commit (only the commit that lands writes them), a plate's
//! debts read from its own partition, the operator's register listed by
//! the plates' digits a page at a time, and another operator's entries
//! never shown.

use parking_app::unpaid::{Debt, DebtChange, DebtReason};

use super::*;

fn debt(operator: &str, session: &str, lot: &str, plate: &str, amount: i64) -> Debt {
    Debt {
        operator: fx::id(operator),
        plate: fx::plate(plate),
        session_id: fx::id(session),
        lot_id: fx::id(lot),
        driver_id: None,
        reason: DebtReason::KioskUnpaid,
        amount: fx::yen(amount),
        entry_at: fx::at("2026-11-24T09:00:00+09:00"),
        exit_at: fx::at("2026-11-24T10:00:00+09:00"),
    }
}

pub async fn the_unpaid_register_follows_the_timeline_commits<S: Store>(store: &S) {
    let op = fx::id("op-u");
    let text = "横浜 300 そ 11-22";
    let plate = fx::plate(text);
    let s = fx::session("s-u1", "lot-u1", text);
    // Owed, in the commit that writes the stay.
    let mut first = commit(
        1,
        &s,
        &fx::event("cam-u", "u-1", "2026-11-24T10:00:01+09:00"),
        1,
    );
    first.debts = vec![DebtChange::Owe(debt("op-u", "s-u1", "lot-u1", text, 900))];
    assert_eq!(store.commit_read(&first).await.expect("v1"), Applied::Done);
    // A stale commit carrying a debt writes none of it.
    let mut stale = commit(
        1,
        &s,
        &fx::event("cam-u", "u-2", "2026-11-24T10:00:02+09:00"),
        2,
    );
    stale.debts = vec![DebtChange::Owe(debt("op-u", "s-u9", "lot-u1", text, 1))];
    assert!(refusal(&store.commit_read(&stale).await).is_some());
    // A second stay of the plate at another lot of the operator, and one
    // of another plate; and one with another operator.
    for (i, (session, lot, plate_text, operator)) in [
        ("s-u2", "lot-u2", text, "op-u"),
        ("s-u3", "lot-u2", "品川 300 さ 12-34", "op-u"),
        ("s-u4", "lot-u3", text, "op-other"),
    ]
    .into_iter()
    .enumerate()
    {
        let other = fx::session(session, lot, plate_text);
        let mut c = commit(
            1,
            &other,
            &fx::event("cam-u", &format!("v-{i}"), "2026-11-24T10:01:00+09:00"),
            3,
        );
        c.debts = vec![DebtChange::Owe(debt(
            operator, session, lot, plate_text, 500,
        ))];
        assert_eq!(store.commit_read(&c).await.expect("commit"), Applied::Done);
    }
    let mine = store.debts_of(&op, &plate, 10).await.expect("debts");
    let ids: Vec<&str> = mine.iter().map(|d| d.session_id.as_str()).collect();
    assert_eq!(
        ids,
        ["s-u1", "s-u2"],
        "the plate's, with this operator only"
    );
    assert_eq!(mine[0].amount.minor, 900);
    assert_eq!(store.debts_of(&op, &plate, 1).await.expect("one").len(), 1);

    // The register: by digits (11-22 before 12-34), a page at a time.
    let page = store.register(&op, None, None, 2).await.expect("page");
    let ids: Vec<&str> = page.debts.iter().map(|d| d.session_id.as_str()).collect();
    assert_eq!(ids, ["s-u1", "s-u2"]);
    let next = page.next.expect("a next page");
    let rest = store
        .register(&op, None, Some(&next), 2)
        .await
        .expect("rest");
    let ids: Vec<&str> = rest.debts.iter().map(|d| d.session_id.as_str()).collect();
    assert_eq!(ids, ["s-u3"]);
    assert_eq!(rest.next, None);
    let by_digits = store
        .register(&op, Some("1234"), None, 10)
        .await
        .expect("digits");
    assert_eq!(by_digits.debts.len(), 1);
    assert_eq!(by_digits.debts[0].session_id.as_str(), "s-u3");

    // Paid: the next commit of the stay clears it.
    let mut paid = commit(
        2,
        &fx::next(&s, SessionState::Paid),
        &fx::event("cam-u", "u-3", "2026-11-24T10:05:00+09:00"),
        4,
    );
    paid.open_delta = 0;
    paid.debts = vec![DebtChange::Clear {
        operator: op.clone(),
        plate: plate.clone(),
        session_id: s.id.clone(),
    }];
    assert_eq!(store.commit_read(&paid).await.expect("v2"), Applied::Done);
    let left = store.debts_of(&op, &plate, 10).await.expect("debts");
    let ids: Vec<&str> = left.iter().map(|d| d.session_id.as_str()).collect();
    assert_eq!(ids, ["s-u2"]);
}
