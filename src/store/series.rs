//! The daemon's side of the response-time series: each closed minute of a history goes
//! to the writer once, and the minutes the writer has committed leave the history (the
//! 24-hour charts read them back from the store, [`super::StoreReader::joined_minutes`]).

use super::{ComponentKey, MinuteRecord, Write};
use crate::state::ResponseHistory;

/// Queues in `out` a [`Write::Minute`] for every minute of `history` in `[from, before)`
/// (minutes since the epoch; the minutes not sent yet once `before` has begun), then
/// releases the minutes before `written` ([`super::Store::written_before`]).
///
/// Nothing is missed however late this runs: a history keeps every minute the store has
/// not committed (up to a day), and `written` never passes a minute not sent yet.
/// After the calls for one `before`, queue [`Write::SeriesMark`]`(before)`.
pub fn take_minutes(
    history: &mut ResponseHistory,
    key: &ComponentKey,
    from: u64,
    before: u64,
    written: u64,
    out: &mut Vec<Write>,
) {
    for p in history.points_between(from, before) {
        if p.probes > 0 {
            out.push(Write::Minute {
                component: key.clone(),
                record: MinuteRecord::from_point(&p),
            });
        }
    }
    history.release(written.min(from));
}
