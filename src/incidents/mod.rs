//! Incidents written automatically from confirmed status changes (pure: changes, the
//! facts nsprobe has and `now` in; incidents out), and their records.

pub mod model;

pub use model::{AffectedComponent, Impact, Incident, IncidentStatus, IncidentUpdate};
