//! The queue and the task that sends.
//!
//! Mails go out one at a time in submission order, so the mails about one instance
//! (and about all of them) arrive in the order of the events; keepalived opens all
//! connections at once and they race. `submit` only formats the message and appends it
//! to a bounded queue under a short lock: it never waits for the network. When the queue
//! is full (a relay that is down while instances flap), the oldest unsent mail is
//! dropped with a log line, so the latest states always get through.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::message::{alert, message_bytes, rfc822_date};
use super::relay::{MailSettings, Relay};
use super::transport::deliver;
use crate::config::model::Config;
use super::{MailState, MailTarget};

/// Unsent mails kept while the relay is slow or down.
pub const QUEUE_CAPACITY: usize = 256;

/// What happened to the mails submitted so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailStats {
    /// Accepted by the relay.
    pub sent: u64,
    /// Given up on after a failure (each logged once).
    pub failed: u64,
    /// Dropped unsent: pushed out of a full queue, or still queued at shutdown.
    pub dropped: u64,
}

struct Pending {
    subject: String,
    message: Vec<u8>,
    relay: Arc<Relay>,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> MailStats {
        MailStats {
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Pending>,
    /// Subject of the mail being sent, for the log if shutdown interrupts it.
    in_flight: Option<String>,
    /// Set by shutdown: the worker stops once nothing is left.
    closing: bool,
}

struct Shared {
    settings: Mutex<Arc<MailSettings>>,
    queue: Mutex<Queue>,
    wake: Notify,
    counters: Counters,
}

/// A poisoned lock only means another thread panicked while holding it; the queue and
/// the settings are always left consistent, so carry on with them.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sends alert mails in the background. Create it inside a tokio runtime.
pub struct Mailer {
    shared: Arc<Shared>,
    worker: JoinHandle<()>,
}

impl Mailer {
    pub fn start(settings: MailSettings) -> Mailer {
        let shared = Arc::new(Shared {
            settings: Mutex::new(Arc::new(settings)),
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            counters: Counters::default(),
        });
        let worker = tokio::spawn(run(Arc::clone(&shared)));
        Mailer { shared, worker }
    }

    /// New settings after a reload; mails already queued keep the relay they were
    /// made for, and instances the reload removed keep their `smtp_alert` for their
    /// DELETED mail.
    pub fn reconfigure(&self, mut settings: MailSettings, config: &Config) {
        let mut current = lock(&self.shared.settings);
        settings.policy.keep_departed(&current.policy, config);
        *current = Arc::new(settings);
    }

    /// Queues the alert for a state change, if the configuration wants it mailed.
    /// Returns at once; the outcome is logged.
    pub fn submit(&self, target: &MailTarget, state: MailState) {
        let settings = Arc::clone(&lock(&self.shared.settings));
        let Some(relay) = &settings.relay else {
            return;
        };
        if !settings.policy.allows(target, state) {
            tracing::debug!("SMTP alert for {target:?} {state:?} not wanted by the configuration");
            return;
        }
        let Some(alert) = alert(&settings.router_id, target, state) else {
            return;
        };
        let message = message_bytes(
            &rfc822_date(SystemTime::now()),
            &relay.from_header,
            &alert.subject,
            &relay.to_header,
            alert.body,
        );
        let pending = Pending {
            subject: alert.subject,
            message,
            relay: Arc::clone(relay),
        };
        let overflow = {
            let mut queue = lock(&self.shared.queue);
            queue.waiting.push_back(pending);
            if queue.waiting.len() > QUEUE_CAPACITY {
                queue.waiting.pop_front()
            } else {
                None
            }
        };
        if let Some(oldest) = overflow {
            self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "SMTP alert queue full ({QUEUE_CAPACITY} unsent): dropping the oldest, \"{}\"",
                oldest.subject
            );
        }
        self.shared.wake.notify_one();
    }

    pub fn stats(&self) -> MailStats {
        self.shared.counters.snapshot()
    }

    /// Sends what is queued (the STOP mails of a shutdown) until `deadline`, then gives
    /// up on the rest with a log line for each mail left.
    pub async fn shutdown(mut self, deadline: Instant) -> MailStats {
        let shared = Arc::clone(&self.shared);
        lock(&shared.queue).closing = true;
        shared.wake.notify_one();
        if tokio::time::timeout_at(deadline, &mut self.worker)
            .await
            .is_err()
        {
            self.worker.abort();
            let _ = (&mut self.worker).await;
        }
        let (left, interrupted) = {
            let mut queue = lock(&shared.queue);
            (
                queue.waiting.drain(..).collect::<Vec<_>>(),
                queue.in_flight.take(),
            )
        };
        let unsent = interrupted
            .into_iter()
            .chain(left.into_iter().map(|p| p.subject));
        for subject in unsent {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("SMTP alert \"{subject}\" not sent: kad is stopping");
        }
        shared.counters.snapshot()
    }
}

/// A mailer dropped without `shutdown` stops sending at once.
impl Drop for Mailer {
    fn drop(&mut self) {
        self.worker.abort();
    }
}

async fn run(shared: Arc<Shared>) {
    loop {
        let next = {
            let mut queue = lock(&shared.queue);
            let next = queue.waiting.pop_front();
            queue.in_flight = next.as_ref().map(|p| p.subject.clone());
            if next.is_none() && queue.closing {
                return;
            }
            next
        };
        let Some(pending) = next else {
            shared.wake.notified().await;
            continue;
        };
        let server = format!(
            "{}:{}",
            pending.relay.server.host, pending.relay.server.port
        );
        let outcome = deliver(&pending.relay, &pending.message).await;
        lock(&shared.queue).in_flight = None;
        match outcome {
            Ok(()) => {
                shared.counters.sent.fetch_add(1, Ordering::Relaxed);
                tracing::info!("SMTP alert \"{}\" sent via {server}", pending.subject);
            }
            Err(e) => {
                shared.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "SMTP alert \"{}\" not sent via {server}: {e}",
                    pending.subject
                );
            }
        }
    }
}
