//! A plate's history: its head and archived stays, read in one request
//! each, and changed in one transaction (see `commit_read`).

use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use parking_app::ids::*;
use parking_app::rules;
use parking_app::unpaid::DebtChange;
use parking_app::*;
use parking_core::Plate;

use super::DynamoStore;
use super::keys::{self, body, n, s};
use super::reads::*;
use super::reservations::moved;
use super::txn::{Cond, Step, Txn};
use std::collections::BTreeMap;

impl PlateHistory for DynamoStore {
    async fn passes(&self, lot_id: &LotId) -> StoreResult<Vec<Pass>> {
        self.query_bodies(keys::passes_of(lot_id)).await
    }

    /// One query of the lot's pass range, for one more than the page.
    async fn passes_page(
        &self,
        lot_id: &LotId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<Pass>, Option<String>)> {
        let (pk, prefix) = keys::passes_of(lot_id);
        let from = match after {
            Some(a) => format!("{prefix}{a}\u{1}"),
            None => prefix.to_owned(),
        };
        let to = format!("{prefix}\u{10ffff}");
        let mut v: Vec<Pass> = self
            .query_range(&pk, (&from, &to), true, Some(limit + 1))
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        let more = v.len() > limit;
        v.truncate(limit);
        let next = if more {
            v.last().map(|p| p.id.to_string())
        } else {
            None
        };
        Ok((v, next))
    }

    /// One query, newest first, of one stay.
    async fn stay_before(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        at: Timestamp,
    ) -> StoreResult<Option<parking_app::history::Stay>> {
        let (_, lowest, _) = keys::stays_of(lot_id, plate);
        let found = self
            .stays_between(
                lot_id,
                plate,
                (lowest.to_owned(), format!("{}~", keys::stay_sk(at))),
                false,
                1,
            )
            .await?;
        Ok(found.into_iter().next())
    }

    /// One query, in order.
    async fn stays_from(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        from: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<parking_app::history::Stay>> {
        let (_, _, highest) = keys::stays_of(lot_id, plate);
        self.stays_between(
            lot_id,
            plate,
            (keys::stay_sk(from), highest.to_owned()),
            true,
            limit,
        )
        .await
    }

    /// One `BatchGetItem`: the timeline and the plate's registration.
    async fn plate_view(&self, lot_id: &LotId, plate: &Plate) -> StoreResult<PlateView> {
        let timeline = keys::timeline(lot_id, plate, false);
        let owner = keys::plate(plate);
        let claims = keys::plate_claims(plate, None);
        let mut view = PlateView::default();
        for item in self
            .batch_get(vec![timeline.key(), owner.key(), claims.key()])
            .await?
        {
            match kind(&item) {
                Some("timeline") => view.timeline = Some(body(item)?),
                Some("plate") => view.owner = Some(body(item)?),
                Some("plate_claims") => view.claims = Some(body(item)?),
                _ => {}
            }
        }
        Ok(view)
    }

    /// One query of the index partition of the skeleton, keys and plates
    /// only.
    async fn plates_like(&self, lot_id: &LotId, skeleton: &str) -> StoreResult<Vec<LikePlate>> {
        let open_prefix = format!("OPEN#{lot_id}#PLATE#");
        let mut plates: Vec<LikePlate> = Vec::new();
        for item in self
            .query_index(&keys::like(skeleton), Some("GSI1SK, #plate"))
            .await?
        {
            let sk = match item.get("GSI1SK") {
                Some(AttributeValue::S(v)) => v.clone(),
                _ => continue,
            };
            if !(sk.starts_with("REG#") || sk.starts_with(&open_prefix)) {
                continue;
            }
            let plate: Plate = match item.get("plate") {
                Some(v) => serde_dynamo::from_attribute_value(v.clone()).map_err(|_| {
                    StoreError::Corrupt {
                        key: keys::redact(&sk),
                        reason: "plate does not parse".into(),
                    }
                })?,
                None => continue,
            };
            let registered = sk.starts_with("REG#");
            match plates.iter_mut().find(|p| p.plate == plate) {
                Some(p) => p.registered |= registered,
                None => plates.push(LikePlate { plate, registered }),
            }
        }
        Ok(plates)
    }

    async fn commit_read(&self, commit: &TimelineCommit) -> StoreResult<Applied> {
        let t = &commit.timeline;
        let token = rules::write_token(
            "commit_read",
            &(&t.lot_id, &t.plate, t.version, commit.attempt),
        );
        let cause = Some(&commit.event);
        let mut live = BTreeMap::new();
        let mut txn = self.with_ledger(self.txn(Some(token.clone())), cause, &token)?;
        txn = timeline_steps(txn, commit, Step::Timeline, &mut live)?;
        if let Some(left) = &commit.released {
            txn = timeline_steps(txn, left, Step::Released, &mut live)?;
        }
        // One update a shard: two plates of a move may share one.
        for (keys, delta) in live.into_values() {
            if delta != 0 {
                txn = txn.update(
                    Step::Live,
                    &keys,
                    "ADD open_sessions :d SET #type = :type",
                    &[("#type", "type")],
                    vec![(":d", n(delta)), (":type", s("live"))],
                    None,
                )?;
            }
        }
        if let Some(track) = &commit.track {
            let guard = if track.version <= 1 {
                Cond::new("attribute_not_exists(PK)")
            } else {
                Cond::new("version = :prev").value(":prev", n(track.version - 1))
            };
            let mut item =
                keys::track(&track.lot_id, &track.device_id, &track.track).item(track)?;
            item.insert("expires_at".into(), n(track.forget_at.as_second()));
            txn = txn.put(Step::Track, item, Some(guard))?;
        }
        if let Some(e) = &commit.audit {
            txn = txn.put(Step::Audit, keys::audit(e).item(e)?, None)?;
        }
        if let Some(p) = &commit.pass {
            txn = txn.put(Step::Pass, keys::pass(&p.lot_id, &p.id).item(p)?, None)?;
        }
        if let Some(held) = &commit.check_in {
            // A reservation cancelled meanwhile fails the condition and the
            // read is applied again without it.
            let mut r = held.clone();
            r.state = ReservationState::CheckedIn;
            txn = moved(txn, &r, ReservationState::Active)?;
        }
        for used in commit.check_in_undone.iter().chain(
            commit
                .released
                .iter()
                .filter_map(|r| r.check_in_undone.as_ref()),
        ) {
            // Checked in by a read whose gate then held the car: active
            // and held for it again, unless it changed meanwhile.
            let mut r = used.clone();
            r.state = ReservationState::Active;
            txn = moved(txn, &r, ReservationState::CheckedIn)?;
        }
        match txn.run(&self.client).await? {
            Ok(()) => Ok(Applied::Done),
            Err(failed) => {
                if let Some(outcome) = self.ledger_outcome(&failed, cause, &token).await? {
                    return Ok(outcome);
                }
                // The timeline moved on, or the reservation did: read again.
                Err(Refusal::StaleTimeline {
                    lot_id: t.lot_id.clone(),
                }
                .into())
            }
        }
    }

    /// One transaction: the head moved on (or deleted) on its stored
    /// version, stays deleted, sessions and their drivers' copies
    /// rewritten on their stored versions.
    async fn forget(&self, f: &parking_app::history::Forget) -> StoreResult<()> {
        let head = keys::timeline(&f.lot_id, &f.plate, false);
        let guard = Cond::new("version = :v").value(":v", n(f.head_version));
        let mut txn = if f.delete_head {
            self.txn(None).delete(Step::Timeline, &head, Some(guard))?
        } else {
            self.txn(None).update(
                Step::Timeline,
                &head,
                "SET version = :next",
                &[],
                vec![(":next", n(f.head_version + 1))],
                Some(guard),
            )?
        };
        for gone in &f.stays {
            txn = txn.delete(Step::Stay, &keys::stay(&f.lot_id, &f.plate, gone), None)?;
        }
        for session in &f.sessions {
            let guard =
                Cond::new("version = :prev").value(":prev", n(session.version.saturating_sub(1)));
            txn = txn.put(
                Step::Session,
                keys::session_listed(session).item(session)?,
                Some(guard),
            )?;
            if let Some(driver) = &session.driver_id {
                txn = txn.put(
                    Step::DriverEntry,
                    keys::driver_session(driver, session).item(session)?,
                    None,
                )?;
            }
        }
        match txn.run(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Refusal::StaleTimeline {
                lot_id: f.lot_id.clone(),
            }
            .into()),
        }
    }

    async fn retention_mark(&self, lot_id: &LotId) -> StoreResult<Option<Timestamp>> {
        let mark: Option<RetentionMark> = self.get_opt(&keys::retention_mark(lot_id)).await?;
        Ok(mark.map(|m| m.at))
    }

    async fn set_retention_mark(&self, lot_id: &LotId, at: Timestamp) -> StoreResult<()> {
        self.put_plain(&keys::retention_mark(lot_id), &RetentionMark { at })
            .await
    }
}

/// How far a lot's retention sweep got.
#[derive(serde::Serialize, serde::Deserialize)]
struct RetentionMark {
    at: Timestamp,
}

/// The steps of one plate's timeline change: its head on its stored
/// version, its sessions and their drivers' copies, its outbox, its
/// archived stays and its register entries; its change of open sessions
/// added to its shard's in `live`.
fn timeline_steps<'a>(
    mut txn: Txn<'a>,
    commit: &TimelineCommit,
    head: Step,
    live: &mut BTreeMap<(String, String), (keys::Keys, i64)>,
) -> StoreResult<Txn<'a>> {
    let t = &commit.timeline;
    let open = t.open_sessions() > 0 && t.plate.is_readable();
    let guard = if t.version <= 1 {
        Cond::new("attribute_not_exists(PK)")
    } else {
        Cond::new("version = :prev").value(":prev", n(t.version - 1))
    };
    txn = txn.put(
        head,
        keys::timeline(&t.lot_id, &t.plate, open).item(t)?,
        Some(guard),
    )?;
    for session in &commit.changed {
        txn = txn.put(
            Step::Session,
            keys::session_listed(session).item(session)?,
            None,
        )?;
        if let Some(driver) = &session.driver_id {
            txn = txn.put(
                Step::DriverEntry,
                keys::driver_session(driver, session).item(session)?,
                None,
            )?;
        }
    }
    for m in &commit.outbox {
        txn = txn.put(
            Step::Outbox,
            keys::outbox(&m.id(), commit.event.processed_at.as_second()).item(m)?,
            None,
        )?;
    }
    // The timeline's condition on its version serialises every change
    // to the plate's stays.
    for stay in &commit.stays {
        txn = txn.put(
            Step::Stay,
            keys::stay(&t.lot_id, &t.plate, &stay.key()).item(stay)?,
            None,
        )?;
    }
    for gone in &commit.stays_gone {
        txn = txn.delete(Step::Stay, &keys::stay(&t.lot_id, &t.plate, gone), None)?;
    }
    if commit.open_delta != 0 {
        let shard = keys::live_of_plate(&t.lot_id, &t.plate);
        live.entry((shard.pk.clone(), shard.sk.clone()))
            .or_insert((shard, 0))
            .1 += commit.open_delta;
    }
    // The plate's timeline version orders every change of its stays'
    // entries, and no other plate or lot writes them.
    for change in &commit.debts {
        txn = match change {
            DebtChange::Owe(d) => txn.put(
                Step::Debt,
                keys::debt(&d.operator, &d.plate, &d.session_id, &d.digits()).item(d)?,
                None,
            )?,
            DebtChange::Clear {
                operator,
                plate,
                session_id,
            } => txn.delete(
                Step::Debt,
                &keys::debt(operator, plate, session_id, ""),
                None,
            )?,
        };
    }
    Ok(txn)
}
