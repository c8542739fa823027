//! Drivers, plate registrations and payment methods.

use aws_sdk_dynamodb::types::AttributeValue;
use parking_app::ids::*;
use parking_app::*;
use parking_core::Plate;

use super::DynamoStore;
use super::keys::{self, body, s};
use super::reads::*;
use super::txn::{Cond, Step};
use serde::Serialize;

impl DynamoStore {
    /// Whether a plate's registration item names this driver.
    fn held_by(item: Option<&keys::Item>, driver_id: &DriverId) -> bool {
        matches!(
            item.and_then(|i| i.get("driver_id")),
            Some(AttributeValue::S(d)) if d == driver_id.as_str()
        )
    }
}

impl DriverStore for DynamoStore {
    /// One transaction: the owner item (only if it is this driver's) and
    /// the driver's copy.
    async fn remove_payment_method(
        &self,
        driver_id: &DriverId,
        method_id: &PaymentMethodId,
    ) -> StoreResult<()> {
        let txn = self
            .txn(None)
            .delete(
                Step::Owner,
                &keys::method_owner(method_id),
                Some(
                    Cond::new("attribute_not_exists(PK) OR driver_id = :driver")
                        .value(":driver", s(driver_id.as_str())),
                ),
            )?
            .delete(
                Step::DriverEntry,
                &keys::payment_method(driver_id, method_id),
                None,
            )?;
        match txn.run(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Refusal::PaymentMethodOfAnother {
                method_id: method_id.clone(),
            }
            .into()),
        }
    }

    /// One strongly consistent query of the driver's partition.
    async fn driver_view(&self, driver_id: &DriverId) -> StoreResult<DriverView> {
        let mut view = DriverView::default();
        for item in self.query(keys::driver_all(driver_id)).await? {
            match kind(&item) {
                Some("payment_method") => view.methods.push(body(item)?),
                Some("driver_reservation") => {
                    let r: Reservation = body(item)?;
                    if r.state == ReservationState::Active {
                        view.reservations.push(r);
                    }
                }
                _ => {}
            }
        }
        view.reservations
            .sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Ok(view)
    }

    /// A query of each of the driver's two partitions, then one delete per
    /// item (a driver has tens of items, not thousands: a stay's copy is
    /// one item).
    async fn erase_driver(&self, driver_id: &DriverId) -> StoreResult<()> {
        let mut items = self.query(keys::driver_all(driver_id)).await?;
        items.extend(self.query(keys::driver_sessions(driver_id)).await?);
        for item in items {
            let key: keys::Item = item
                .into_iter()
                .filter(|(k, _)| k == "PK" || k == "SK")
                .collect();
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .send()
                .await
                .map_err(super::errors::from_sdk)?;
        }
        Ok(())
    }

    async fn put_driver(&self, driver: &Driver) -> StoreResult<()> {
        self.put_plain(&keys::driver(&driver.id), driver).await
    }

    async fn get_driver(&self, driver_id: &DriverId) -> StoreResult<Driver> {
        self.get_body(&keys::driver(driver_id), || format!("driver {driver_id}"))
            .await
    }

    /// The registration and the driver's copy, in one transaction; a
    /// registration already held by the same driver is kept as it is.
    async fn register_plate(&self, registration: &PlateRegistration) -> StoreResult<()> {
        let owner = keys::plate(&registration.plate);
        let txn = self
            .txn(None)
            .put(
                Step::Owner,
                owner.item(registration)?,
                Some(Cond::new("attribute_not_exists(PK)").found_on_failure()),
            )?
            .put(
                Step::DriverEntry,
                keys::driver_plate(&registration.driver_id, &registration.plate)
                    .item(registration)?,
                None,
            )?;
        match txn.run(&self.client).await? {
            Ok(()) => Ok(()),
            Err(failed) => {
                let held = match failed.found(Step::Owner) {
                    Some(item) => Some(item.clone()),
                    None => self.get(&owner).await?,
                };
                if Self::held_by(held.as_ref(), &registration.driver_id) {
                    Ok(())
                } else {
                    Err(Refusal::PlateRegisteredToAnother.into())
                }
            }
        }
    }

    async fn unregister_plate(&self, plate: &Plate, driver_id: &DriverId) -> StoreResult<()> {
        let owner = keys::plate(plate);
        let txn = self
            .txn(None)
            .delete(
                Step::Owner,
                &owner,
                Some(
                    Cond::new("driver_id = :driver")
                        .value(":driver", s(driver_id.as_str()))
                        .found_on_failure(),
                ),
            )?
            .delete(
                Step::DriverEntry,
                &keys::driver_plate(driver_id, plate),
                None,
            )?;
        match txn.run(&self.client).await? {
            Ok(()) => Ok(()),
            // Nobody holds it (any more): released, by this call's earlier
            // attempt or before it.
            Err(failed) => match failed.found(Step::Owner) {
                Some(_) => Err(Refusal::PlateRegisteredToAnother.into()),
                None => match self.get(&owner).await? {
                    None => Ok(()),
                    Some(_) => Err(Refusal::PlateRegisteredToAnother.into()),
                },
            },
        }
    }

    async fn plate_owner(&self, plate: &Plate) -> StoreResult<Option<PlateRegistration>> {
        self.get_opt(&keys::plate(plate)).await
    }

    async fn driver_plates(&self, driver_id: &DriverId) -> StoreResult<Vec<PlateRegistration>> {
        self.query_bodies(keys::driver_plates(driver_id)).await
    }

    /// One conditional update of the one attribute: a method removed
    /// meanwhile fails the condition and stays removed.
    async fn set_payment_customer(
        &self,
        driver_id: &DriverId,
        method_id: &PaymentMethodId,
        customer: &str,
    ) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::payment_method(driver_id, method_id).key()))
            .update_expression("SET customer = :customer")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":customer", s(customer))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(aws_sdk_dynamodb::error::SdkError::ServiceError(e))
                if e.err().is_conditional_check_failed_exception() =>
            {
                Ok(())
            }
            Err(e) => Err(super::errors::from_sdk(e)),
        }
    }

    async fn add_payment_method(&self, method: &PaymentMethod) -> StoreResult<()> {
        #[derive(Serialize)]
        struct Owner<'a> {
            driver_id: &'a DriverId,
        }
        let txn = self
            .txn(None)
            .put(
                Step::Owner,
                keys::method_owner(&method.id).item(&Owner {
                    driver_id: &method.driver_id,
                })?,
                Some(
                    Cond::new("attribute_not_exists(PK) OR driver_id = :driver")
                        .value(":driver", s(method.driver_id.as_str())),
                ),
            )?
            .put(
                Step::DriverEntry,
                keys::payment_method(&method.driver_id, &method.id).item(method)?,
                None,
            )?;
        match txn.run(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Refusal::PaymentMethodOfAnother {
                method_id: method.id.clone(),
            }
            .into()),
        }
    }

    async fn payment_methods(&self, driver_id: &DriverId) -> StoreResult<Vec<PaymentMethod>> {
        self.query_bodies(keys::payment_methods(driver_id)).await
    }
}
