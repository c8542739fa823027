//! Devices enrolled for onboarding: an operator registers a device's
//! serial number for a place in a lot (a gate, or a bay) before the
//! device is installed; the device then claims its identity with fleet
//! provisioning, and the pre-provisioning hook admits it only as what was
//! enrolled ([`crate::usecases::provisioning`]). One item per serial
//! number, written once; its admission is recorded on it.

use std::future::Future;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::model::{Actor, DeviceKind};
use crate::store::StoreResult;

/// A device enrolled for a place in a lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    pub serial: SerialNumber,
    pub lot_id: LotId,
    pub kind: DeviceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_id: Option<GateId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bay_id: Option<BayId>,
    /// The thing (and device id) it becomes.
    pub thing_name: DeviceId,
    pub enrolled_at: Timestamp,
    pub enrolled_by: Actor,
    /// Set when the hook admitted a claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admitted: Option<Admission>,
}

/// A claim the hook admitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    /// The new certificate's id, as IoT Core gave it to the hook.
    pub certificate_id: String,
    pub at: Timestamp,
}

/// Enrolments by serial number.
pub trait EnrolmentStore: Send + Sync {
    /// Enrols a serial number.
    ///
    /// # Errors
    ///
    /// `Conflict(Refusal::SerialEnrolled)` when it is enrolled already.
    fn enrol(&self, enrolment: &Enrolment) -> impl Future<Output = StoreResult<()>> + Send;
    /// The enrolment of a serial number, if any.
    fn enrolment(
        &self,
        serial: &SerialNumber,
    ) -> impl Future<Output = StoreResult<Option<Enrolment>>> + Send;
    /// Records the hook's admission on the enrolment if the admission it
    /// holds is still `previous` (by certificate id; `None`: not admitted):
    /// of two claims at once, one is admitted.
    ///
    /// # Errors
    ///
    /// `Conflict(Refusal::AdmissionChanged)` when another claim was
    /// admitted meanwhile; `NotFound` for a serial not enrolled.
    fn admit(
        &self,
        serial: &SerialNumber,
        admission: &Admission,
        previous: Option<&str>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
