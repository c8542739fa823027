//! The in-memory twin: lots: their configuration, bay readings, device presence and occupancy.

use super::*;

impl LotStore for MemoryStore {
    async fn put_lot(&self, lot: &Lot) -> StoreResult<()> {
        self.state().lots.insert(lot.id.clone(), lot.clone());
        Ok(())
    }

    async fn get_lot(&self, lot_id: &LotId) -> StoreResult<Lot> {
        found(self.state().lots.get(lot_id), || format!("lot {lot_id}"))
    }

    async fn put_gate(&self, gate: &Gate) -> StoreResult<()> {
        self.state()
            .gates
            .insert((gate.lot_id.clone(), gate.id.clone()), gate.clone());
        Ok(())
    }

    async fn get_gate(&self, lot_id: &LotId, gate_id: &GateId) -> StoreResult<Gate> {
        found(
            self.state().gates.get(&(lot_id.clone(), gate_id.clone())),
            || format!("gate {gate_id} of lot {lot_id}"),
        )
    }

    async fn put_device(&self, device: &Device) -> StoreResult<()> {
        self.state()
            .devices
            .insert(device.id.clone(), device.clone());
        Ok(())
    }

    async fn get_device(&self, device_id: &DeviceId) -> StoreResult<Device> {
        found(self.state().devices.get(device_id), || {
            format!("device {device_id}")
        })
    }

    async fn record_bay(&self, bay: &Bay, cause: Option<&EventRef>) -> StoreResult<BayOutcome> {
        // The bay, the event's ledger item, and its shard of the summary.
        self.write_units(write_units(
            &[item_bytes(bay), SMALL_ITEM, SMALL_ITEM],
            true,
        ));
        let token = rules::write_token("record_bay", &(bay, cause));
        let mut s = self.state();
        match s.seen(cause, &token) {
            Seen::Duplicate => return Ok(BayOutcome::Duplicate),
            Seen::Mine => return Ok(BayOutcome::Updated),
            Seen::New => {}
        }
        let key = (bay.lot_id.clone(), bay.id.clone());
        if let Some(old) = s.bays.get(&key) {
            if old == bay {
                return Ok(BayOutcome::Updated);
            }
            if !rules::bay_reading_replaces(old, bay) {
                return Ok(BayOutcome::Stale);
            }
        }
        s.bays.insert(key, bay.clone());
        s.remember(cause, &token, self.retention);
        Ok(BayOutcome::Updated)
    }

    async fn bay(&self, lot_id: &LotId, bay_id: &BayId) -> StoreResult<Option<Bay>> {
        self.read();
        Ok(self
            .state()
            .bays
            .get(&(lot_id.clone(), bay_id.clone()))
            .cloned())
    }

    async fn bays(&self, lot_id: &LotId) -> StoreResult<Vec<Bay>> {
        Ok(self
            .state()
            .bays
            .iter()
            .filter(|((lot, _), _)| lot == lot_id)
            .map(|(_, b)| b.clone())
            .collect())
    }

    async fn put_tariff(&self, tariff: &TariffRecord) -> StoreResult<()> {
        self.write();
        self.state()
            .tariffs
            .insert(tariff.id.clone(), tariff.clone());
        Ok(())
    }

    async fn lot_config(&self, lot_id: &LotId) -> StoreResult<LotConfig> {
        let s = self.state();
        let lot = found(s.lots.get(lot_id), || format!("lot {lot_id}"))?;
        let mut tariffs = Vec::new();
        let ids =
            std::iter::once(&lot.tariff_id).chain(lot.tariff_schedule.iter().map(|v| &v.tariff_id));
        for id in ids {
            tariffs.push(found(s.tariffs.get(id), || format!("tariff {id}"))?);
        }
        let mut gates: Vec<Gate> = s
            .gates
            .values()
            .filter(|g| &g.lot_id == lot_id)
            .cloned()
            .collect();
        gates.sort_by(|a, b| a.id.cmp(&b.id));
        let mut devices: Vec<Device> = s
            .devices
            .values()
            .filter(|d| &d.lot_id == lot_id)
            .cloned()
            .collect();
        devices.sort_by(|a, b| a.id.cmp(&b.id));
        let config = LotConfig {
            lot,
            gates,
            devices,
            tariffs,
        };
        // One query of the lot's partition (its tariffs by a batch get).
        let bytes =
            item_bytes(&config.lot) + alike_bytes(&config.gates) + alike_bytes(&config.devices);
        let tariffs: Vec<usize> = config.tariffs.iter().map(item_bytes).collect();
        self.read_units(query_units(bytes, true) + get_units(&tariffs));
        Ok(config)
    }

    async fn occupancy(&self, lot: &Lot, at: Timestamp) -> StoreResult<Occupancy> {
        let occupancy = self.state().occupancy(lot, at);
        // One query of the lot's summary shards and held reservations.
        let ids: usize = occupancy.free.iter().map(|b| b.as_str().len()).sum();
        let bytes = ids
            + occupancy.occupied as usize * 8
            + SMALL_ITEM * (LIVE_SHARDS + occupancy.held_reservations as usize);
        self.read_units(query_units(bytes, true));
        Ok(occupancy)
    }

    async fn lot_live(&self, lot: &Lot, at: Timestamp) -> StoreResult<LotLive> {
        let s = self.state();
        let lot_id = &lot.id;
        let mut devices: Vec<Device> = s
            .devices
            .values()
            .filter(|d| &d.lot_id == lot_id)
            .cloned()
            .collect();
        devices.sort_by(|a, b| a.id.cmp(&b.id));
        let live = LotLive {
            occupancy: s.occupancy(lot, at),
            bays: s
                .bays
                .iter()
                .filter(|((lot, _), _)| lot == lot_id)
                .map(|(_, b)| b.clone())
                .collect(),
            devices,
        };
        // One query of the lot's partition: bays, devices, summary, holds.
        let bytes = alike_bytes(&live.bays)
            + alike_bytes(&live.devices)
            + SMALL_ITEM * (LIVE_SHARDS + live.occupancy.held_reservations as usize);
        self.read_units(query_units(bytes, true));
        Ok(live)
    }

    async fn record_presence(
        &self,
        device_id: &DeviceId,
        presence: &Presence,
        outbox: &[parking_app::outbox::OutboxMessage],
    ) -> StoreResult<PresenceOutcome> {
        self.write();
        let mut s = self.state();
        let device = s
            .devices
            .get_mut(device_id)
            .ok_or_else(|| StoreError::not_found(format!("device {device_id}")))?;
        match &device.presence {
            Some(held) if held == presence => Ok(PresenceOutcome::Updated),
            Some(held) if !presence.newer_than(held) => Ok(PresenceOutcome::Stale),
            _ => {
                device.presence = Some(*presence);
                queue_outbox(&mut s, outbox);
                Ok(PresenceOutcome::Updated)
            }
        }
    }

    async fn lots(&self) -> StoreResult<Vec<Lot>> {
        self.read();
        let mut v: Vec<Lot> = self.state().lots.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    async fn update_lot(&self, lot: &Lot, audit: &AuditEntry) -> StoreResult<()> {
        self.write();
        let mut s = self.state();
        let stored = s.lots.get(&lot.id).map_or(0, |l| l.revision);
        if !s.lots.contains_key(&lot.id) || stored + 1 != lot.revision {
            return Err(Refusal::StaleLot {
                lot_id: lot.id.clone(),
                revision: lot.revision.saturating_sub(1),
            }
            .into());
        }
        s.lots.insert(lot.id.clone(), lot.clone());
        s.audit.insert(
            (audit.lot_id.clone(), audit.at, audit.id.clone()),
            audit.clone(),
        );
        Ok(())
    }
}
