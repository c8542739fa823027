//! The in-memory twin: devices enrolled for onboarding.

use parking_app::enrolments::{Admission, Enrolment, EnrolmentStore};

use super::*;

impl EnrolmentStore for MemoryStore {
    async fn enrol(&self, enrolment: &Enrolment) -> StoreResult<()> {
        self.write();
        let mut s = self.state();
        if s.enrolments.contains_key(&enrolment.serial) {
            return Err(StoreError::Conflict(Refusal::SerialEnrolled {
                serial: enrolment.serial.clone(),
            }));
        }
        s.enrolments
            .insert(enrolment.serial.clone(), enrolment.clone());
        Ok(())
    }

    async fn enrolment(&self, serial: &SerialNumber) -> StoreResult<Option<Enrolment>> {
        self.read();
        Ok(self.state().enrolments.get(serial).cloned())
    }

    async fn admit(
        &self,
        serial: &SerialNumber,
        admission: &Admission,
        previous: Option<&str>,
    ) -> StoreResult<()> {
        self.write();
        match self.state().enrolments.get_mut(serial) {
            Some(e) if e.admitted.as_ref().map(|a| a.certificate_id.as_str()) != previous => {
                Err(StoreError::Conflict(Refusal::AdmissionChanged {
                    serial: serial.clone(),
                }))
            }
            Some(e) => {
                e.admitted = Some(admission.clone());
                Ok(())
            }
            None => Err(StoreError::not_found(format!("enrolment {serial}"))),
        }
    }
}
