//! The built-in status page (`GET /`, `/status`) and badges.
//!
//! Two steps, so the daemon lock is held only to copy numbers:
//! - [`view`]: [`view::build`] copies what the page shows out of the read model into a
//!   plain [`view::PageView`] (called under the lock);
//! - [`render`]: HTML from that view (maud templates compiled into the binary, CSS and
//!   script embedded), after the lock is released; [`chart`] draws the response-time
//!   charts as inline SVG; [`badge`] draws status and uptime badges (SVG and the
//!   shields.io endpoint JSON).
//!
//! The page is complete without JavaScript; the embedded script only refreshes it.

pub mod badge;
pub mod chart;
pub mod render;
pub mod view;

pub use view::{build, PageView};

use crate::status::Status;

/// The status in words, as a reader of the page sees it (never colour alone).
pub fn status_words(s: Status) -> &'static str {
    match s {
        Status::Operational => "Operational",
        Status::DegradedPerformance => "Degraded Performance",
        Status::PartialOutage => "Partial Outage",
        Status::MajorOutage => "Major Outage",
        Status::UnderMaintenance => "Under Maintenance",
        Status::Unknown => "Unknown",
    }
}

/// How bad a status is for the overall banner: unknown and maintenance rank above
/// operational (neither is a claim of health) and below every observed problem.
pub fn banner_rank(s: Status) -> u8 {
    match s {
        Status::Operational => 0,
        Status::UnderMaintenance => 1,
        Status::Unknown => 2,
        Status::DegradedPerformance => 3,
        Status::PartialOutage => 4,
        Status::MajorOutage => 5,
    }
}

/// The overall banner text for the worst status on the page.
pub fn banner_words(worst: Status) -> &'static str {
    match worst {
        Status::Operational => "All Systems Operational",
        Status::UnderMaintenance => "Maintenance in Progress",
        Status::Unknown => "Waiting for Probes: some components are not observed yet",
        Status::DegradedPerformance => "Degraded Performance",
        Status::PartialOutage => "Partial Outage",
        Status::MajorOutage => "Major Outage",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_never_claims_health_without_evidence() {
        let worst = Status::ALL
            .into_iter()
            .filter(|s| *s != Status::MajorOutage)
            .max_by_key(|s| banner_rank(*s))
            .unwrap();
        assert_eq!(worst, Status::PartialOutage);
        assert_ne!(
            banner_words(Status::Unknown),
            banner_words(Status::Operational)
        );
        for s in Status::ALL {
            assert!(!status_words(s).is_empty());
        }
    }
}
