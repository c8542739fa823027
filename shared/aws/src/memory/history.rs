//! The in-memory twin: a plate's history: its head, archived stays and the atomic change.

use super::*;

impl PlateHistory for MemoryStore {
    async fn plate_view(&self, lot_id: &LotId, plate: &Plate) -> StoreResult<PlateView> {
        let s = self.state();
        let key = plate.key();
        let view = PlateView {
            timeline: s.timelines.get(&(lot_id.clone(), key.clone())).cloned(),
            owner: s.plates.get(&key).cloned(),
            claims: s.plate_claims.get(&key).cloned(),
        };
        // One batch get of the timeline, the registration and the claims.
        self.read_units(get_units(&[
            view.timeline.as_ref().map_or(0, item_bytes),
            view.owner.as_ref().map_or(0, item_bytes),
            view.claims.as_ref().map_or(0, item_bytes),
        ]));
        Ok(view)
    }

    async fn stay_before(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        at: Timestamp,
    ) -> StoreResult<Option<parking_app::history::Stay>> {
        let s = self.state();
        let (lot, key) = (lot_id.clone(), plate.key());
        let found = s
            .stays
            .range(
                (lot.clone(), key.clone(), Timestamp::MIN, String::new())
                    ..=(lot, key, at, "~".to_owned()),
            )
            .next_back()
            .map(|(_, v)| v.clone());
        self.read_units(query_units(found.as_ref().map_or(0, item_bytes), true));
        Ok(found)
    }

    async fn stays_from(
        &self,
        lot_id: &LotId,
        plate: &Plate,
        from: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<parking_app::history::Stay>> {
        let s = self.state();
        let (lot, key) = (lot_id.clone(), plate.key());
        let found: Vec<parking_app::history::Stay> = s
            .stays
            .range(
                (lot.clone(), key.clone(), from, String::new())
                    ..=(lot, key, Timestamp::MAX, "~".to_owned()),
            )
            .take(limit)
            .map(|(_, v)| v.clone())
            .collect();
        self.read_units(query_units(found.iter().map(item_bytes).sum(), true));
        Ok(found)
    }

    async fn plates_like(&self, lot_id: &LotId, skeleton: &str) -> StoreResult<Vec<LikePlate>> {
        self.read();
        let s = self.state();
        let mut keys: BTreeSet<&String> = BTreeSet::new();
        if let Some(set) = s.registered_like.get(skeleton) {
            keys.extend(set);
        }
        if let Some(set) = s.open_like.get(&(lot_id.clone(), skeleton.to_owned())) {
            keys.extend(set);
        }
        Ok(keys
            .into_iter()
            .filter_map(|k| match s.plates.get(k) {
                Some(r) => Some(LikePlate {
                    plate: r.plate.clone(),
                    registered: true,
                }),
                None => s
                    .timelines
                    .get(&(lot_id.clone(), k.clone()))
                    .map(|t| LikePlate {
                        plate: t.plate.clone(),
                        registered: false,
                    }),
            })
            .collect())
    }

    async fn commit_read(&self, commit: &TimelineCommit) -> StoreResult<Applied> {
        // One transaction: the timeline (and one its track's reads left),
        // its sessions, the outbox, the ledger entry, the lot's counter, a
        // checked-in reservation, the camera's track.
        let parts: Vec<&TimelineCommit> = std::iter::once(commit)
            .chain(commit.released.as_deref())
            .collect();
        let mut items = vec![SMALL_ITEM];
        for c in &parts {
            within_limit("timeline", &c.timeline)?;
            for session in &c.changed {
                within_limit("session", session)?;
            }
            for stay in &c.stays {
                within_limit("stay", stay)?;
            }
            items.push(item_bytes(&c.timeline));
            items.extend(c.changed.iter().map(item_bytes));
            items.extend(c.stays.iter().map(item_bytes));
            items.extend(c.stays_gone.iter().map(|_| SMALL_ITEM));
            items.extend(c.outbox.iter().map(item_bytes));
            items.extend(c.debts.iter().map(|c| match c {
                parking_app::unpaid::DebtChange::Owe(d) => item_bytes(d),
                parking_app::unpaid::DebtChange::Clear { .. } => SMALL_ITEM,
            }));
            if c.open_delta != 0 {
                items.push(SMALL_ITEM);
            }
        }
        if let Some(track) = &commit.track {
            within_limit("track", track)?;
            items.push(item_bytes(track));
        }
        // A reservation moved: its item, the driver's copy, the lot's.
        let given_back = commit
            .released
            .as_ref()
            .and_then(|r| r.check_in_undone.as_ref());
        for r in commit
            .check_in
            .iter()
            .chain(&commit.check_in_undone)
            .chain(given_back)
        {
            items.extend([item_bytes(r), item_bytes(r), SMALL_ITEM]);
        }
        self.write_units(write_units(&items, true));
        let t = &commit.timeline;
        let token = rules::write_token(
            "commit_read",
            &(&t.lot_id, &t.plate, t.version, commit.attempt),
        );
        let mut s = self.state();
        match s.seen(Some(&commit.event), &token) {
            Seen::Duplicate => return Ok(Applied::Duplicate),
            Seen::Mine => return Ok(Applied::Done),
            Seen::New => {}
        }
        let stale = || -> StoreError {
            Refusal::StaleTimeline {
                lot_id: t.lot_id.clone(),
            }
            .into()
        };
        for c in &parts {
            let t = &c.timeline;
            let stored = s
                .timelines
                .get(&(t.lot_id.clone(), t.plate.key()))
                .map_or(0, |t| t.version);
            if stored + 1 != t.version {
                return Err(stale());
            }
        }
        if let Some(track) = &commit.track {
            let key = (
                track.lot_id.clone(),
                track.device_id.clone(),
                track.track.clone(),
            );
            if s.tracks.get(&key).map_or(0, |t| t.version) + 1 != track.version {
                return Err(stale());
            }
        }
        // A reservation checked in, or given back, by this read: refused
        // (the read applied again) when it moved meanwhile.
        // (And the one a track's moved reads had checked in, given back.)
        let moves = [
            (
                commit.check_in.as_ref(),
                ReservationState::Active,
                ReservationState::CheckedIn,
            ),
            (
                commit.check_in_undone.as_ref(),
                ReservationState::CheckedIn,
                ReservationState::Active,
            ),
            (
                given_back,
                ReservationState::CheckedIn,
                ReservationState::Active,
            ),
        ];
        for (r, from, _) in &moves {
            if let Some(r) = r
                && s.reservations.get(&r.id).map(|r| r.state) != Some(*from)
            {
                return Err(stale());
            }
        }
        for (r, _, to) in moves {
            if let Some(r) = r.and_then(|r| s.reservations.get_mut(&r.id)) {
                r.state = to;
            }
        }
        for c in &parts {
            apply_timeline(&mut s, c);
        }
        if let Some(track) = &commit.track {
            s.tracks.insert(
                (
                    track.lot_id.clone(),
                    track.device_id.clone(),
                    track.track.clone(),
                ),
                track.clone(),
            );
        }
        if let Some(e) = &commit.audit {
            s.audit
                .insert((e.lot_id.clone(), e.at, e.id.clone()), e.clone());
        }
        if let Some(p) = &commit.pass {
            s.passes.insert((p.lot_id.clone(), p.id.clone()), p.clone());
        }
        s.remember(Some(&commit.event), &token, self.retention);
        Ok(Applied::Done)
    }

    async fn forget(&self, f: &parking_app::history::Forget) -> StoreResult<()> {
        let mut items: Vec<usize> = f.sessions.iter().map(item_bytes).collect();
        items.extend(
            f.sessions
                .iter()
                .filter(|s| s.driver_id.is_some())
                .map(item_bytes),
        );
        items.extend(f.stays.iter().map(|_| SMALL_ITEM));
        items.push(SMALL_ITEM);
        self.write_units(write_units(&items, true));
        let mut s = self.state();
        let key = (f.lot_id.clone(), f.plate.key());
        let stale = || -> StoreError {
            Refusal::StaleTimeline {
                lot_id: f.lot_id.clone(),
            }
            .into()
        };
        if s.timelines.get(&key).map(|t| t.version) != Some(f.head_version) {
            return Err(stale());
        }
        for session in &f.sessions {
            let stored = s.sessions.get(&session.id).map(|x| x.version);
            if stored != Some(session.version.saturating_sub(1)) {
                return Err(stale());
            }
        }
        for (from, id) in &f.stays {
            s.stays
                .remove(&(f.lot_id.clone(), key.1.clone(), *from, id.to_string()));
        }
        for session in &f.sessions {
            s.sessions.insert(session.id.clone(), session.clone());
        }
        if f.delete_head {
            s.timelines.remove(&key);
        } else if let Some(t) = s.timelines.get_mut(&key) {
            t.version += 1;
        }
        Ok(())
    }

    async fn retention_mark(&self, lot_id: &LotId) -> StoreResult<Option<Timestamp>> {
        self.read();
        Ok(self.state().retention_marks.get(lot_id).copied())
    }

    async fn set_retention_mark(&self, lot_id: &LotId, at: Timestamp) -> StoreResult<()> {
        self.write_units(write_units(&[SMALL_ITEM], false));
        self.state().retention_marks.insert(lot_id.clone(), at);
        Ok(())
    }

    async fn passes_page(
        &self,
        lot_id: &LotId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<Pass>, Option<String>)> {
        let mut v: Vec<Pass> = self
            .passes(lot_id)
            .await?
            .into_iter()
            .filter(|p| after.is_none_or(|a| p.id.as_str() > a))
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        let more = v.len() > limit;
        v.truncate(limit);
        let next = if more {
            v.last().map(|p| p.id.to_string())
        } else {
            None
        };
        Ok((v, next))
    }

    async fn passes(&self, lot_id: &LotId) -> StoreResult<Vec<Pass>> {
        self.read();
        Ok(self
            .state()
            .passes
            .values()
            .filter(|p| &p.lot_id == lot_id)
            .cloned()
            .collect())
    }
}

/// One plate's timeline change, checked: its head, sessions, count,
/// outbox, archived stays and register entries.
fn apply_timeline(s: &mut State, commit: &TimelineCommit) {
    let t = &commit.timeline;
    let key = (t.lot_id.clone(), t.plate.key());
    for session in &commit.changed {
        s.sessions.insert(session.id.clone(), session.clone());
    }
    *s.open_counts.entry(t.lot_id.clone()).or_default() += commit.open_delta;
    let like = (t.lot_id.clone(), skeleton(&key.1));
    if t.open_sessions() > 0 {
        s.open_like.entry(like).or_default().insert(key.1.clone());
    } else if let Some(set) = s.open_like.get_mut(&like) {
        set.remove(&key.1);
    }
    queue_outbox(s, &commit.outbox);
    for (from, id) in &commit.stays_gone {
        s.stays
            .remove(&(t.lot_id.clone(), key.1.clone(), *from, id.to_string()));
    }
    for stay in &commit.stays {
        s.stays.insert(
            (
                t.lot_id.clone(),
                key.1.clone(),
                stay.from,
                stay.id.to_string(),
            ),
            stay.clone(),
        );
    }
    s.timelines.insert(key, t.clone());
    for change in &commit.debts {
        match change {
            parking_app::unpaid::DebtChange::Owe(d) => {
                s.debts
                    .entry((d.operator.clone(), d.plate.key()))
                    .or_default()
                    .insert(d.session_id.clone(), d.clone());
            }
            parking_app::unpaid::DebtChange::Clear {
                operator,
                plate,
                session_id,
            } => {
                let key = (operator.clone(), plate.key());
                if let Some(plate_debts) = s.debts.get_mut(&key) {
                    plate_debts.remove(session_id);
                    if plate_debts.is_empty() {
                        s.debts.remove(&key);
                    }
                }
            }
        }
    }
}
