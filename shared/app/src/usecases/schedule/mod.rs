//! What time causes: the sweeps, the retention of plates, the forecasts, and the cost figures the
//! scheduled runs record.

pub mod cost;
pub mod forecast;
pub mod retention;
pub mod sweeps;
