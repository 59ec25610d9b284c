//! What the alert mails contain and which ones are sent, checked on a real SMTP server
//! (compat/smtp-server.py) that records each envelope and raw message.

mod smtp_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kad::config::model::SyncGroup;
use kad::notify::smtp::message::rfc822_date;
use kad::notify::smtp::{MailSettings, MailState, MailTarget, Mailer};
use serde_json::Value;
use smtp_support::*;

const TO_HEADER: &str = "To: ops@example.com,\r\n Ops Team <team@example.com>";

fn instance(name: &str) -> MailTarget {
    MailTarget::Instance(name.into())
}

fn group(name: &str) -> MailTarget {
    MailTarget::Group(name.into())
}

fn sync_group(name: &str, smtp_alert: Option<bool>) -> SyncGroup {
    SyncGroup {
        name: name.into(),
        span: Default::default(),
        members: vec![],
        track_interfaces: vec![],
        track_scripts: vec![],
        track_files: vec![],
        notify: Default::default(),
        smtp_alert,
        sync_group_tracking_weight: false,
        notify_priority_changes: None,
    }
}

/// The Date header must be the local time of a second between `before` and `after`.
fn assert_date(date: &str, before: SystemTime, after: SystemTime) {
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let candidates: Vec<String> = (secs(before)..=secs(after))
        .map(|s| rfc822_date(UNIX_EPOCH + Duration::from_secs(s)))
        .collect();
    assert!(
        candidates.iter().any(|c| c == date),
        "Date {date:?} is none of {candidates:?}"
    );
}

/// Checks envelope and exact bytes; the Date line is checked separately.
fn assert_message(
    message: &Value,
    subject: &str,
    body: &str,
    before: SystemTime,
    after: SystemTime,
) {
    assert_eq!(message["helo"], "helo.example");
    assert_eq!(message["mail_from"], "ka@example.com");
    assert_eq!(
        message["rcpt_tos"],
        serde_json::json!(["ops@example.com", "team@example.com"])
    );
    assert_eq!(
        message["mail_options"],
        serde_json::json!([]),
        "plain ASCII needs no BODY=8BITMIME"
    );
    let data = message["data"].as_str().unwrap();
    let (date_line, rest) = data.split_once("\r\n").unwrap();
    assert_date(date_line.strip_prefix("Date: ").unwrap(), before, after);
    let expected = format!(
        "From: Keepalived <ka@example.com>\r\nSubject: {subject}\r\nX-Mailer: kad\r\n{TO_HEADER}\r\n\r\n{body}\r\n\r\n"
    );
    assert_eq!(rest, expected);
}

#[tokio::test]
async fn instance_mails_in_every_state_are_keepalived_s() {
    let server = TestServer::start(&[]);
    let mailer = Mailer::start(settings(&config(server.port)));
    let before = SystemTime::now();
    let states = [
        MailState::Master,
        MailState::Backup,
        MailState::Fault,
        MailState::Stop,
        MailState::Deleted,
    ];
    for state in states {
        mailer.submit(&instance("V3"), state);
    }
    let after = SystemTime::now();
    let messages = server.wait_messages(5).await;
    let expected = [
        (
            "Entering MASTER state",
            "=> VRRP Instance is now owning VRRP VIPs <=",
        ),
        (
            "Entering BACKUP state",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
        ),
        (
            "Entering FAULT state",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
        ),
        ("Stopping", "=> VRRP Instance stopping <="),
        ("Deleted", "=> VRRP Deleted at reload <="),
    ];
    for (message, (text, body)) in messages.iter().zip(expected) {
        assert_message(
            message,
            &format!("[LB1] VRRP Instance V3 - {text}"),
            body,
            before,
            after,
        );
    }
    // The server records a message before the mailer has read its reply and counted it.
    wait_done(&mailer, 5).await;
    assert_eq!(server.connections(), 5, "one connection per mail");
    assert_eq!(mailer.stats().sent, 5);
}

#[tokio::test]
async fn group_mails_in_every_state_are_keepalived_s_and_deleted_is_not_sent() {
    let server = TestServer::start(&[]);
    let mailer = Mailer::start(settings(&config(server.port)));
    let before = SystemTime::now();
    for state in [
        MailState::Master,
        MailState::Backup,
        MailState::Fault,
        MailState::Stop,
        MailState::Deleted,
    ] {
        mailer.submit(&group("G1"), state);
    }
    // Mails leave in order, so once this one is in, a group DELETED mail would be too.
    mailer.submit(&instance("sentinel"), MailState::Master);
    let after = SystemTime::now();
    let messages = server.wait_messages(5).await;
    let expected = [
        (
            "Entering MASTER state",
            "=> All VRRP group instances are now in MASTER state <=",
        ),
        (
            "Entering BACKUP state",
            "=> All VRRP group instances are now in BACKUP state <=",
        ),
        (
            "Entering FAULT state",
            "=> All VRRP group instances are now in FAULT state <=",
        ),
        (
            "Stopping",
            "=> All VRRP group instances are now stopping <=",
        ),
    ];
    for (message, (text, body)) in messages.iter().zip(expected) {
        assert_message(
            message,
            &format!("[LB1] VRRP Group G1 - {text}"),
            body,
            before,
            after,
        );
    }
    assert!(messages[4]["data"]
        .as_str()
        .unwrap()
        .contains("Subject: [LB1] VRRP Instance sentinel - Entering MASTER"));
    assert_eq!(messages.len(), 5);
}

fn subjects(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            let data = m["data"].as_str().unwrap();
            let line = data.lines().find(|l| l.starts_with("Subject: ")).unwrap();
            line.trim_start_matches("Subject: ").to_string()
        })
        .collect()
}

#[tokio::test]
async fn no_email_faults_suppresses_fault_mails_only() {
    let server = TestServer::start(&[]);
    let mut config = config(server.port);
    config.global.no_email_faults = true;
    let mailer = Mailer::start(settings(&config));
    mailer.submit(&instance("V1"), MailState::Fault);
    mailer.submit(&group("G1"), MailState::Fault);
    mailer.submit(&instance("V1"), MailState::Backup);
    mailer.submit(&instance("V1"), MailState::Master);
    let messages = server.wait_messages(2).await;
    wait_done(&mailer, 2).await;
    assert_eq!(
        subjects(&server.messages()),
        [
            "[LB1] VRRP Instance V1 - Entering BACKUP state",
            "[LB1] VRRP Instance V1 - Entering MASTER state"
        ]
    );
    assert_eq!(messages.len(), 2);
}

#[tokio::test]
async fn smtp_alert_resolution_decides_what_is_mailed() {
    let server = TestServer::start(&[]);
    let mut config = config(server.port);
    // smtp_alert on, but smtp_alert_vrrp off wins for everything without its own setting.
    config.global.smtp_alert = Some(true);
    config.global.smtp_alert_vrrp = Some(false);
    config.sync_groups = vec![sync_group("on", Some(true)), sync_group("default", None)];
    let mailer = Mailer::start(settings(&config));
    mailer.submit(&instance("V1"), MailState::Master);
    mailer.submit(&group("default"), MailState::Master);
    mailer.submit(&group("on"), MailState::Master);
    let messages = server.wait_messages(1).await;
    // The worker is done once the last submitted mail is sent.
    wait_done(&mailer, 1).await;
    assert_eq!(
        subjects(&messages),
        ["[LB1] VRRP Group on - Entering MASTER state"]
    );
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn without_smtp_alert_nothing_is_mailed_and_reconfigure_turns_it_on() {
    let server = TestServer::start(&[]);
    let mut config = config(server.port);
    config.global.smtp_alert = None;
    let mailer = Mailer::start(settings(&config));
    mailer.submit(&instance("V1"), MailState::Master);

    config.global.smtp_alert = Some(true);
    mailer.reconfigure(settings(&config), &config);
    mailer.submit(&instance("V1"), MailState::Backup);
    let messages = server.wait_messages(1).await;
    wait_done(&mailer, 1).await;
    assert_eq!(
        subjects(&messages),
        ["[LB1] VRRP Instance V1 - Entering BACKUP state"]
    );
    assert_eq!(mailer.stats().sent, 1);
}

#[tokio::test]
async fn mails_arrive_in_submission_order() {
    let server = TestServer::start(&[]);
    let mailer = Mailer::start(settings(&config(server.port)));
    let sequence = [
        (instance("A"), MailState::Backup),
        (instance("B"), MailState::Backup),
        (instance("A"), MailState::Master),
        (instance("A"), MailState::Fault),
        (instance("B"), MailState::Master),
        (instance("A"), MailState::Backup),
        (instance("A"), MailState::Master),
        (instance("B"), MailState::Stop),
        (instance("A"), MailState::Stop),
    ];
    for (target, state) in &sequence {
        mailer.submit(target, *state);
    }
    let messages = server.wait_messages(sequence.len()).await;
    let expected: Vec<String> = sequence
        .iter()
        .map(|(t, s)| {
            kad::notify::smtp::message::alert("LB1", t, *s)
                .unwrap()
                .subject
        })
        .collect();
    assert_eq!(subjects(&messages), expected);
}

#[tokio::test]
async fn default_sender_helo_and_router_id_come_from_the_host() {
    let server = TestServer::start(&[]);
    let mut config = config(server.port);
    config.global.router_id = None;
    config.global.notification_email_from = None;
    config.global.smtp_helo_name = None;
    let mailer = Mailer::start(settings(&config));
    mailer.submit(&instance("V1"), MailState::Master);
    let message = &server.wait_messages(1).await[0];
    assert_eq!(message["helo"], "lb1.example.com");
    assert_eq!(message["mail_from"], "root@lb1.example.com");
    let data = message["data"].as_str().unwrap();
    assert!(
        data.contains("\r\nFrom: root@lb1.example.com\r\n"),
        "{data}"
    );
    assert!(
        data.contains(
            "\r\nSubject: [lb1.example.com] VRRP Instance V1 - Entering MASTER state\r\n"
        ),
        "{data}"
    );
}

#[tokio::test]
async fn two_hundred_recipients_all_get_the_mail() {
    let server = TestServer::start(&[]);
    let mut config = config(server.port);
    config.global.notification_email = (0..200).map(|i| format!("ops{i}@example.com")).collect();
    let mailer = Mailer::start(settings(&config));
    mailer.submit(&instance("V1"), MailState::Master);
    let message = &server.wait_messages(1).await[0];
    let rcpt: Vec<&str> = message["rcpt_tos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..200).map(|i| format!("ops{i}@example.com")).collect();
    assert_eq!(rcpt, expected);
    let data = message["data"].as_str().unwrap();
    let to = format!("To: {}\r\n\r\n", expected.join(",\r\n "));
    assert!(data.contains(&to), "{data}");
    assert!(data.ends_with("\r\n\r\n=> VRRP Instance is now owning VRRP VIPs <=\r\n\r\n"));
}

#[tokio::test]
async fn unusable_addresses_are_logged_once_and_left_out_of_the_envelope() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start(&[]);
    let mut config = config(server.port);
    config.global.notification_email = vec![
        "a b@example.com".into(),
        "Ops <ops@example.com".into(),
        "Ops, Team <team@example.com>".into(),
    ];
    let mailer = Mailer::start(settings(&config));
    mailer.submit(&instance("V1"), MailState::Master);
    mailer.submit(&instance("V1"), MailState::Backup);
    let messages = server.wait_messages(2).await;
    for message in &messages {
        assert_eq!(message["rcpt_tos"], serde_json::json!(["team@example.com"]));
        let data = message["data"].as_str().unwrap();
        let to = "To: a b@example.com,\r\n Ops <ops@example.com,\r\n \"Ops, Team\" <team@example.com>\r\n\r\n";
        assert!(data.contains(to), "{data}");
    }
    assert_eq!(
        logs.containing("'a b@example.com' is not a usable address")
            .len(),
        1,
        "{:#?}",
        logs.lines()
    );
    assert_eq!(
        logs.containing("'Ops <ops@example.com' is not a usable address")
            .len(),
        1
    );

    // Nobody usable at all: nothing can be sent, and that is said once, at load time.
    config.global.notification_email = vec!["nobody here".into()];
    let disabled: MailSettings = settings(&config);
    assert!(disabled.relay.is_none());
    assert_eq!(
        logs.containing("SMTP alerts disabled: no notification_email entry is a usable address")
            .len(),
        1
    );
}

#[tokio::test]
async fn non_ascii_router_id_is_sent_as_encoded_words() {
    let server = TestServer::start(&[]);
    let mut config = config(server.port);
    config.global.router_id = Some("Zürich-LB".into());
    let mailer = Mailer::start(settings(&config));
    mailer.submit(&instance("V1"), MailState::Master);
    let message = &server.wait_messages(1).await[0];
    let data = message["data"].as_str().unwrap();
    // "[Zürich-LB] VRRP Instance V1 - Entering MASTER state" in UTF-8, base64.
    assert!(
        data.contains("\r\nSubject: =?UTF-8?B?W1rDvHJpY2gtTEJdIFZSUlAgSW5zdGFuY2UgVjEgLSBFbnRlcmluZyBNQVNU?=\r\n =?UTF-8?B?RVIgc3RhdGU=?=\r\n"),
        "{data}"
    );
    assert!(data.is_ascii());
    assert_eq!(message["mail_options"], serde_json::json!([]));
}
