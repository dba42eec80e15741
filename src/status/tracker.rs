//! One zone's published statuses: proposed server statuses ([`super::dns`]) through the
//! confirmation layer ([`super::confirm`]), held while the vantage is down, then the group
//! rule over the confirmed server statuses (the group needs no confirmation of its own).

use std::collections::BTreeMap;
use std::time::Duration;

use super::confirm::{Change, Confirmation, Timing};
use super::dns::{evaluate_group, propose_servers};
use super::vantage::Vantage;
use super::{ComponentStatus, Status, ZoneStatus};
use crate::config::MaintenanceWindow;
use crate::state::ZoneState;
use crate::UnixMs;

/// The confirmation state of one zone's components and what is published now.
#[derive(Debug, Clone, Default)]
pub struct ZoneTracker {
    servers: BTreeMap<String, Confirmation>,
    group: Confirmation,
    current: Option<ZoneStatus>,
}

impl ZoneTracker {
    /// Nothing published yet.
    pub fn new() -> ZoneTracker {
        ZoneTracker::default()
    }

    /// What was published by the last [`ZoneTracker::update`] (None before the first).
    pub fn current(&self) -> Option<&ZoneStatus> {
        self.current.as_ref()
    }

    /// Evaluates the zone at `now` and publishes through the confirmation layer; returns
    /// every published change (one log line each).
    pub fn update(
        &mut self,
        state: &ZoneState,
        group_name: &str,
        maintenance: &[MaintenanceWindow],
        vantage: &Vantage,
        now: UnixMs,
    ) -> Vec<Change> {
        let th = state.thresholds();
        let timing = Timing {
            confirm_after: th.confirm_after,
            clear_after: th.clear_after,
        };
        let mut changes = Vec::new();
        let mut proposed = propose_servers(state, maintenance, now);
        if !vantage.up {
            for p in proposed
                .iter_mut()
                .filter(|p| p.status != Status::UnderMaintenance)
            {
                p.reason = format!(
                    "vantage down ({}); holding the last confirmed status; evidence: {}",
                    vantage.reason, p.reason
                );
                p.status = Status::Unknown;
            }
        }
        self.servers
            .retain(|name, _| proposed.iter().any(|p| &p.name == name));
        let servers: Vec<ComponentStatus> = proposed
            .iter()
            .map(|p| {
                let (published, change) = self
                    .servers
                    .entry(p.name.clone())
                    .or_default()
                    .update(p, timing, now);
                changes.extend(change);
                published
            })
            .collect();
        let stale = state.is_stale(now);
        let group = evaluate_group(state, group_name, &servers, stale, maintenance, now);
        let at_once = Timing {
            confirm_after: Duration::ZERO,
            clear_after: Duration::ZERO,
        };
        let (group, change) = self.group.update(&group, at_once, now);
        changes.extend(change);
        self.current = Some(ZoneStatus {
            group,
            stale,
            servers,
        });
        changes
    }
}
