//! The in-memory store: the embedded default for local runs and the fast
//! twin for handler tests. It keeps every invariant the DynamoDB store
//! keeps, each operation atomic under one lock; the conformance suite runs
//! against both.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use jiff::{SignedDuration, Timestamp};
use parking_app::ports::*;
use parking_app::rules::refusals::*;
use parking_app::rules::{
    DEFAULT_EVENT_RETENTION, check_new_session, check_session_update, reservation_slots, slot_start,
};
use parking_app::*;
use parking_core::{Plate, SessionState};

#[derive(Default)]
struct State {
    lots: HashMap<String, Lot>,
    gates: HashMap<(String, String), Gate>,
    devices: HashMap<String, Device>,
    bays: BTreeMap<(String, String), Bay>,
    drivers: HashMap<String, Driver>,
    plates: HashMap<String, PlateRegistration>,
    methods: BTreeMap<String, PaymentMethod>,
    slots: HashMap<(String, i64), u32>,
    reservations: HashMap<String, Reservation>,
    sessions: HashMap<String, Session>,
    /// (lot, plate key) → session id, for sessions that hold their plate.
    open: HashMap<(String, String), String>,
    payments: HashMap<String, Payment>,
    /// (device, event) → expiry, seconds since the epoch.
    ledger: HashMap<(String, String), i64>,
}

impl State {
    fn seen(&self, e: &EventRef) -> bool {
        self.ledger
            .get(&(e.device_id.clone(), e.event_id.clone()))
            .is_some_and(|&expires| expires > e.processed_at.as_second())
    }

    fn remember(&mut self, e: &EventRef, retention: SignedDuration) {
        let expires = e.processed_at.as_second() + retention.as_secs();
        self.ledger
            .insert((e.device_id.clone(), e.event_id.clone()), expires);
    }
}

/// All state in process memory.
pub struct MemoryStore {
    state: Mutex<State>,
    retention: SignedDuration,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(DEFAULT_EVENT_RETENTION)
    }
}

impl MemoryStore {
    /// A store that remembers processed device events for `retention`.
    pub fn new(retention: SignedDuration) -> Self {
        MemoryStore {
            state: Mutex::new(State::default()),
            retention,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave half a write behind:
        // every operation checks first and writes last.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn found<T: Clone>(value: Option<&T>, what: impl FnOnce() -> String) -> StoreResult<T> {
    value.cloned().ok_or_else(|| StoreError::not_found(what()))
}

impl LotStore for MemoryStore {
    async fn put_lot(&self, lot: &Lot) -> StoreResult<()> {
        self.state().lots.insert(lot.id.clone(), lot.clone());
        Ok(())
    }

    async fn get_lot(&self, lot_id: &str) -> StoreResult<Lot> {
        found(self.state().lots.get(lot_id), || format!("lot {lot_id}"))
    }

    async fn put_gate(&self, gate: &Gate) -> StoreResult<()> {
        self.state()
            .gates
            .insert((gate.lot_id.clone(), gate.id.clone()), gate.clone());
        Ok(())
    }

    async fn get_gate(&self, lot_id: &str, gate_id: &str) -> StoreResult<Gate> {
        found(
            self.state()
                .gates
                .get(&(lot_id.to_owned(), gate_id.to_owned())),
            || format!("gate {gate_id} of lot {lot_id}"),
        )
    }

    async fn put_device(&self, device: &Device) -> StoreResult<()> {
        self.state()
            .devices
            .insert(device.id.clone(), device.clone());
        Ok(())
    }

    async fn get_device(&self, device_id: &str) -> StoreResult<Device> {
        found(self.state().devices.get(device_id), || {
            format!("device {device_id}")
        })
    }

    async fn record_bay(&self, bay: &Bay, cause: Option<&EventRef>) -> StoreResult<BayOutcome> {
        let mut s = self.state();
        if cause.is_some_and(|e| s.seen(e)) {
            return Ok(BayOutcome::Duplicate);
        }
        let key = (bay.lot_id.clone(), bay.id.clone());
        if s.bays.get(&key).is_some_and(|old| old.seq >= bay.seq) {
            return Ok(BayOutcome::Stale);
        }
        s.bays.insert(key, bay.clone());
        if let Some(e) = cause {
            s.remember(e, self.retention);
        }
        Ok(BayOutcome::Updated)
    }

    async fn bays(&self, lot_id: &str) -> StoreResult<Vec<Bay>> {
        Ok(self
            .state()
            .bays
            .range((lot_id.to_owned(), String::new())..)
            .take_while(|((lot, _), _)| lot == lot_id)
            .map(|(_, b)| b.clone())
            .collect())
    }
}

impl DriverStore for MemoryStore {
    async fn put_driver(&self, driver: &Driver) -> StoreResult<()> {
        self.state()
            .drivers
            .insert(driver.id.clone(), driver.clone());
        Ok(())
    }

    async fn get_driver(&self, driver_id: &str) -> StoreResult<Driver> {
        found(self.state().drivers.get(driver_id), || {
            format!("driver {driver_id}")
        })
    }

    async fn register_plate(&self, registration: &PlateRegistration) -> StoreResult<()> {
        let mut s = self.state();
        let key = registration.plate.key();
        match s.plates.get(&key) {
            Some(held) if held.driver_id == registration.driver_id => Ok(()),
            Some(_) => Err(plate_registered_to_another(&registration.plate)),
            None => {
                s.plates.insert(key, registration.clone());
                Ok(())
            }
        }
    }

    async fn unregister_plate(&self, plate: &Plate, driver_id: &str) -> StoreResult<()> {
        let mut s = self.state();
        let key = plate.key();
        match s.plates.get(&key) {
            None => Err(StoreError::not_found(format!("plate {key}"))),
            Some(held) if held.driver_id != driver_id => Err(plate_registered_to_another(plate)),
            Some(_) => {
                s.plates.remove(&key);
                Ok(())
            }
        }
    }

    async fn plate_owner(&self, plate: &Plate) -> StoreResult<Option<PlateRegistration>> {
        Ok(self.state().plates.get(&plate.key()).cloned())
    }

    async fn driver_plates(&self, driver_id: &str) -> StoreResult<Vec<PlateRegistration>> {
        let mut v: Vec<PlateRegistration> = self
            .state()
            .plates
            .values()
            .filter(|p| p.driver_id == driver_id)
            .cloned()
            .collect();
        v.sort_by_key(|p| p.plate.key());
        Ok(v)
    }

    async fn add_payment_method(&self, method: &PaymentMethod) -> StoreResult<()> {
        let mut s = self.state();
        if let Some(held) = s.methods.get(&method.id)
            && held.driver_id != method.driver_id
        {
            return Err(method_of_another(&method.id));
        }
        s.methods.insert(method.id.clone(), method.clone());
        Ok(())
    }

    async fn payment_methods(&self, driver_id: &str) -> StoreResult<Vec<PaymentMethod>> {
        Ok(self
            .state()
            .methods
            .values()
            .filter(|m| m.driver_id == driver_id)
            .cloned()
            .collect())
    }
}

impl ReservationStore for MemoryStore {
    async fn reserve(&self, reservation: &Reservation, lot: &Lot) -> StoreResult<()> {
        let slots = reservation_slots(lot, reservation)?;
        let mut s = self.state();
        if s.reservations.contains_key(&reservation.id) {
            return Err(reservation_exists(&reservation.id));
        }
        for &slot in &slots {
            if s.slots.get(&(lot.id.clone(), slot)).copied().unwrap_or(0) >= lot.reservable {
                return Err(slot_full(&lot.id, slot));
            }
        }
        for slot in slots {
            *s.slots.entry((lot.id.clone(), slot)).or_default() += 1;
        }
        s.reservations
            .insert(reservation.id.clone(), reservation.clone());
        Ok(())
    }

    async fn cancel_reservation(
        &self,
        reservation_id: &str,
        lot: &Lot,
    ) -> StoreResult<Reservation> {
        let mut s = self.state();
        let mut r = found(s.reservations.get(reservation_id), || {
            format!("reservation {reservation_id}")
        })?;
        if r.state != ReservationState::Active {
            return Err(reservation_not_active(reservation_id));
        }
        let slots = reservation_slots(lot, &r)?;
        for slot in slots {
            if let Some(n) = s.slots.get_mut(&(lot.id.clone(), slot)) {
                *n = n.saturating_sub(1);
            }
        }
        r.state = ReservationState::Cancelled;
        s.reservations.insert(r.id.clone(), r.clone());
        Ok(r)
    }

    async fn get_reservation(&self, reservation_id: &str) -> StoreResult<Reservation> {
        found(self.state().reservations.get(reservation_id), || {
            format!("reservation {reservation_id}")
        })
    }

    async fn slot_count(&self, lot: &Lot, at: Timestamp) -> StoreResult<u32> {
        let slot = slot_start(lot, at);
        Ok(self
            .state()
            .slots
            .get(&(lot.id.clone(), slot))
            .copied()
            .unwrap_or(0))
    }
}

impl SessionStore for MemoryStore {
    async fn open_session(
        &self,
        session: &Session,
        cause: Option<&EventRef>,
    ) -> StoreResult<Applied> {
        check_new_session(session)?;
        let mut s = self.state();
        if cause.is_some_and(|e| s.seen(e)) {
            return Ok(Applied::Duplicate);
        }
        let hold = (session.lot_id.clone(), session.plate.key());
        if s.open.contains_key(&hold) {
            return Err(plate_has_open_session(&session.lot_id, &session.plate));
        }
        if s.sessions.contains_key(&session.id) {
            return Err(session_exists(&session.id));
        }
        s.open.insert(hold, session.id.clone());
        s.sessions.insert(session.id.clone(), session.clone());
        if let Some(e) = cause {
            s.remember(e, self.retention);
        }
        Ok(Applied::Done)
    }

    async fn open_session_for(&self, lot_id: &str, plate: &Plate) -> StoreResult<Option<Session>> {
        let s = self.state();
        Ok(s.open
            .get(&(lot_id.to_owned(), plate.key()))
            .and_then(|id| s.sessions.get(id))
            .cloned())
    }

    async fn get_session(&self, session_id: &str) -> StoreResult<Session> {
        found(self.state().sessions.get(session_id), || {
            format!("session {session_id}")
        })
    }

    async fn update_session(
        &self,
        expected: (SessionState, u64),
        next: &Session,
        cause: Option<&EventRef>,
    ) -> StoreResult<Applied> {
        check_session_update(expected, next)?;
        let mut s = self.state();
        if cause.is_some_and(|e| s.seen(e)) {
            return Ok(Applied::Duplicate);
        }
        let current = s.sessions.get(&next.id);
        if current.is_none_or(|c| (c.state, c.version) != expected) {
            return Err(stale_session(&next.id, expected));
        }
        let hold = (next.lot_id.clone(), next.plate.key());
        match (expected.0.holds_plate(), next.state.holds_plate()) {
            (true, false) => {
                s.open.remove(&hold);
            }
            (false, true) => {
                if s.open.contains_key(&hold) {
                    return Err(plate_has_open_session(&next.lot_id, &next.plate));
                }
                s.open.insert(hold, next.id.clone());
            }
            _ => {}
        }
        s.sessions.insert(next.id.clone(), next.clone());
        if let Some(e) = cause {
            s.remember(e, self.retention);
        }
        Ok(Applied::Done)
    }
}

impl PaymentStore for MemoryStore {
    async fn record_payment(&self, payment: &Payment) -> StoreResult<Payment> {
        let mut s = self.state();
        Ok(s.payments
            .entry(payment.idempotency_key.clone())
            .or_insert_with(|| payment.clone())
            .clone())
    }

    async fn get_payment(&self, key: &str) -> StoreResult<Payment> {
        found(self.state().payments.get(key), || format!("payment {key}"))
    }
}

impl EventLedger for MemoryStore {
    async fn record_event(&self, event: &EventRef) -> StoreResult<Applied> {
        let mut s = self.state();
        if s.seen(event) {
            return Ok(Applied::Duplicate);
        }
        s.remember(event, self.retention);
        Ok(Applied::Done)
    }

    async fn is_processed(
        &self,
        device_id: &str,
        event_id: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(self
            .state()
            .ledger
            .get(&(device_id.to_owned(), event_id.to_owned()))
            .is_some_and(|&expires| expires > now.as_second()))
    }
}
