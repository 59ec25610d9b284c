//! How mails get out, or fail to: dead, silent and refusing servers, TLS, AUTH, the
//! queue limit and shutdown. Real servers on loopback (compat/smtp-server.py).

mod smtp_support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use kad::config::model::{Config, SmtpServer, SmtpTls};
use kad::notify::smtp::{
    HostFacts, MailSettings, MailState, MailStats, MailTarget, Mailer, QUEUE_CAPACITY,
};
use smtp_support::*;
use tokio::time::Instant;

fn instance(name: &str) -> MailTarget {
    MailTarget::Instance(name.into())
}

const NOT_SENT: &str = "not sent via";

#[tokio::test]
async fn a_silent_server_fails_each_mail_once_and_the_queue_moves_on() {
    let (logs, _guard) = Logs::capture();
    let tarpit = TestServer::start(&["--mode", "tarpit"]);
    let port = tarpit.port;
    let mailer = Mailer::start(settings(&config(port)));
    for state in [MailState::Backup, MailState::Master, MailState::Fault] {
        mailer.submit(&instance("V1"), state);
    }
    // submit() did not wait: on this single-threaded runtime the mailer's task has not
    // even run yet.
    assert_eq!(mailer.stats(), MailStats::default());

    let stats = wait_done(&mailer, 3).await;
    assert_eq!(
        stats,
        MailStats {
            sent: 0,
            failed: 3,
            dropped: 0
        }
    );
    assert_eq!(tarpit.connections(), 3);
    let failures = logs.containing(NOT_SENT);
    assert_eq!(failures.len(), 3, "{failures:#?}");
    for (line, text) in failures.iter().zip(["BACKUP", "MASTER", "FAULT"]) {
        assert!(
            line.contains(&format!("VRRP Instance V1 - Entering {text} state")),
            "{line}"
        );
        assert!(
            line.contains("greeting/EHLO") && line.contains("no reply from the server within 1s"),
            "{line}"
        );
    }

    // The server comes back on the same port: the next mail goes out.
    drop(tarpit);
    let server = TestServer::start_on(port, &[]);
    mailer.submit(&instance("V1"), MailState::Backup);
    let messages = server.wait_messages(1).await;
    assert!(messages[0]["data"]
        .as_str()
        .unwrap()
        .contains("VRRP Instance V1 - Entering BACKUP state"));
    assert_eq!(wait_done(&mailer, 4).await.sent, 1);
}

#[tokio::test]
async fn a_refused_connection_fails_each_mail_once_and_later_mails_still_go() {
    let (logs, _guard) = Logs::capture();
    let port = free_port();
    let mailer = Mailer::start(settings(&config(port)));
    mailer.submit(&instance("V1"), MailState::Backup);
    mailer.submit(&instance("V1"), MailState::Master);
    assert_eq!(wait_done(&mailer, 2).await.failed, 2);
    let failures = logs.containing(NOT_SENT);
    assert_eq!(failures.len(), 2, "{failures:#?}");
    for line in &failures {
        assert!(
            line.contains(&format!("connecting: 127.0.0.1:{port}: Connection refused")),
            "{line}"
        );
    }

    let server = TestServer::start_on(port, &[]);
    mailer.submit(&instance("V1"), MailState::Fault);
    server.wait_messages(1).await;
    assert_eq!(
        wait_done(&mailer, 3).await,
        MailStats {
            sent: 1,
            failed: 2,
            dropped: 0
        }
    );
}

#[tokio::test]
async fn a_refusal_is_logged_with_the_server_s_reply() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start(&["--mode", "reject"]);
    let mailer = Mailer::start(settings(&config(server.port)));
    mailer.submit(&instance("V1"), MailState::Master);
    assert_eq!(wait_done(&mailer, 1).await.failed, 1);
    let failures = logs.containing(NOT_SENT);
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].contains("MAIL/RCPT/DATA: permanent error (554): 5.7.1 Relay access denied"),
        "{}",
        failures[0]
    );
    assert!(server.messages().is_empty());
}

/// lettre only speaks EHLO: a server that refuses it (HELO only) gets no mail, and the
/// log says why.
#[tokio::test]
async fn a_helo_only_server_is_reported_not_worked_around() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start(&["--mode", "no-ehlo"]);
    let mailer = Mailer::start(settings(&config(server.port)));
    mailer.submit(&instance("V1"), MailState::Master);
    assert_eq!(wait_done(&mailer, 1).await.failed, 1);
    let failures = logs.containing(NOT_SENT);
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].contains("greeting/EHLO: permanent error (502)"),
        "{}",
        failures[0]
    );
}

#[tokio::test]
async fn an_unresolvable_server_name_is_a_clear_line_per_mail() {
    let (logs, _guard) = Logs::capture();
    let mut config = config(25);
    config.global.smtp_server = Some(SmtpServer {
        host: "smtp.nonexistent.invalid".into(),
        port: 25,
    });
    let mailer = Mailer::start(settings(&config));
    mailer.submit(&instance("V1"), MailState::Backup);
    mailer.submit(&instance("V1"), MailState::Master);
    assert_eq!(wait_done(&mailer, 2).await.failed, 2);
    let failures = logs.containing(NOT_SENT);
    assert_eq!(failures.len(), 2, "{failures:#?}");
    for line in &failures {
        assert!(
            line.contains("resolving the server name: cannot resolve 'smtp.nonexistent.invalid'"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn a_full_queue_drops_the_oldest_and_shutdown_gives_up_at_its_deadline() {
    let (logs, _guard) = Logs::capture();
    let tarpit = TestServer::start(&["--mode", "tarpit"]);
    let mailer = Mailer::start(settings(&config(tarpit.port)));
    let extra = 10;
    for i in 0..QUEUE_CAPACITY + extra {
        mailer.submit(&instance(&format!("I{i}")), MailState::Master);
    }
    assert_eq!(mailer.stats().dropped, extra as u64);
    let dropped = logs.containing("queue full");
    assert_eq!(dropped.len(), extra);
    for (i, line) in dropped.iter().enumerate() {
        assert!(
            line.contains(&format!(
                "dropping the oldest, \"[LB1] VRRP Instance I{i} - "
            )),
            "{line}"
        );
    }

    // The first mail is stuck on the tarpit; the deadline comes before anything is done.
    let stats = mailer
        .shutdown(Instant::now() + Duration::from_millis(300))
        .await;
    assert_eq!(
        stats,
        MailStats {
            sent: 0,
            failed: 0,
            dropped: QUEUE_CAPACITY as u64 + extra as u64
        }
    );
    let abandoned = logs.containing("not sent: kad is stopping");
    assert_eq!(abandoned.len(), QUEUE_CAPACITY);
    assert!(
        abandoned[0].contains(&format!("Instance I{extra} ")),
        "the one in flight is first: {}",
        abandoned[0]
    );
    assert!(abandoned[QUEUE_CAPACITY - 1]
        .contains(&format!("Instance I{} ", QUEUE_CAPACITY + extra - 1)));
}

#[tokio::test]
async fn shutdown_sends_the_stop_mails_first() {
    let server = TestServer::start(&[]);
    let mailer = Mailer::start(settings(&config(server.port)));
    for name in ["V1", "V2", "V3"] {
        mailer.submit(&instance(name), MailState::Stop);
    }
    mailer.submit(&MailTarget::Group("G".into()), MailState::Stop);
    let stats = mailer.shutdown(Instant::now() + WAIT).await;
    assert_eq!(
        stats,
        MailStats {
            sent: 4,
            failed: 0,
            dropped: 0
        }
    );
    // Accepted means recorded: no waiting needed.
    assert_eq!(server.messages().len(), 4);
}

fn tls_config(port: u16, tls: SmtpTls) -> Config {
    let mut config = config(port);
    config.global.smtp_server = Some(SmtpServer {
        host: "localhost".into(),
        port,
    });
    config.global.smtp_tls = tls;
    config
}

fn trusting(pki: &TestPki) -> HostFacts {
    HostFacts {
        ca_bundle: Some(pki.ca.clone()),
        ..host()
    }
}

#[tokio::test]
async fn starttls_with_a_private_ca() {
    let pki = TestPki::new();
    let (cert, key) = (pki.cert.to_str().unwrap(), pki.key.to_str().unwrap());
    let server = TestServer::start(&["--starttls", cert, key]);
    let config = tls_config(server.port, SmtpTls::StartTls);
    let mailer = Mailer::start(MailSettings::from_config(&config, &trusting(&pki)));
    mailer.submit(&instance("V1"), MailState::Master);
    let message = &server.wait_messages(1).await[0];
    assert_eq!(message["tls"], true);
    assert!(message["data"]
        .as_str()
        .unwrap()
        .contains("Subject: [LB1] VRRP Instance V1 - Entering MASTER state"));
}

#[tokio::test]
async fn starttls_refuses_an_untrusted_certificate_and_a_server_without_starttls() {
    let (logs, _guard) = Logs::capture();
    let pki = TestPki::new();
    let (cert, key) = (pki.cert.to_str().unwrap(), pki.key.to_str().unwrap());
    let tls_server = TestServer::start(&["--starttls", cert, key]);
    let plain_server = TestServer::start(&[]);

    // Only the built-in roots: the test CA is unknown.
    let untrusted = Mailer::start(settings(&tls_config(tls_server.port, SmtpTls::StartTls)));
    untrusted.submit(&instance("V1"), MailState::Master);
    assert_eq!(wait_done(&untrusted, 1).await.failed, 1);

    let no_starttls = Mailer::start(MailSettings::from_config(
        &tls_config(plain_server.port, SmtpTls::StartTls),
        &trusting(&pki),
    ));
    no_starttls.submit(&instance("V2"), MailState::Master);
    assert_eq!(wait_done(&no_starttls, 1).await.failed, 1);

    let failures = logs.containing(NOT_SENT);
    assert_eq!(failures.len(), 2, "{failures:#?}");
    assert!(
        failures[0].contains(
            "STARTTLS: Connection error: Connection error: invalid peer certificate: UnknownIssuer"
        ),
        "{}",
        failures[0]
    );
    assert!(
        failures[1].contains("STARTTLS: internal client error: STARTTLS is not supported"),
        "{}",
        failures[1]
    );
    assert!(tls_server.messages().is_empty() && plain_server.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls() {
    let pki = TestPki::new();
    let (cert, key) = (pki.cert.to_str().unwrap(), pki.key.to_str().unwrap());
    let server = TestServer::start(&["--implicit-tls", cert, key]);
    let config = tls_config(server.port, SmtpTls::Implicit);
    let mailer = Mailer::start(MailSettings::from_config(&config, &trusting(&pki)));
    mailer.submit(&instance("V1"), MailState::Backup);
    let message = &server.wait_messages(1).await[0];
    assert_eq!(message["tls"], true);
    assert_eq!(
        message["rcpt_tos"],
        serde_json::json!(["ops@example.com", "team@example.com"])
    );
}

fn auth_file(dir: &Scratch, password: &str) -> String {
    let path = dir.path("smtp-auth");
    std::fs::write(&path, format!("username relay-user\npassword {password}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test]
async fn auth_over_starttls() {
    let (logs, _guard) = Logs::capture();
    let pki = TestPki::new();
    let (cert, key) = (pki.cert.to_str().unwrap(), pki.key.to_str().unwrap());
    let server = TestServer::start(&["--starttls", cert, key, "--auth", "relay-user:pass word"]);
    let dir = Scratch::new("smtp-auth");

    let mut config = tls_config(server.port, SmtpTls::StartTls);
    config.global.smtp_auth_file = Some(auth_file(&dir, "wrong"));
    let wrong = Mailer::start(MailSettings::from_config(&config, &trusting(&pki)));
    wrong.submit(&instance("V1"), MailState::Master);
    assert_eq!(wait_done(&wrong, 1).await.failed, 1);
    let failures = logs.containing(NOT_SENT);
    assert!(
        failures[0].contains("AUTH: permanent error (535)"),
        "{}",
        failures[0]
    );

    config.global.smtp_auth_file = Some(auth_file(&dir, "pass word"));
    let right = Mailer::start(MailSettings::from_config(&config, &trusting(&pki)));
    right.submit(&instance("V1"), MailState::Backup);
    let message = &server.wait_messages(1).await[0];
    assert_eq!(message["auth"], "relay-user");
    assert_eq!(message["tls"], true);
    assert!(message["data"]
        .as_str()
        .unwrap()
        .contains("Entering BACKUP state"));
}

#[tokio::test]
async fn an_auth_file_readable_by_others_disables_mail() {
    let (logs, _guard) = Logs::capture();
    let dir = Scratch::new("smtp-auth");
    let path = auth_file(&dir, "secret");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).unwrap();
    let mut config = tls_config(free_port(), SmtpTls::StartTls);
    config.global.smtp_auth_file = Some(path.clone());
    let settings = MailSettings::from_config(&config, &host());
    assert!(settings.relay.is_none());
    let errors = logs.containing("SMTP alerts disabled");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains(&format!(
            "smtp_auth_file {path}: mode 0604 gives access to other users"
        )),
        "{}",
        errors[0]
    );
}
