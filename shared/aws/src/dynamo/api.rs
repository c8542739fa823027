//! What the APIs list: lots, a driver's reservations and sessions, and
//! the removal of a payment method.

use parking_app::ids::*;
use parking_app::*;
use parking_core::SessionState;

use super::DynamoStore;
use super::keys::{self, body, s};
use super::txn::{Cond, Step};

impl ApiStore for DynamoStore {
    /// One query of the index's `LOTS` partition.
    async fn lots(&self) -> StoreResult<Vec<Lot>> {
        let mut v: Vec<Lot> = self
            .query_index(keys::LOTS, None)
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

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

    async fn driver_reservations(&self, driver_id: &DriverId) -> StoreResult<Vec<Reservation>> {
        let mut v: Vec<Reservation> = self
            .query_bodies(keys::driver_reservations(driver_id))
            .await?;
        v.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Ok(v)
    }

    async fn driver_sessions(&self, driver_id: &DriverId) -> StoreResult<Vec<Session>> {
        let v: Vec<Session> = self.query_bodies(keys::driver_sessions(driver_id)).await?;
        Ok(v.into_iter()
            .filter(|s| s.state != SessionState::Superseded)
            .collect())
    }
}
