//! Incidents written automatically from confirmed status changes (pure: changes, the
//! facts nsprobe has and their times in; incidents out), their texts and records.
//!
//! - [`engine`]: the [`IncidentBook`] (open, update, resolve);
//! - [`facts`]: what the texts need, taken from the zone state;
//! - [`text`]: templates (overridable in `[incidents]`) and time formatting;
//! - [`model`]: the records stored and served.

pub mod engine;
pub mod facts;
pub mod model;
pub mod text;

pub use engine::{ChangeIn, IncidentBook};
pub use facts::{
    server_facts, service_changes, zone_changes, zone_facts, Facts, ServerFacts, ZoneFacts,
};
pub use model::{AffectedComponent, Impact, Incident, IncidentStatus, IncidentUpdate};
pub use text::Templates;

#[cfg(test)]
mod tests;
