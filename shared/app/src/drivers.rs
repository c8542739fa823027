//! Drivers, the plates registered to them and their payment methods.
//!
//! Protocol: a plate belongs to one driver at a time, and a payment method
//! to one driver, each guarded by a conditional write on an owner item.

use std::future::Future;

use crate::ids::*;
use crate::model::*;
use crate::store::StoreResult;
use parking_core::Plate;

/// A registered driver as a plate read needs them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriverView {
    pub methods: Vec<PaymentMethod>,
    /// Reservations not cancelled or used, in every lot.
    pub reservations: Vec<Reservation>,
}

/// Drivers, the plates registered to them and their payment methods.
pub trait DriverStore: Send + Sync {
    fn put_driver(&self, driver: &Driver) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_driver(&self, driver_id: &DriverId) -> impl Future<Output = StoreResult<Driver>> + Send;
    /// Registers a plate to a driver; refused with
    /// [`Refusal::PlateRegisteredToAnother`](crate::store::Refusal::PlateRegisteredToAnother) when another driver holds it.
    /// Registering it again to the same driver keeps the first
    /// registration and succeeds.
    fn register_plate(
        &self,
        registration: &PlateRegistration,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Releases a plate held by this driver; a plate nobody holds is
    /// already released. Refused when another driver holds it.
    fn unregister_plate(
        &self,
        plate: &Plate,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Who a plate is registered to, if anyone. One read.
    fn plate_owner(
        &self,
        plate: &Plate,
    ) -> impl Future<Output = StoreResult<Option<PlateRegistration>>> + Send;
    /// The plates of a driver, read-after-write consistent.
    fn driver_plates(
        &self,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<Vec<PlateRegistration>>> + Send;
    /// Adds a payment method; refused when it belongs to another driver.
    fn add_payment_method(
        &self,
        method: &PaymentMethod,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn payment_methods(
        &self,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<Vec<PaymentMethod>>> + Send;
    /// Keeps the provider's customer a payment method was saved with. It
    /// changes that field only, and only while the method exists: a card
    /// removed meanwhile stays removed.
    fn set_payment_customer(
        &self,
        driver_id: &DriverId,
        method_id: &PaymentMethodId,
        customer: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Removes a driver's payment method; one already gone is removed.
    /// Refused with [`Refusal::PaymentMethodOfAnother`](crate::store::Refusal::PaymentMethodOfAnother) when it is another
    /// driver's.
    fn remove_payment_method(
        &self,
        driver_id: &DriverId,
        method_id: &PaymentMethodId,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Erases what is left of a driver's account once their plates and
    /// cards are released: the profile, the copies in their partition
    /// (reservations, stays), and their claims' copies. The stays
    /// themselves stay, as the lots' records.
    fn erase_driver(&self, driver_id: &DriverId) -> impl Future<Output = StoreResult<()>> + Send;
    /// A driver's cards and live reservations: one read.
    fn driver_view(
        &self,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<DriverView>> + Send;
}
