//! What time causes: the sweeps, the forecasts, and the cost figures the
//! scheduled runs record.

pub mod cost;
pub mod forecast;
pub mod sweeps;
