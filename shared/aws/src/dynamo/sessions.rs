//! Parking sessions and the holds that keep one open session per plate
//! and lot.

use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use parking_app::ids::*;
use parking_app::rules;
use parking_app::*;
use parking_core::{Plate, SessionState};

use super::DynamoStore;
use super::keys::{self, Item, n, s};
use super::txn::{Cond, Step, Txn};

/// The condition that a stored session is still the one a writer read:
/// its state and version, and its identity (lot, plate, entry).
const GUARD: &str = "#state = :state AND #version = :version AND lot_id = :lot AND plate = :plate AND entry_at = :entry AND entry_gate = :gate";
const GUARD_NAMES: &[(&str, &str)] = &[("#state", "state"), ("#version", "version")];

fn attr(item: &Item, name: &str) -> AttributeValue {
    item.get(name)
        .cloned()
        .unwrap_or(AttributeValue::Null(true))
}

/// The guard for a session whose identity is `identity`'s (as stored) at
/// `expected` state and version.
fn guard(identity: &Item, (state, version): (SessionState, u64)) -> Cond<'static> {
    Cond::new(GUARD)
        .names(GUARD_NAMES)
        .value(":state", s(state.name()))
        .value(":version", n(version))
        .value(":lot", attr(identity, "lot_id"))
        .value(":plate", attr(identity, "plate"))
        .value(":entry", attr(identity, "entry_at"))
        .value(":gate", attr(identity, "entry_gate"))
}

fn owned_by(id: &SessionId) -> Cond<'static> {
    Cond::new("attribute_not_exists(PK) OR id = :id").value(":id", s(id.as_str()))
}

fn plate_taken(lot_id: &LotId) -> StoreError {
    Refusal::PlateHasOpenSession {
        lot_id: lot_id.clone(),
    }
    .into()
}

/// Keeps (or puts back) the hold of a session that holds its plate, or
/// releases it; never another session's.
fn hold_step<'t>(txn: Txn<'t>, next: &Session, holds: bool) -> StoreResult<Txn<'t>> {
    let hold = keys::hold(&next.lot_id, &next.plate);
    if holds {
        txn.put(Step::Hold, hold.item(next)?, Some(owned_by(&next.id)))
    } else {
        txn.delete(Step::Hold, &hold, Some(owned_by(&next.id)))
    }
}

impl SessionStore for DynamoStore {
    /// One transaction: the event's ledger item, the session and its hold.
    async fn open_session(
        &self,
        session: &Session,
        cause: Option<&EventRef>,
    ) -> StoreResult<Applied> {
        rules::check_new_session(session)?;
        let token = rules::write_token("open_session", &(session, cause));
        let txn = self
            .with_ledger(self.txn(cause.map(|_| token.clone())), cause, &token)?
            .put(
                Step::Session,
                keys::session_listed(session).item(session)?,
                Some(Cond::new("attribute_not_exists(PK)")),
            )?
            .put(
                Step::Hold,
                keys::hold(&session.lot_id, &session.plate).item(session)?,
                Some(Cond::new("attribute_not_exists(PK)")),
            )?;
        let Err(failed) = txn.run(&self.client).await? else {
            return Ok(Applied::Done);
        };
        if let Some(outcome) = self.ledger_outcome(&failed, cause, &token).await? {
            return Ok(outcome);
        }
        if failed.has(Step::Session) {
            let stored: Option<Session> = self.get_opt(&keys::session(&session.id)).await?;
            if stored.as_ref() == Some(session) {
                return Ok(Applied::Done);
            }
        }
        if failed.has(Step::Hold) {
            return Err(plate_taken(&session.lot_id));
        }
        Err(Refusal::SessionExists {
            session_id: session.id.clone(),
        }
        .into())
    }

    async fn open_session_for(
        &self,
        lot_id: &LotId,
        plate: &Plate,
    ) -> StoreResult<Option<Session>> {
        self.get_opt(&keys::hold(lot_id, plate)).await
    }

    async fn get_session(&self, session_id: &SessionId) -> StoreResult<Session> {
        self.get_body(&keys::session(session_id), || {
            format!("session {session_id}")
        })
        .await
    }

    /// One transaction: the ledger item, the session guarded by state,
    /// version and identity, and its hold.
    async fn update_session(
        &self,
        expected: (SessionState, u64),
        next: &Session,
        cause: Option<&EventRef>,
    ) -> StoreResult<Applied> {
        rules::check_session_update(expected, next)?;
        let token = rules::write_token("update_session", &(expected, next, cause));
        let item = keys::session_listed(next).item(next)?;
        let cond = guard(&item, expected);
        let mut txn = self
            .with_ledger(self.txn(Some(token.clone())), cause, &token)?
            .put(Step::Session, item, Some(cond))?;
        if expected.0.holds_plate() || next.state.holds_plate() {
            txn = hold_step(txn, next, next.state.holds_plate())?;
        }
        let Err(failed) = txn.run(&self.client).await? else {
            return Ok(Applied::Done);
        };
        if let Some(outcome) = self.ledger_outcome(&failed, cause, &token).await? {
            return Ok(outcome);
        }
        let Some(stored) = self.get_opt::<Session>(&keys::session(&next.id)).await? else {
            return Err(rules::stale_session(next, expected));
        };
        rules::check_identity(&stored, next)?;
        if &stored == next {
            return Ok(Applied::Done);
        }
        if failed.has(Step::Session) {
            return Err(rules::stale_session(next, expected));
        }
        Err(plate_taken(&next.lot_id))
    }

    /// One transaction: the ledger item, the session guarded as it was
    /// read, and for an open session its hold moved to the new plate.
    async fn correct_plate(
        &self,
        current: &Session,
        plate: &Plate,
        at: Timestamp,
        cause: Option<&EventRef>,
    ) -> StoreResult<Applied> {
        let next = rules::corrected(current, plate, at)?;
        let expected = (current.state, current.version);
        let token = rules::write_token("correct_plate", &(current, plate, at, cause));
        let identity = keys::session(&current.id).item(current)?;
        let mut txn = self
            .with_ledger(self.txn(Some(token.clone())), cause, &token)?
            .put(
                Step::Session,
                keys::session_listed(&next).item(&next)?,
                Some(guard(&identity, expected)),
            )?;
        if current.state.holds_plate() {
            txn = txn
                .put(
                    Step::Hold,
                    keys::hold(&next.lot_id, plate).item(&next)?,
                    Some(Cond::new("attribute_not_exists(PK)")),
                )?
                .delete(
                    Step::OldHold,
                    &keys::hold(&current.lot_id, &current.plate),
                    Some(owned_by(&current.id)),
                )?;
        }
        let Err(failed) = txn.run(&self.client).await? else {
            return Ok(Applied::Done);
        };
        if let Some(outcome) = self.ledger_outcome(&failed, cause, &token).await? {
            return Ok(outcome);
        }
        let stored: Option<Session> = self.get_opt(&keys::session(&current.id)).await?;
        if stored.as_ref() == Some(&next) {
            return Ok(Applied::Done);
        }
        if failed.has(Step::Session) {
            return Err(rules::stale_session(&next, expected));
        }
        Err(plate_taken(&current.lot_id))
    }
}
