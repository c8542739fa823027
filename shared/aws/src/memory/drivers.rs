//! The in-memory twin: drivers, their plates and payment methods.

use super::*;

impl DriverStore for MemoryStore {
    async fn erase_driver(&self, driver_id: &DriverId) -> StoreResult<()> {
        self.write();
        let mut s = self.state();
        s.drivers.remove(driver_id);
        s.driver_claims.retain(|(d, _), _| d != driver_id);
        // The copies in the driver's partitions go: their stays and
        // reservations are no longer listed for them.
        let gone: Vec<String> = s
            .sessions
            .values()
            .filter(|x| x.driver_id.as_ref() == Some(driver_id))
            .map(|x| format!("S#{}", x.id))
            .chain(
                s.reservations
                    .values()
                    .filter(|r| &r.driver_id == driver_id)
                    .map(|r| format!("R#{}", r.id)),
            )
            .collect();
        for g in gone {
            s.erased_copies.insert((driver_id.clone(), g));
        }
        Ok(())
    }

    async fn put_driver(&self, driver: &Driver) -> StoreResult<()> {
        within_limit("driver", driver)?;
        self.state()
            .drivers
            .insert(driver.id.clone(), driver.clone());
        Ok(())
    }

    async fn get_driver(&self, driver_id: &DriverId) -> StoreResult<Driver> {
        found(self.state().drivers.get(driver_id), || {
            format!("driver {driver_id}")
        })
    }

    async fn register_plate(&self, registration: &PlateRegistration) -> StoreResult<()> {
        let mut s = self.state();
        let key = registration.plate.key();
        match s.plates.get(&key) {
            Some(held) if held.driver_id == registration.driver_id => Ok(()),
            Some(_) => Err(Refusal::PlateRegisteredToAnother.into()),
            None => {
                s.registered_like
                    .entry(skeleton(&key))
                    .or_default()
                    .insert(key.clone());
                s.plates.insert(key, registration.clone());
                Ok(())
            }
        }
    }

    async fn unregister_plate(&self, plate: &Plate, driver_id: &DriverId) -> StoreResult<()> {
        let mut s = self.state();
        let key = plate.key();
        match s.plates.get(&key) {
            None => Ok(()),
            Some(held) if &held.driver_id != driver_id => {
                Err(Refusal::PlateRegisteredToAnother.into())
            }
            Some(_) => {
                s.plates.remove(&key);
                if let Some(set) = s.registered_like.get_mut(&skeleton(&key)) {
                    set.remove(&key);
                }
                Ok(())
            }
        }
    }

    async fn plate_owner(&self, plate: &Plate) -> StoreResult<Option<PlateRegistration>> {
        Ok(self.state().plates.get(&plate.key()).cloned())
    }

    async fn driver_plates(&self, driver_id: &DriverId) -> StoreResult<Vec<PlateRegistration>> {
        let mut v: Vec<PlateRegistration> = self
            .state()
            .plates
            .values()
            .filter(|p| &p.driver_id == driver_id)
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
            return Err(Refusal::PaymentMethodOfAnother {
                method_id: method.id.clone(),
            }
            .into());
        }
        s.methods.insert(method.id.clone(), method.clone());
        Ok(())
    }

    async fn set_payment_customer(
        &self,
        driver_id: &DriverId,
        method_id: &PaymentMethodId,
        customer: &str,
    ) -> StoreResult<()> {
        self.write();
        if let Some(m) = self.state().methods.get_mut(method_id)
            && &m.driver_id == driver_id
        {
            m.customer = Some(customer.to_owned());
        }
        Ok(())
    }

    async fn payment_methods(&self, driver_id: &DriverId) -> StoreResult<Vec<PaymentMethod>> {
        Ok(self
            .state()
            .methods
            .values()
            .filter(|m| &m.driver_id == driver_id)
            .cloned()
            .collect())
    }

    async fn driver_view(&self, driver_id: &DriverId) -> StoreResult<DriverView> {
        let s = self.state();
        let methods = s
            .methods
            .values()
            .filter(|m| &m.driver_id == driver_id)
            .cloned()
            .collect();
        let mut reservations: Vec<Reservation> = s
            .reservations
            .values()
            .filter(|r| {
                &r.driver_id == driver_id
                    && r.state == ReservationState::Active
                    && !s
                        .erased_copies
                        .contains(&(driver_id.clone(), format!("R#{}", r.id)))
            })
            .cloned()
            .collect();
        reservations.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        let view = DriverView {
            methods,
            reservations,
        };
        // One query of the driver's partition.
        let bytes = view.methods.iter().map(item_bytes).sum::<usize>()
            + view.reservations.iter().map(item_bytes).sum::<usize>();
        self.read_units(query_units(bytes, true));
        Ok(view)
    }

    async fn remove_payment_method(
        &self,
        driver_id: &DriverId,
        method_id: &PaymentMethodId,
    ) -> StoreResult<()> {
        self.write();
        let mut s = self.state();
        match s.methods.get(method_id) {
            None => Ok(()),
            Some(m) if &m.driver_id != driver_id => Err(Refusal::PaymentMethodOfAnother {
                method_id: method_id.clone(),
            }
            .into()),
            Some(_) => {
                s.methods.remove(method_id);
                Ok(())
            }
        }
    }
}
