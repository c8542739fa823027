//! What the devices cause: a camera's read at a gate, a bay sensor's
//! reading, a device's connection, and the lot's availability they make.

pub mod allow_list;
pub mod availability;
pub mod bay_state;
pub mod device_events;
pub mod plate_read;
pub mod presence;
pub mod provisioning;
pub mod replay;
