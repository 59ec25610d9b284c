//! Everything a mail needs that comes from the configuration or the host, resolved once
//! per configuration load (keepalived: core/global_data.c `init_global_data`).

use std::ffi::CStr;
use std::fmt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};

use super::message::{envelope_address, format_email_addr};
use super::policy::MailPolicy;
use crate::config::model::{Config, GlobalDefs, SmtpServer, SmtpTls};

/// Debian's bundle of the CAs the administrator trusts (update-ca-certificates): added to
/// the built-in Mozilla roots so a relay with a private CA can be verified.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What keepalived calls `[unknown]` when the host name cannot be found.
const UNKNOWN_NAME: &str = "[unknown]";

/// Facts about the host that keepalived's defaults depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// keepalived's `local_name`: the canonical name of the node name (getaddrinfo with
    /// AI_CANONNAME), `None` when it cannot be found.
    pub local_name: Option<String>,
    /// The login name of the user kad runs as.
    pub user: Option<String>,
    /// Extra trusted CAs for `smtp_tls` (PEM); `None` or an unreadable file means only
    /// the built-in roots.
    pub ca_bundle: Option<PathBuf>,
}

impl HostFacts {
    /// Reads the facts from the system. The name lookup may block on DNS, so call this
    /// once at start-up, as keepalived does, and reuse it on reload.
    pub fn detect() -> HostFacts {
        let user = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name);
        HostFacts {
            local_name: canonical_node_name(),
            user,
            ca_bundle: Some(SYSTEM_CA_BUNDLE.into()),
        }
    }

    /// The default `router_id`.
    pub fn router_id(&self) -> &str {
        self.local_name.as_deref().unwrap_or(UNKNOWN_NAME)
    }
}

fn canonical_node_name() -> Option<String> {
    let node = nix::sys::utsname::uname().ok()?.nodename().to_os_string();
    let node = std::ffi::CString::new(node.into_encoded_bytes()).ok()?;
    // SAFETY: hints is zeroed plain data with ai_flags set; on success getaddrinfo
    // returns a list that is read once and released with freeaddrinfo.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_flags = libc::AI_CANONNAME;
        let mut list: *mut libc::addrinfo = std::ptr::null_mut();
        if libc::getaddrinfo(node.as_ptr(), std::ptr::null(), &hints, &mut list) != 0 {
            return None;
        }
        let name = if !list.is_null() && !(*list).ai_canonname.is_null() {
            Some(
                CStr::from_ptr((*list).ai_canonname)
                    .to_string_lossy()
                    .into_owned(),
            )
        } else {
            None
        };
        libc::freeaddrinfo(list);
        name
    }
}

/// Why mail cannot be sent with this configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "no sender address: set notification_email_from (the default needs the user and host name)"
    )]
    NoSender,
    #[error("notification_email_from '{entry}': '{address}' is not a usable address ({reason})")]
    BadSender {
        entry: String,
        address: String,
        reason: String,
    },
    #[error("no notification_email entry is a usable address")]
    NoRecipient,
    #[error("smtp_auth_file {path}: {reason}")]
    AuthFile { path: String, reason: String },
    #[error(
        "smtp_auth_file is set but smtp_tls is not: kad does not send a password in clear text"
    )]
    AuthWithoutTls,
    #[error("TLS parameters for {server}: {reason}")]
    Tls { server: String, reason: String },
}

/// How the connection is protected (`smtp_tls`).
#[derive(Clone)]
pub enum Security {
    Plain,
    StartTls(TlsParameters),
    Implicit(TlsParameters),
}

/// One relay, ready to send to.
#[derive(Clone)]
pub struct Relay {
    pub server: SmtpServer,
    /// The `EHLO` argument: `smtp_helo_name`, else the local name, else `localhost`.
    pub helo: String,
    /// The `From:` header (formatted `notification_email_from`).
    pub from_header: String,
    /// The `To:` entries (every formatted `notification_email` entry).
    pub to_header: Vec<String>,
    pub envelope: Envelope,
    /// `smtp_connect_timeout`: for the connection and for each reply.
    pub timeout: Duration,
    pub security: Security,
    pub credentials: Option<Credentials>,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let security = match self.security {
            Security::Plain => "plain",
            Security::StartTls(_) => "starttls",
            Security::Implicit(_) => "implicit-tls",
        };
        f.debug_struct("Relay")
            .field("server", &self.server)
            .field("helo", &self.helo)
            .field("from_header", &self.from_header)
            .field("to_header", &self.to_header)
            .field("envelope", &self.envelope)
            .field("timeout", &self.timeout)
            .field("security", &security)
            .field("auth", &self.credentials.is_some())
            .finish()
    }
}

impl Relay {
    /// `Ok(None)` when mail is not configured (no `smtp_server` or no recipient). Entries
    /// that cannot be used in the envelope are reported through `skipped` so the caller
    /// can log them once.
    pub fn from_global(
        global: &GlobalDefs,
        host: &HostFacts,
        skipped: &mut Vec<String>,
    ) -> Result<Option<Relay>, SetupError> {
        let Some(server) = global.smtp_server.clone() else {
            return Ok(None);
        };
        if global.notification_email.is_empty() {
            return Ok(None);
        }
        let from_header = match (
            &global.notification_email_from,
            &host.local_name,
            &host.user,
        ) {
            (Some(from), _, _) => format_email_addr(from),
            (None, Some(local), Some(user)) => format!("{user}@{local}"),
            _ => return Err(SetupError::NoSender),
        };
        let sender = envelope_address(&from_header);
        let sender = sender
            .parse::<Address>()
            .map_err(|e| SetupError::BadSender {
                entry: from_header.clone(),
                address: sender.to_string(),
                reason: e.to_string(),
            })?;

        let to_header: Vec<String> = global
            .notification_email
            .iter()
            .map(|e| format_email_addr(e))
            .collect();
        let mut recipients = Vec::new();
        for entry in &to_header {
            match envelope_address(entry).parse::<Address>() {
                Ok(address) => recipients.push(address),
                Err(e) => skipped.push(format!(
                    "notification_email '{entry}': '{}' is not a usable address ({e}), not sending to it",
                    envelope_address(entry)
                )),
            }
        }
        let envelope =
            Envelope::new(Some(sender), recipients).map_err(|_| SetupError::NoRecipient)?;

        let helo = match (&global.smtp_helo_name, &host.local_name) {
            (Some(name), _) => name.clone(),
            (None, Some(local)) => local.clone(),
            (None, None) => "localhost".to_string(),
        };
        let security = match global.smtp_tls {
            SmtpTls::None => Security::Plain,
            SmtpTls::StartTls => {
                Security::StartTls(tls_parameters(&server.host, host.ca_bundle.as_deref())?)
            }
            SmtpTls::Implicit => {
                Security::Implicit(tls_parameters(&server.host, host.ca_bundle.as_deref())?)
            }
        };
        let credentials = match &global.smtp_auth_file {
            None => None,
            Some(_) if matches!(security, Security::Plain) => {
                return Err(SetupError::AuthWithoutTls)
            }
            Some(path) => Some(read_auth_file(Path::new(path))?),
        };
        Ok(Some(Relay {
            server,
            helo,
            from_header,
            to_header,
            envelope,
            timeout: global.smtp_connect_timeout.max(Duration::from_secs(1)),
            security,
            credentials,
        }))
    }
}

/// The relay's certificate must match its configured name (or IP literal) and chain to
/// a built-in Mozilla root or to a CA in `ca_bundle`.
fn tls_parameters(server: &str, ca_bundle: Option<&Path>) -> Result<TlsParameters, SetupError> {
    let tls_error = |reason: String| SetupError::Tls {
        server: server.to_string(),
        reason,
    };
    let mut builder = TlsParameters::builder(server.to_string());
    if let Some(pem) = ca_bundle.and_then(|path| std::fs::read(path).ok()) {
        let certificate = Certificate::from_pem(&pem).map_err(|e| tls_error(e.to_string()))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build_rustls().map_err(|e| tls_error(e.to_string()))
}

/// `smtp_auth_file`: a file owned by whoever runs kad, with no permission for "others",
/// holding two lines:
/// ```text
/// username relay-user@example.com
/// password the rest of the line, spaces included
/// ```
/// Each key is followed by one space or tab; the value is the rest of the line (a
/// trailing `\r` is dropped). Blank lines and lines starting with `#` are ignored.
pub fn read_auth_file(path: &Path) -> Result<Credentials, SetupError> {
    let error = |reason: String| SetupError::AuthFile {
        path: path.display().to_string(),
        reason,
    };
    let metadata = std::fs::metadata(path).map_err(|e| error(e.to_string()))?;
    if !metadata.is_file() {
        return Err(error("not a regular file".into()));
    }
    let mode = metadata.permissions().mode();
    if mode & 0o007 != 0 {
        return Err(error(format!(
            "mode {:04o} gives access to other users; refusing to use it (chmod o-rwx)",
            mode & 0o7777
        )));
    }
    if metadata.uid() != nix::unistd::geteuid().as_raw() && metadata.uid() != 0 {
        return Err(error(format!(
            "owned by uid {}, not by kad's user or root",
            metadata.uid()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let mut username = None;
    let mut password = None;
    for (number, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once([' ', '\t']).unwrap_or((line, ""));
        let slot = match key {
            "username" => &mut username,
            "password" => &mut password,
            other => return Err(error(format!("line {}: unknown key '{other}'", number + 1))),
        };
        if value.is_empty() {
            return Err(error(format!("line {}: '{key}' has no value", number + 1)));
        }
        if slot.replace(value.to_string()).is_some() {
            return Err(error(format!("line {}: '{key}' given twice", number + 1)));
        }
    }
    match (username, password) {
        (Some(user), Some(password)) => Ok(Credentials::new(user, password)),
        (None, _) => Err(error("no 'username' line".into())),
        (_, None) => Err(error("no 'password' line".into())),
    }
}

/// What the mailer works from; rebuilt on every configuration load.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub policy: MailPolicy,
    pub router_id: String,
    /// `None`: nothing is sent (not configured, or configured unusably).
    pub relay: Option<Arc<Relay>>,
}

impl MailSettings {
    /// Problems are logged here, once per load: unusable recipients are skipped, and a
    /// configuration that cannot send at all disables mail with an error line.
    pub fn from_config(config: &Config, host: &HostFacts) -> MailSettings {
        let mut skipped = Vec::new();
        let relay = match Relay::from_global(&config.global, host, &mut skipped) {
            Ok(relay) => relay.map(Arc::new),
            Err(e) => {
                tracing::error!("SMTP alerts disabled: {e}");
                None
            }
        };
        for line in skipped {
            tracing::warn!("SMTP alerts: {line}");
        }
        let router_id = config
            .global
            .router_id
            .clone()
            .unwrap_or_else(|| host.router_id().to_string());
        MailSettings {
            policy: MailPolicy::from_config(config),
            router_id,
            relay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn host() -> HostFacts {
        HostFacts {
            local_name: Some("lb1.example.com".into()),
            user: Some("root".into()),
            ca_bundle: None,
        }
    }

    fn global() -> GlobalDefs {
        GlobalDefs {
            smtp_server: Some(SmtpServer {
                host: "192.0.2.25".into(),
                port: 25,
            }),
            notification_email: vec!["ops@example.com".into()],
            ..GlobalDefs::default()
        }
    }

    fn relay(global: &GlobalDefs) -> Result<Option<Relay>, SetupError> {
        Relay::from_global(global, &host(), &mut Vec::new())
    }

    #[test]
    fn defaults_follow_keepalived() {
        let r = relay(&global()).unwrap().unwrap();
        assert_eq!(r.from_header, "root@lb1.example.com");
        assert_eq!(r.helo, "lb1.example.com");
        assert_eq!(r.timeout, Duration::from_secs(30));
        assert_eq!(
            r.envelope.from().unwrap().to_string(),
            "root@lb1.example.com"
        );
        assert_eq!(host().router_id(), "lb1.example.com");

        let unknown = HostFacts {
            local_name: None,
            user: Some("root".into()),
            ca_bundle: None,
        };
        assert_eq!(unknown.router_id(), "[unknown]");
        let mut g = global();
        assert!(matches!(
            Relay::from_global(&g, &unknown, &mut Vec::new()),
            Err(SetupError::NoSender)
        ));
        g.notification_email_from = Some("ka@example.com".into());
        let r = Relay::from_global(&g, &unknown, &mut Vec::new())
            .unwrap()
            .unwrap();
        assert_eq!(r.helo, "localhost");
    }

    #[test]
    fn detected_facts_match_the_system_tools() {
        let run = |program: &str, arg: &str| {
            let out = std::process::Command::new(program)
                .arg(arg)
                .output()
                .unwrap();
            assert!(out.status.success(), "{program} {arg}");
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        let facts = HostFacts::detect();
        // hostname(1) -f asks getaddrinfo for the canonical name, as keepalived does.
        assert_eq!(
            facts.local_name.as_deref(),
            Some(run("hostname", "-f").as_str())
        );
        assert_eq!(facts.user.as_deref(), Some(run("id", "-un").as_str()));
        assert_eq!(
            facts.ca_bundle.as_deref(),
            Some(Path::new(SYSTEM_CA_BUNDLE))
        );
    }

    #[test]
    fn not_configured_is_none() {
        let mut g = global();
        g.notification_email.clear();
        assert!(relay(&g).unwrap().is_none());
        let mut g = global();
        g.smtp_server = None;
        assert!(relay(&g).unwrap().is_none());
    }

    #[test]
    fn envelope_takes_bracketed_parts_and_skips_unusable_entries() {
        let mut g = global();
        g.notification_email_from = Some("Keepalived, LB1 <ka@example.com>".into());
        g.notification_email = vec![
            "Ops Team <team@example.com>".into(),
            "a b@example.com".into(),
            "Ops <ops@example.com".into(),
            "noc@example.com".into(),
        ];
        let mut skipped = Vec::new();
        let r = Relay::from_global(&g, &host(), &mut skipped)
            .unwrap()
            .unwrap();
        assert_eq!(r.from_header, "\"Keepalived, LB1\" <ka@example.com>");
        assert_eq!(r.envelope.from().unwrap().to_string(), "ka@example.com");
        let to: Vec<String> = r.envelope.to().iter().map(|a| a.to_string()).collect();
        assert_eq!(to, ["team@example.com", "noc@example.com"]);
        assert_eq!(r.to_header.len(), 4, "the header keeps every entry");
        assert_eq!(skipped.len(), 2);
        assert!(skipped[0].contains("'a b@example.com'"), "{skipped:?}");
        assert!(skipped[1].contains("'Ops <ops@example.com'"), "{skipped:?}");

        g.notification_email = vec!["not an address".into()];
        assert!(matches!(relay(&g), Err(SetupError::NoRecipient)));
        g.notification_email_from = Some("bad sender".into());
        assert!(matches!(relay(&g), Err(SetupError::BadSender { .. })));
    }

    #[test]
    fn the_system_ca_bundle_is_usable_for_tls() {
        let mut g = global();
        g.smtp_tls = SmtpTls::StartTls;
        let system = HostFacts {
            ca_bundle: Some(SYSTEM_CA_BUNDLE.into()),
            ..host()
        };
        let r = Relay::from_global(&g, &system, &mut Vec::new())
            .unwrap()
            .unwrap();
        assert!(matches!(r.security, Security::StartTls(_)));

        let garbage = std::env::temp_dir().join(format!("kad-smtp-garbage-{}", std::process::id()));
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let bad = HostFacts {
            ca_bundle: Some(garbage.clone()),
            ..host()
        };
        let e = Relay::from_global(&g, &bad, &mut Vec::new()).unwrap_err();
        std::fs::remove_file(&garbage).unwrap();
        assert!(matches!(e, SetupError::Tls { .. }), "{e}");
    }

    #[test]
    fn auth_needs_tls() {
        let mut g = global();
        g.smtp_auth_file = Some("/nonexistent".into());
        assert!(matches!(relay(&g), Err(SetupError::AuthWithoutTls)));
        g.smtp_tls = SmtpTls::StartTls;
        assert!(matches!(relay(&g), Err(SetupError::AuthFile { .. })));
    }

    struct TempFile(PathBuf);
    impl TempFile {
        fn new(contents: &str, mode: u32) -> TempFile {
            static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("kad-smtp-auth-{}-{n}", std::process::id()));
            let mut f = std::fs::File::create(&path).unwrap();
            f.write_all(contents.as_bytes()).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            TempFile(path)
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn auth_file_format() {
        let f = TempFile::new(
            "# relay\nusername alice@example.com\r\n\npassword s3cret with  spaces \n",
            0o600,
        );
        let expected = Credentials::new("alice@example.com".into(), "s3cret with  spaces ".into());
        assert_eq!(read_auth_file(&f.0).unwrap(), expected);

        for (contents, complaint) in [
            ("username a\n", "no 'password' line"),
            ("password p\n", "no 'username' line"),
            (
                "username a\nusername b\npassword p\n",
                "line 2: 'username' given twice",
            ),
            ("username a\npassword\n", "line 2: 'password' has no value"),
            ("user a\npassword p\n", "line 1: unknown key 'user'"),
        ] {
            let f = TempFile::new(contents, 0o600);
            let e = read_auth_file(&f.0).unwrap_err().to_string();
            assert!(e.contains(complaint), "{contents:?}: {e}");
        }
    }

    #[test]
    fn auth_file_readable_by_others_is_refused() {
        let f = TempFile::new("username a\npassword p\n", 0o644);
        let e = read_auth_file(&f.0).unwrap_err().to_string();
        assert!(e.contains("mode 0644 gives access to other users"), "{e}");
        let f = TempFile::new("username a\npassword p\n", 0o640);
        assert!(read_auth_file(&f.0).is_ok());
    }
}
