//! Onboarding by claim (AWS IoT fleet provisioning), and the rule that a
//! device becomes only what an operator enrolled.
//!
//! 1. **Enrol.** An operator registers the device's serial number for a
//!    gate (camera or barrier) or a bay (sensor) of their lot
//!    ([`enrol`]; `POST /v1/operator/lots/{lot}/enrolments`). It gets its
//!    thing name (`{lot}-{cam|bar|sensor}-{gate|bay}-{serial}` unless
//!    given), which is its device id. A serial is enrolled once.
//! 2. **Claim.** The device, shipped with the fleet's claim certificate
//!    (which may only create a certificate and call the provisioning
//!    templates), asks IoT Core for its own certificate and calls the
//!    template with its `SerialNumber`. IoT Core calls the
//!    pre-provisioning hook ([`admit`]) first.
//! 3. **Admit.** The hook admits a serial that is enrolled and answers the
//!    thing's name and attributes (`Lot`, `Gate` or `Bay`, `Kind`) as
//!    parameter overrides, so the thing is made as enrolled whatever the
//!    device claimed; the device is put in the lot's registry at once. A
//!    serial that is not enrolled is refused, and so is one whose thing
//!    name is a device of another place. A device whose claim failed
//!    after it was admitted may claim again, until it is first heard;
//!    after that a second claim with its serial (a cloned serial) is
//!    refused: replacing a device is enrolling its successor. Of two
//!    claims at the same moment, one is admitted (a conditional write).
//!
//! A serial number is printed on the device, not a secret: until the
//! device is first heard, whoever holds the fleet's claim certificate and
//! the serial can claim in its place. Enrol a device when it is
//! installed, and watch for an enrolment admitted that never comes
//! online.
//!
//! The hook decides from our records alone, never from what the device
//! sends beyond its serial number.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::enrolments::{Admission, Enrolment};
use crate::ids::*;
use crate::model::*;
use crate::store::prelude::*;
use crate::usecases::adjust::{ActionError, action_id};
use crate::usecases::operator::{entry, lot};

/// What an operator enrols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnrolment {
    pub serial: SerialNumber,
    pub kind: DeviceKind,
    pub gate_id: Option<GateId>,
    pub bay_id: Option<BayId>,
    pub thing_name: Option<DeviceId>,
}

/// Enrols a device's serial number for a gate or bay of the lot.
///
/// # Errors
///
/// `gate_id`/`bay_id` missing or unknown for the kind, a kiosk (which
/// calls the API and has no thing), a thing name with `:` (the presence
/// rule takes device clients by having none), `serial_enrolled` (409),
/// `thing_taken` (409: a device elsewhere has that name), or the store's.
pub async fn enrol<S: Store>(
    store: &S,
    now: Timestamp,
    actor: &Actor,
    lot_id: &LotId,
    new: NewEnrolment,
) -> Result<Enrolment, ActionError> {
    lot(store, lot_id).await?;
    let (short, place) = match (new.kind, &new.gate_id, &new.bay_id) {
        (DeviceKind::BaySensor, _, Some(b)) => ("sensor", b.to_string()),
        (DeviceKind::BaySensor, _, None) => {
            return Err(ActionError::invalid("bay_id", "a bay sensor names its bay"));
        }
        (DeviceKind::Camera | DeviceKind::Barrier, Some(g), _) => {
            match store.get_gate(lot_id, g).await {
                Ok(_) => {}
                Err(StoreError::NotFound { .. }) => {
                    return Err(ActionError::invalid("gate_id", "no such gate in the lot"));
                }
                Err(e) => return Err(e.into()),
            }
            let short = if new.kind == DeviceKind::Camera {
                "cam"
            } else {
                "bar"
            };
            (short, g.to_string())
        }
        (DeviceKind::Camera | DeviceKind::Barrier, None, _) => {
            return Err(ActionError::invalid(
                "gate_id",
                "a camera or barrier names its gate",
            ));
        }
        (DeviceKind::Kiosk, _, _) => {
            return Err(ActionError::invalid(
                "kind",
                "a kiosk calls the API; it is not provisioned as a thing",
            ));
        }
    };
    let thing_name = match new.thing_name {
        Some(t) => t,
        None => DeviceId::parse(&format!("{lot_id}-{short}-{place}-{}", new.serial))
            .map_err(|e| ActionError::invalid("thing_name", e.to_string()))?,
    };
    if thing_name.as_str().contains(':') {
        return Err(ActionError::invalid(
            "thing_name",
            "may not contain ':' (app clients' ids do; device clients' never)",
        ));
    }
    let gate_id = new.gate_id.filter(|_| new.kind != DeviceKind::BaySensor);
    let bay_id = new.bay_id.filter(|_| new.kind == DeviceKind::BaySensor);
    match store.get_device(&thing_name).await {
        Ok(d) if !same_place(&d, lot_id, new.kind, gate_id.as_ref(), bay_id.as_ref()) => {
            return Err(ActionError::Conflict {
                code: "thing_taken",
                detail: "a device of another place has that thing name".into(),
            });
        }
        Ok(_) | Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let enrolment = Enrolment {
        serial: new.serial,
        lot_id: lot_id.clone(),
        kind: new.kind,
        gate_id,
        bay_id,
        thing_name,
        enrolled_at: now,
        enrolled_by: actor.clone(),
        admitted: None,
    };
    match store.enrol(&enrolment).await {
        Ok(()) => {}
        Err(StoreError::Conflict(Refusal::SerialEnrolled { .. })) => {
            return Err(ActionError::Conflict {
                code: "serial_enrolled",
                detail: "the serial number is enrolled already".into(),
            });
        }
        Err(e) => return Err(e.into()),
    }
    let id = action_id("enrol", &[lot_id.as_str(), enrolment.serial.as_str()]);
    store
        .record_audit(&entry(
            &id,
            lot_id,
            actor,
            now,
            "device.enrol",
            enrolment.thing_name.as_str(),
            "",
        ))
        .await?;
    Ok(enrolment)
}

/// What IoT Core sends the pre-provisioning hook.
#[derive(Debug, Clone, Deserialize)]
pub struct HookRequest {
    #[serde(rename = "certificateId")]
    pub certificate_id: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

/// The hook's answer, as IoT Core reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookAnswer {
    #[serde(rename = "allowProvisioning")]
    pub allow: bool,
    #[serde(
        rename = "parameterOverrides",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub overrides: BTreeMap<String, String>,
}

/// Why a claim was refused (logged; IoT Core only learns "no").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("parameters.SerialNumber: {0}")]
    BadSerial(String),
    #[error("serial number {0} is not enrolled")]
    NotEnrolled(SerialNumber),
    #[error("serial number {0} is in service already (its device has been heard)")]
    InService(SerialNumber),
    #[error("thing {0} is a device of another place")]
    ThingTaken(DeviceId),
    #[error("serial number {0} was admitted by another claim at the same moment")]
    Raced(SerialNumber),
}

impl HookAnswer {
    fn refuse() -> HookAnswer {
        HookAnswer {
            allow: false,
            overrides: BTreeMap::new(),
        }
    }
}

/// The pre-provisioning hook: admits an enrolled serial as what it was
/// enrolled as, and puts its device in the lot's registry.
///
/// # Errors
///
/// The store's (the claim fails and the device tries again).
pub async fn admit<S: Store>(
    store: &S,
    request: &HookRequest,
    now: Timestamp,
) -> Result<(HookAnswer, Option<Refused>), StoreError> {
    let refused = |why: Refused| Ok((HookAnswer::refuse(), Some(why)));
    let serial = match request
        .parameters
        .get("SerialNumber")
        .map(|s| SerialNumber::parse(s))
    {
        Some(Ok(s)) => s,
        Some(Err(e)) => return refused(Refused::BadSerial(e.to_string())),
        None => return refused(Refused::BadSerial("is missing".into())),
    };
    let Some(enrolment) = store.enrolment(&serial).await? else {
        return refused(Refused::NotEnrolled(serial));
    };
    let existing = match store.get_device(&enrolment.thing_name).await {
        Ok(d) => Some(d),
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    if let Some(d) = &existing
        && !same_place(
            d,
            &enrolment.lot_id,
            enrolment.kind,
            enrolment.gate_id.as_ref(),
            enrolment.bay_id.as_ref(),
        )
    {
        return refused(Refused::ThingTaken(enrolment.thing_name));
    }
    if enrolment.admitted.is_some() && existing.as_ref().is_some_and(|d| d.presence.is_some()) {
        return refused(Refused::InService(serial));
    }
    // Of two claims at once, one is admitted.
    let previous = enrolment
        .admitted
        .as_ref()
        .map(|a| a.certificate_id.as_str());
    let admission = Admission {
        certificate_id: request.certificate_id.clone(),
        at: now,
    };
    match store.admit(&serial, &admission, previous).await {
        Ok(()) => {}
        Err(StoreError::Conflict(Refusal::AdmissionChanged { .. })) => {
            return refused(Refused::Raced(serial));
        }
        Err(e) => return Err(e),
    }
    store
        .put_device(&Device {
            id: enrolment.thing_name.clone(),
            lot_id: enrolment.lot_id.clone(),
            kind: enrolment.kind,
            gate_id: enrolment.gate_id.clone(),
            bay_id: enrolment.bay_id.clone(),
            presence: existing.and_then(|d| d.presence),
        })
        .await?;
    let mut overrides = BTreeMap::from([
        ("ThingName".to_owned(), enrolment.thing_name.to_string()),
        ("Lot".to_owned(), enrolment.lot_id.to_string()),
        ("Kind".to_owned(), kind_name(enrolment.kind).to_owned()),
    ]);
    if let Some(g) = &enrolment.gate_id {
        overrides.insert("Gate".into(), g.to_string());
    }
    if let Some(b) = &enrolment.bay_id {
        overrides.insert("Bay".into(), b.to_string());
    }
    Ok((
        HookAnswer {
            allow: true,
            overrides,
        },
        None,
    ))
}

/// Whether a registered device is the one enrolled for this place.
fn same_place(
    d: &Device,
    lot: &LotId,
    kind: DeviceKind,
    gate: Option<&GateId>,
    bay: Option<&BayId>,
) -> bool {
    &d.lot_id == lot && d.kind == kind && d.gate_id.as_ref() == gate && d.bay_id.as_ref() == bay
}

fn kind_name(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Camera => "camera",
        DeviceKind::Barrier => "barrier",
        DeviceKind::BaySensor => "bay_sensor",
        DeviceKind::Kiosk => "kiosk",
    }
}
