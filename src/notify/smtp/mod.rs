//! SMTP alert mails, as keepalived sends them on VRRP state changes.
//!
//! The pieces, in the order a mail goes through them:
//! - [`policy`]: whether a state change of an instance or sync group is mailed at all
//!   (keepalived's `smtp_alert` resolution and `no_email_faults`);
//! - [`message`]: the subject, body and the raw message bytes, header for header as
//!   keepalived writes them (with `X-Mailer: kad`);
//! - [`relay`]: what the configuration and the host say about the relay (server, HELO
//!   name, sender, recipients, TLS, AUTH), resolved once per configuration load;
//! - [`transport`]: one SMTP connection per mail, every wait bounded;
//! - [`mailer`]: the queue and the task that sends, in submission order, without ever
//!   making the caller wait.
//!
//! Differences from keepalived, all deliberate:
//! - kad speaks ESMTP through lettre (`EHLO`, no fallback to `HELO`), can use TLS and
//!   AUTH (the `smtp_tls` and `smtp_auth_file` extensions), and sends mails one after
//!   the other instead of all at once, so they arrive in the order of the events.
//! - The `Date:` header is the time the event was submitted, not the time the mail
//!   finally left: a mail that waited in the queue still says when the change happened.
//! - keepalived builds the whole DATA in a 1024-byte buffer and cuts the end (and the
//!   terminating dot) off when many recipients are configured; kad sends everything.
//! - A non-ASCII subject (router_id or instance name) is sent as RFC 2047 encoded
//!   words rather than raw 8-bit bytes, so it also reaches servers without 8BITMIME.
//! - Envelope addresses that are not valid addresses are left out of the envelope (with
//!   a log line when the configuration is loaded) instead of making the server refuse
//!   the whole mail; the `To:` header still lists every configured entry.
//! - The relay's name is resolved for each mail, not once when the configuration is read.

pub mod mailer;
pub mod message;
pub mod policy;
pub mod relay;
pub mod transport;

pub use mailer::{MailStats, Mailer, QUEUE_CAPACITY};
pub use message::Alert;
pub use policy::{AlertDefaults, MailPolicy};
pub use relay::{HostFacts, MailSettings, Relay, SetupError};

use serde::{Deserialize, Serialize};

/// Who a mail is about: keepalived words the subject and body differently for an
/// instance and for a sync group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MailTarget {
    Instance(String),
    Group(String),
}

impl MailTarget {
    pub fn name(&self) -> &str {
        match self {
            MailTarget::Instance(name) | MailTarget::Group(name) => name,
        }
    }
}

/// The states keepalived mails about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MailState {
    Master,
    Backup,
    Fault,
    Stop,
    Deleted,
}
