//! The local broker's things: `things.json` in the development directory,
//! the twin of IoT Core's registry. A thing is a device's certificate and
//! its attributes (lot, and gate or bay); its grants are
//! [`parking_app::device_access::grants`], the same the IoT policies give.
//!
//! One active thing per gate or bay: the local bridge knows who published
//! a message by its topic, which only that thing may publish on (on AWS
//! the rule reads the authenticated client id instead).

use std::path::{Path, PathBuf};

use parking_app::device_access::{Grants, grants};
use parking_app::{BayId, Device, DeviceId, DeviceKind, GateId, LotId};
use serde::{Deserialize, Serialize};

use crate::UsageError;

/// The bridge's own identity on the broker.
pub const BRIDGE: &str = "parking-bridge";

/// The stage the local broker plays (the bay rule's name in Basic Ingest
/// topics).
pub const STAGE: &str = "dev";

/// One provisioned device.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Thing {
    pub name: DeviceId,
    pub kind: DeviceKind,
    pub lot: LotId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bay: Option<BayId>,
    /// The serial number of its current certificate (hex).
    pub serial: String,
    /// Revoked: it may no longer connect.
    #[serde(default)]
    pub revoked: bool,
    /// Serials of the certificates it had before a rotation, or its
    /// current one once revoked: all on the revocation list.
    #[serde(default)]
    pub revoked_serials: Vec<String>,
}

impl Thing {
    /// The device record the store keeps for it.
    pub fn device(&self) -> Device {
        Device {
            id: self.name.clone(),
            lot_id: self.lot.clone(),
            kind: self.kind,
            gate_id: self.gate.clone(),
            bay_id: self.bay.clone(),
            presence: None,
        }
    }

    fn grants(&self) -> Option<Grants> {
        grants(&self.device(), STAGE)
    }

    /// Whether it speaks for the same gate or bay as `other`.
    fn same_place(&self, other: &Thing) -> bool {
        self.lot == other.lot
            && match self.kind {
                DeviceKind::BaySensor => {
                    other.kind == DeviceKind::BaySensor && self.bay == other.bay
                }
                _ => other.kind != DeviceKind::BaySensor && self.gate == other.gate,
            }
    }
}

/// Every thing provisioned in a development directory.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Registry {
    pub things: Vec<Thing>,
}

impl Registry {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("things.json")
    }

    /// The registry of `dir` (empty when there is none yet).
    ///
    /// # Errors
    ///
    /// The file cannot be read or is not a registry.
    pub fn load(dir: &Path) -> Result<Registry, UsageError> {
        let path = Registry::path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| UsageError(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Registry::default()),
            Err(e) => Err(UsageError(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes the registry whole (a new file renamed over the old one).
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn save(&self, dir: &Path) -> Result<(), UsageError> {
        let path = Registry::path(dir);
        let tmp = dir.join("things.json.new");
        let text = serde_json::to_vec_pretty(self).map_err(|e| UsageError(e.to_string()))?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| UsageError(format!("{}: {e}", path.display())))
    }

    pub fn active(&self) -> impl Iterator<Item = &Thing> {
        self.things.iter().filter(|t| !t.revoked)
    }

    pub fn get_mut(&mut self, name: &DeviceId) -> Option<&mut Thing> {
        self.things.iter_mut().find(|t| &t.name == name)
    }

    /// Another active thing speaking for the same gate or bay as `thing`.
    pub fn taken_by(&self, thing: &Thing) -> Option<&Thing> {
        self.active()
            .find(|t| t.name != thing.name && t.same_place(thing))
    }

    /// The active thing that may publish on `topic`: the authenticated
    /// sender of a message on it.
    pub fn publisher_of(&self, topic: &str) -> Option<&Thing> {
        self.active().find(|t| {
            t.grants()
                .is_some_and(|g| g.publish.iter().any(|p| p == topic))
        })
    }

    /// Every serial on the revocation list.
    pub fn revoked_serials(&self) -> Vec<String> {
        self.things
            .iter()
            .flat_map(|t| t.revoked_serials.iter().cloned())
            .collect()
    }

    /// The broker's access list: each active thing gets its grants and
    /// nothing else (publish: `write`; subscribe and receive: `read`); the
    /// bridge reads the device topics and writes commands and shadows.
    pub fn acl(&self) -> String {
        let mut out =
            String::from("# Made by parkctl dev from things.json; the IoT policies' twin.\n");
        for t in self.active() {
            let Some(g) = t.grants() else { continue };
            out.push_str(&format!("\nuser {}\n", g.client_id));
            for topic in &g.publish {
                out.push_str(&format!("topic write {topic}\n"));
            }
            for filter in &g.subscribe {
                out.push_str(&format!("topic read {filter}\n"));
            }
        }
        out.push_str(&format!(
            "\nuser {BRIDGE}\ntopic read parking/+/gates/+/events\ntopic read parking/+/gates/+/backlog\ntopic read parking/+/gates/+/state\ntopic read $aws/rules/+/parking/+/bays/+/state\ntopic write parking/+/gates/+/commands\ntopic write $aws/things/+/shadow/get/accepted\ntopic write $aws/things/+/shadow/update/delta\n"
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thing(name: &str, gate: &str) -> Thing {
        Thing {
            name: DeviceId::parse(name).expect("id"),
            kind: DeviceKind::Camera,
            lot: LotId::parse("demo-1").expect("id"),
            gate: Some(GateId::parse(gate).expect("id")),
            bay: None,
            serial: "01".into(),
            revoked: false,
            revoked_serials: Vec::new(),
        }
    }

    #[test]
    fn the_access_list_grants_each_thing_its_own_topics_and_no_commands() {
        let mut r = Registry {
            things: vec![thing("cam-a", "in-1"), thing("cam-b", "in-2")],
        };
        let acl = r.acl();
        assert!(acl.contains("user cam-a\ntopic write parking/demo-1/gates/in-1/events\n"));
        assert!(acl.contains("topic read parking/demo-1/gates/in-2/commands\n"));
        assert!(!acl.contains("topic write parking/demo-1/gates/in-1/commands"));
        assert_eq!(
            r.publisher_of("parking/demo-1/gates/in-2/events")
                .map(|t| t.name.as_str()),
            Some("cam-b")
        );
        assert!(r.taken_by(&thing("cam-c", "in-1")).is_some());
        r.things[0].revoked = true;
        assert!(!r.acl().contains("user cam-a"));
        assert!(r.publisher_of("parking/demo-1/gates/in-1/events").is_none());
    }
}
