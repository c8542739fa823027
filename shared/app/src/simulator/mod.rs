//! The simulator: its world (realistic days at demo lots as the device
//! messages they make, from a seed: [`world`]) and the run of those
//! messages through the device handler with the checks that they add up
//! ([`run`]). It sits beside the use cases, not among them: it drives them
//! as the devices, drivers and staff would.

pub mod demand;
pub mod run;
pub mod sensors;
pub mod world;
