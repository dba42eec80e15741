//! The driver of the UDP nameserver targets: one task for all of them, on the probe runtime.
//!
//! A task per target would cost, per probe, a timer entry for its tick, a wake-up, a
//! boxed probe future, a deadline timer and a second wake-up for its answer. The driver
//! keeps the targets as plain entries of a [`UdpBatch`] and their ticks by slot, and
//! wakes once per slot of the tick grid that has work: it starts the probes due (the
//! slot's queries go out as one burst), then polls the batch, which drains the sockets
//! and ends the probes answered or past their deadline. While probes are in flight it
//! also wakes on every slot boundary and at the earliest deadline, so a timeout is
//! reported when it happens.
//!
//! Ticks are the scheduler's: `epoch + phase + k × interval` moved to the grid
//! ([`super::planned`]), a tick that finds the target's last probe still in flight is
//! skipped, and the slip is the time from the planned tick to the probe's send.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{next_index, on_grid, phase, planned, Probed, Report, Target, TargetId};
use crate::probe::{CheckSpec, Finished, Outcome, Token, Transport, UdpBatch};
use crate::state::{Observation, TargetKey};
use crate::UnixMs;

/// True for the targets the driver runs: nameserver targets over UDP.
pub(super) fn drives(target: &Target) -> bool {
    matches!(
        (&target.id, &target.spec),
        (TargetId::Dns { .. }, CheckSpec::DnsSoa(spec)) if spec.transport == Transport::Udp
    )
}

/// What the scheduler tells the driver.
#[derive(Debug)]
enum Command {
    Add(Box<Target>),
    Remove(TargetId),
}

/// The scheduler's handle on the driver task; dropping it ends the task.
pub(super) struct Driver {
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

impl Driver {
    /// Starts the driver on `runtime` (the caller's when None), on the grid `epoch + m × grid`.
    pub(super) fn start(
        runtime: Option<&tokio::runtime::Handle>,
        reports: mpsc::Sender<Report>,
        epoch: Instant,
        grid: Duration,
    ) -> Driver {
        let (commands, rx) = mpsc::unbounded_channel();
        let fut = drive(rx, reports, epoch, grid);
        let task = match runtime {
            Some(rt) => rt.spawn(fut),
            None => tokio::spawn(fut),
        };
        Driver { commands, task }
    }

    /// Starts probing `target` (one of [`drives`]).
    pub(super) fn add(&self, target: Target) {
        let _ = self.commands.send(Command::Add(Box::new(target)));
    }

    /// Stops probing `id`; a probe in flight is abandoned.
    pub(super) fn remove(&self, id: TargetId) {
        let _ = self.commands.send(Command::Remove(id));
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whose probe a report is, and when it started and how late.
#[derive(Clone)]
struct Origin {
    zone: Arc<str>,
    key: TargetKey,
    /// When the probe in flight started (wall clock) and how late.
    at: UnixMs,
    slip: Duration,
}

impl Origin {
    fn report(&self, outcome: Outcome) -> Report {
        Report {
            probed: Probed::Dns {
                zone: self.zone.clone(),
                observation: Observation {
                    key: self.key.clone(),
                    at: self.at,
                    outcome,
                },
            },
            slip: self.slip,
        }
    }
}

/// One target in the driver.
struct Driven {
    origin: Origin,
    base: Instant,
    interval: Duration,
    /// Index of the next tick.
    k: u128,
    /// Tells this target's tick entries from those of a removed one with the same token.
    generation: u64,
}

struct Driving {
    batch: UdpBatch,
    /// By token.
    targets: Vec<Option<Driven>>,
    ids: HashMap<TargetId, Token>,
    /// Next tick of each target: (token, generation) by planned tick. Ticks are on the
    /// grid, so a slot's targets share one key and are taken at once (a heap of one entry
    /// per target paid a sift through cold memory for each, 3 % of the process at 1,000
    /// targets).
    ticks: BTreeMap<Instant, Vec<(u32, u64)>>,
    /// Emptied slots' vectors, for the next slots.
    spare: Vec<Vec<(u32, u64)>>,
    generations: u64,
    epoch: Instant,
    grid: Duration,
    done: Vec<(Token, Finished)>,
}

async fn drive(
    mut commands: mpsc::UnboundedReceiver<Command>,
    reports: mpsc::Sender<Report>,
    epoch: Instant,
    grid: Duration,
) {
    let mut d = Driving {
        batch: UdpBatch::new(),
        targets: Vec::new(),
        ids: HashMap::new(),
        ticks: BTreeMap::new(),
        spare: Vec::new(),
        generations: 0,
        epoch,
        grid,
        done: Vec::new(),
    };
    let sleep = tokio::time::sleep_until(Instant::now());
    tokio::pin!(sleep);
    loop {
        let now = Instant::now();
        let wake = d.next_wake(now).unwrap_or(now + Duration::from_secs(3600));
        if sleep.deadline() != wake {
            sleep.as_mut().reset(wake);
        }
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                Some(Command::Add(target)) => d.add(*target),
                Some(Command::Remove(id)) => d.remove(&id),
                None => return,
            },
            () = &mut sleep => {
                if !d.run(&reports).await {
                    return; // the state owner is gone: shutting down
                }
            }
        }
    }
}

impl Driving {
    fn add(&mut self, target: Target) {
        let Target {
            id,
            spec: CheckSpec::DnsSoa(spec),
            interval,
            ..
        } = target
        else {
            return;
        };
        let TargetId::Dns { zone, key } = &id else {
            return;
        };
        self.remove(&id);
        let interval = interval.max(Duration::from_millis(1));
        let base = self.epoch + phase(&id, interval, self.grid);
        let k = next_index(base, interval, Instant::now());
        let token = self.batch.add(spec);
        self.generations += 1;
        let driven = Driven {
            origin: Origin {
                zone: zone.clone(),
                key: key.clone(),
                at: 0,
                slip: Duration::ZERO,
            },
            base,
            interval,
            k,
            generation: self.generations,
        };
        let at = planned(self.epoch, self.grid, base, interval, k);
        self.schedule(at, token.0, driven.generation);
        let i = token.0 as usize;
        if self.targets.len() <= i {
            self.targets.resize_with(i + 1, || None);
        }
        if let Some(slot) = self.targets.get_mut(i) {
            *slot = Some(driven);
        }
        self.ids.insert(id, token);
    }

    fn remove(&mut self, id: &TargetId) {
        if let Some(token) = self.ids.remove(id) {
            self.batch.remove(token);
            if let Some(slot) = self.targets.get_mut(token.0 as usize) {
                *slot = None;
            }
        }
    }

    /// The next time there is work: the earliest tick; while probes are in flight, also the
    /// next slot boundary (answers are read on the grid) and the earliest deadline.
    fn next_wake(&self, now: Instant) -> Option<Instant> {
        let tick = self.ticks.first_key_value().map(|(at, _)| *at);
        let reads = if self.batch.flying() > 0 {
            // The first boundary after `now` (`on_grid` keeps a time on one).
            let boundary = on_grid(self.epoch, self.grid, now + Duration::from_nanos(1));
            [Some(boundary), self.batch.next_deadline()]
                .into_iter()
                .flatten()
                .min()
        } else {
            None
        };
        [tick, reads].into_iter().flatten().min()
    }

    /// Starts the probes due, then polls the batch and reports what ended. False when the
    /// reports' receiver is gone.
    ///
    /// Sends first: the slot's queries go out before anything else is done, so the slip
    /// is the wake-up's alone (reading first put the drain and the judging of the last
    /// slot's answers before them: under load a longer burst, preempted more often). The
    /// poll then leaves the sockets that only have this slot's queries for the next slot
    /// ([`UdpBatch::begin_burst`]), as their answers are rarely there yet.
    async fn run(&mut self, reports: &mpsc::Sender<Report>) -> bool {
        self.batch.begin_burst();
        self.start_due(reports).await && self.finish(reports).await
    }

    /// Polls the batch and reports the probes that ended.
    async fn finish(&mut self, reports: &mpsc::Sender<Report>) -> bool {
        self.batch.poll(Instant::now(), &mut self.done);
        self.warm(self.done.iter().map(|(token, _)| token.0));
        let mut done = std::mem::take(&mut self.done);
        for (token, finished) in done.drain(..) {
            let Some(t) = self.targets.get(token.0 as usize).and_then(Option::as_ref) else {
                continue;
            };
            match finished {
                Finished::Done(outcome) => {
                    if reports.send(t.origin.report(outcome)).await.is_err() {
                        return false;
                    }
                }
                Finished::Truncated(deadline) => {
                    // Rare (an answer too large for UDP): a task of its own for the TCP retry.
                    let retry = self.batch.tcp_retry(token, deadline);
                    let origin = t.origin.clone();
                    let reports = reports.clone();
                    tokio::spawn(async move {
                        let _ = reports.send(origin.report(retry.await)).await;
                    });
                }
            }
        }
        self.done = done;
        true
    }

    /// Starts the probes whose tick has come.
    async fn start_due(&mut self, reports: &mpsc::Sender<Report>) -> bool {
        let now = Instant::now();
        while let Some(slot) = self.ticks.first_entry() {
            if *slot.key() > now {
                break;
            }
            let (at, mut due) = slot.remove_entry();
            self.warm(due.iter().map(|(token, _)| *token));
            self.batch.warm(due.iter().map(|(token, _)| *token));
            for (token, generation) in due.drain(..) {
                if !self.start(at, token, generation, reports).await {
                    return false;
                }
            }
            self.spare.push(due);
        }
        true
    }

    /// Starts target `token`'s probe of the tick planned at `at` (unless the target is gone
    /// or its last probe is still in flight) and plans its next tick. False when the
    /// reports' receiver is gone.
    async fn start(
        &mut self,
        at: Instant,
        token: u32,
        generation: u64,
        reports: &mpsc::Sender<Report>,
    ) -> bool {
        let Some(t) = self
            .targets
            .get_mut(token as usize)
            .and_then(Option::as_mut)
            .filter(|t| t.generation == generation)
        else {
            return true; // removed
        };
        let started = Instant::now();
        // A tick that finds the last probe in flight is skipped.
        if !self.batch.in_flight(Token(token)) {
            t.origin.slip = started.saturating_duration_since(at);
            t.origin.at = crate::now_ms();
            if let Some(outcome) = self.batch.start(Token(token), started) {
                if reports.send(t.origin.report(outcome)).await.is_err() {
                    return false;
                }
            }
        }
        t.k = (t.k + 1).max(next_index(t.base, t.interval, started));
        let next = planned(self.epoch, self.grid, t.base, t.interval, t.k);
        self.schedule(next, token, generation);
        true
    }

    /// Reads the driver's entries of `tokens` before any of them is worked on, as
    /// [`UdpBatch::warm`] does the batch's (a poll warms the batch's entries of the probes
    /// it ends itself).
    fn warm(&self, tokens: impl Iterator<Item = u32>) {
        let mut x = 0u64;
        for token in tokens {
            if let Some(Some(t)) = self.targets.get(token as usize) {
                x ^= t.generation ^ t.origin.key.server.len() as u64;
            }
        }
        std::hint::black_box(x);
    }

    /// Plans target `token` (of `generation`) for the tick at `at`.
    fn schedule(&mut self, at: Instant, token: u32, generation: u64) {
        let spare = &mut self.spare;
        self.ticks
            .entry(at)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push((token, generation));
    }
}
