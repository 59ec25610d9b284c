//! The alert text and the raw message, byte for byte as keepalived 2.4 writes them
//! (keepalived/core/smtp.c `smtp_alert`, `body_cmd`; vrrp/vrrp_notify.c for the texts;
//! core/global_data.c `format_email_addr` for the address entries).

use std::time::{SystemTime, UNIX_EPOCH};

use super::{MailState, MailTarget};

/// keepalived formats the subject into a 256-byte buffer (`MAX_HEADERS_LENGTH`), so at
/// most 255 bytes survive.
pub const SUBJECT_MAX_BYTES: usize = 255;

/// keepalived copies the body into a 512-byte buffer (`MAX_BODY_LENGTH`). The VRRP
/// bodies are fixed texts well under it; the assertion below keeps it that way.
pub const BODY_MAX_BYTES: usize = 511;

const X_MAILER: &str = "kad";

/// Subject and body of one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub subject: String,
    pub body: &'static str,
}

const INSTANCE_MASTER: &str = "=> VRRP Instance is now owning VRRP VIPs <=";
const INSTANCE_NOT_MASTER: &str = "=> VRRP Instance is no longer owning VRRP VIPs <=";
const INSTANCE_STOP: &str = "=> VRRP Instance stopping <=";
const INSTANCE_DELETED: &str = "=> VRRP Deleted at reload <=";
const GROUP_MASTER: &str = "=> All VRRP group instances are now in MASTER state <=";
const GROUP_BACKUP: &str = "=> All VRRP group instances are now in BACKUP state <=";
const GROUP_FAULT: &str = "=> All VRRP group instances are now in FAULT state <=";
const GROUP_STOP: &str = "=> All VRRP group instances are now stopping <=";

const _: () = {
    let bodies = [
        INSTANCE_MASTER,
        INSTANCE_NOT_MASTER,
        INSTANCE_STOP,
        INSTANCE_DELETED,
        GROUP_MASTER,
        GROUP_BACKUP,
        GROUP_FAULT,
        GROUP_STOP,
    ];
    let mut i = 0;
    while i < bodies.len() {
        assert!(bodies[i].len() <= BODY_MAX_BYTES);
        i += 1;
    }
};

/// The subject and body keepalived sends for `state`; `None` where keepalived sends
/// nothing (a sync group has no "deleted" mail).
pub fn alert(router_id: &str, target: &MailTarget, state: MailState) -> Option<Alert> {
    let text = match state {
        MailState::Master => "Entering MASTER state",
        MailState::Backup => "Entering BACKUP state",
        MailState::Fault => "Entering FAULT state",
        MailState::Stop => "Stopping",
        MailState::Deleted => "Deleted",
    };
    let (kind, body) = match (target, state) {
        (MailTarget::Instance(_), MailState::Master) => ("Instance", INSTANCE_MASTER),
        (MailTarget::Instance(_), MailState::Backup | MailState::Fault) => {
            ("Instance", INSTANCE_NOT_MASTER)
        }
        (MailTarget::Instance(_), MailState::Stop) => ("Instance", INSTANCE_STOP),
        (MailTarget::Instance(_), MailState::Deleted) => ("Instance", INSTANCE_DELETED),
        (MailTarget::Group(_), MailState::Master) => ("Group", GROUP_MASTER),
        (MailTarget::Group(_), MailState::Backup) => ("Group", GROUP_BACKUP),
        (MailTarget::Group(_), MailState::Fault) => ("Group", GROUP_FAULT),
        (MailTarget::Group(_), MailState::Stop) => ("Group", GROUP_STOP),
        (MailTarget::Group(_), MailState::Deleted) => return None,
    };
    let subject = format!("[{router_id}] VRRP {kind} {} - {text}", target.name());
    Some(Alert {
        subject: truncate_at_char(subject, SUBJECT_MAX_BYTES),
        body,
    })
}

/// keepalived cuts at a byte count; cutting inside a UTF-8 sequence would send a
/// broken character, so kad stops at the last whole character that fits.
fn truncate_at_char(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// keepalived 2.4's normalisation of a `notification_email` / `notification_email_from`
/// entry: in `Name <addr>` form, a display name containing RFC 5322 specials is put in
/// double quotes (with `"` and `\` escaped). Anything else is kept verbatim.
pub fn format_email_addr(entry: &str) -> String {
    const SPECIALS: &[char] = &['(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '.'];
    if !entry.ends_with('>') {
        return entry.to_string();
    }
    let Some(open) = entry.rfind('<') else {
        return entry.to_string();
    };
    let name = entry[..open].trim_end_matches([' ', '\t']);
    // keepalived's tokenizer cannot produce a '"', so a name already in quotes can only
    // come from elsewhere: quoting it again would garble it.
    let already_quoted = name.len() >= 2 && name.starts_with('"') && name.ends_with('"');
    if name.is_empty() || already_quoted || !name.contains(SPECIALS) {
        return entry.to_string();
    }
    let mut quoted = String::with_capacity(entry.len() + 4);
    quoted.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted.push_str(&entry[name.len()..]);
    quoted
}

/// The address used in `MAIL FROM` / `RCPT TO`: the `<…>` part of an entry that ends
/// in `>`, otherwise the whole entry (keepalived 2.4 `mail_cmd`, `rcpt_cmd`).
pub fn envelope_address(entry: &str) -> &str {
    match (entry.strip_suffix('>'), entry.rfind('<')) {
        (Some(without_close), Some(open)) => &without_close[open + 1..],
        _ => entry,
    }
}

/// The `Date:` value: local time, `%a, %d %b %Y %H:%M:%S %z` in the C locale (kad
/// never calls setlocale), as keepalived's `body_cmd` writes it.
pub fn rfc822_date(at: SystemTime) -> String {
    // The clock is never before 1970 on a machine running VRRP; clamp rather than fail.
    let seconds = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let time = libc::time_t::try_from(seconds).unwrap_or(libc::time_t::MAX);
    // SAFETY: localtime_r and strftime only write into the buffers passed here; tm is
    // plain data for which all-zero is a valid value.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&time, &mut tm).is_null() {
            return String::new();
        }
        let mut buf = [0u8; 80];
        let len = libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%a, %d %b %Y %H:%M:%S %z".as_ptr(),
            &tm,
        );
        String::from_utf8_lossy(&buf[..len]).into_owned()
    }
}

/// The message as keepalived sends it after `DATA`, without the final `.` line (lettre
/// adds `\r\n.\r\n` and dot-stuffs). `to` holds the formatted `notification_email`
/// entries.
pub fn message_bytes(date: &str, from: &str, subject: &str, to: &[String], body: &str) -> Vec<u8> {
    let mut text = format!(
        "Date: {date}\r\nFrom: {}\r\nSubject: {}\r\nX-Mailer: {X_MAILER}\r\nTo:",
        one_line(from),
        encode_subject(&one_line(subject)),
    );
    for (i, entry) in to.iter().enumerate() {
        text.push_str(if i == 0 { " " } else { ",\r\n " });
        text.push_str(&one_line(entry));
    }
    text.push_str("\r\n\r\n");
    text.push_str(body);
    text.push_str("\r\n");
    text.into_bytes()
}

/// A line break inside a header value would start a new header (or the body).
fn one_line(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

/// ASCII subjects go out unchanged. Others become RFC 2047 `B` encoded words, each at
/// most 75 characters (45 bytes of UTF-8 in 60 base64 characters) and never splitting
/// a character, on folded continuation lines.
fn encode_subject(subject: &str) -> String {
    if subject.is_ascii() {
        return subject.to_string();
    }
    const CHUNK: usize = 45;
    let mut words = Vec::new();
    let mut start = 0;
    while start < subject.len() {
        let mut end = (start + CHUNK).min(subject.len());
        while !subject.is_char_boundary(end) {
            end -= 1;
        }
        words.push(format!(
            "=?UTF-8?B?{}?=",
            base64(&subject.as_bytes()[start..end])
        ));
        start = end;
    }
    words.join("\r\n ")
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= group.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::Duration;

    fn instance(name: &str) -> MailTarget {
        MailTarget::Instance(name.into())
    }
    fn group(name: &str) -> MailTarget {
        MailTarget::Group(name.into())
    }

    #[test]
    fn instance_subjects_and_bodies_match_keepalived() {
        let cases = [
            (
                MailState::Master,
                "Entering MASTER state",
                "=> VRRP Instance is now owning VRRP VIPs <=",
            ),
            (
                MailState::Backup,
                "Entering BACKUP state",
                "=> VRRP Instance is no longer owning VRRP VIPs <=",
            ),
            (
                MailState::Fault,
                "Entering FAULT state",
                "=> VRRP Instance is no longer owning VRRP VIPs <=",
            ),
            (MailState::Stop, "Stopping", "=> VRRP Instance stopping <="),
            (
                MailState::Deleted,
                "Deleted",
                "=> VRRP Deleted at reload <=",
            ),
        ];
        for (state, text, body) in cases {
            let a = alert("LB1", &instance("V3"), state).unwrap();
            assert_eq!(a.subject, format!("[LB1] VRRP Instance V3 - {text}"));
            assert_eq!(a.body, body);
        }
    }

    #[test]
    fn group_subjects_and_bodies_match_keepalived() {
        let cases = [
            (
                MailState::Master,
                "Entering MASTER state",
                "=> All VRRP group instances are now in MASTER state <=",
            ),
            (
                MailState::Backup,
                "Entering BACKUP state",
                "=> All VRRP group instances are now in BACKUP state <=",
            ),
            (
                MailState::Fault,
                "Entering FAULT state",
                "=> All VRRP group instances are now in FAULT state <=",
            ),
            (
                MailState::Stop,
                "Stopping",
                "=> All VRRP group instances are now stopping <=",
            ),
        ];
        for (state, text, body) in cases {
            let a = alert("LB1", &group("G1"), state).unwrap();
            assert_eq!(a.subject, format!("[LB1] VRRP Group G1 - {text}"));
            assert_eq!(a.body, body);
        }
        assert_eq!(alert("LB1", &group("G1"), MailState::Deleted), None);
    }

    #[test]
    fn long_subject_is_cut_to_255_bytes_on_a_character_boundary() {
        let ascii = alert("r", &instance(&"x".repeat(400)), MailState::Master).unwrap();
        assert_eq!(ascii.subject.len(), 255);
        assert!(ascii.subject.starts_with("[r] VRRP Instance xxx"));

        // "[r] VRRP Instance " is 18 bytes, so byte 255 falls in the middle of the
        // 119th two-byte character.
        let name = "é".repeat(200);
        let subject = alert("r", &instance(&name), MailState::Master)
            .unwrap()
            .subject;
        assert_eq!(subject.len(), 254);
        assert!(subject.ends_with('é'));
    }

    #[test]
    fn display_names_with_specials_are_quoted_like_keepalived() {
        assert_eq!(format_email_addr("ops@example.com"), "ops@example.com");
        assert_eq!(
            format_email_addr("Ops Team <team@example.com>"),
            "Ops Team <team@example.com>"
        );
        assert_eq!(
            format_email_addr("Ops, Team <team@example.com>"),
            "\"Ops, Team\" <team@example.com>"
        );
        assert_eq!(
            format_email_addr("J. R. \\ \"Bob\" <b@example.com>"),
            "\"J. R. \\\\ \\\"Bob\\\"\" <b@example.com>"
        );
        assert_eq!(
            format_email_addr("a.b\t <x@example.com>"),
            "\"a.b\"\t <x@example.com>"
        );
        assert_eq!(format_email_addr("<x@example.com>"), "<x@example.com>");
        assert_eq!(
            format_email_addr("no opening bracket>"),
            "no opening bracket>"
        );
        assert_eq!(
            format_email_addr("\"Ops, Team\" <t@example.com>"),
            "\"Ops, Team\" <t@example.com>"
        );
        assert_eq!(format_email_addr(""), "");
    }

    #[test]
    fn envelope_uses_the_bracketed_part() {
        assert_eq!(
            envelope_address("Ops Team <team@example.com>"),
            "team@example.com"
        );
        assert_eq!(envelope_address("\"a<b\" <c@example.com>"), "c@example.com");
        assert_eq!(envelope_address("ops@example.com"), "ops@example.com");
        assert_eq!(
            envelope_address("Ops <ops@example.com"),
            "Ops <ops@example.com"
        );
        assert_eq!(envelope_address("x>"), "x>");
        assert_eq!(envelope_address("<>"), "");
    }

    #[test]
    fn message_matches_keepalived_transcript() {
        let to = vec![
            "ops@example.com".to_string(),
            "Ops Team <team@example.com>".to_string(),
        ];
        let bytes = message_bytes(
            "Fri, 27 Nov 2026 10:57:17 +0000",
            "Keepalived <ka@example.com>",
            "[LB1] VRRP Instance V3 - Entering MASTER state",
            &to,
            "=> VRRP Instance is now owning VRRP VIPs <=",
        );
        let expected = "Date: Fri, 27 Nov 2026 10:57:17 +0000\r\n\
            From: Keepalived <ka@example.com>\r\n\
            Subject: [LB1] VRRP Instance V3 - Entering MASTER state\r\n\
            X-Mailer: kad\r\n\
            To: ops@example.com,\r\n Ops Team <team@example.com>\r\n\
            \r\n\
            => VRRP Instance is now owning VRRP VIPs <=\r\n";
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    }

    #[test]
    fn header_values_cannot_break_lines() {
        let bytes = message_bytes(
            "d",
            "a\r\nBcc: x@example.com",
            "s\ninjected: 1",
            &["t\r\n".into()],
            "b",
        );
        let text = String::from_utf8(bytes).unwrap();
        let headers: Vec<&str> = text
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .split("\r\n")
            .collect();
        assert_eq!(
            headers,
            [
                "Date: d",
                "From: a  Bcc: x@example.com",
                "Subject: s injected: 1",
                "X-Mailer: kad",
                "To: t  "
            ]
        );
    }

    #[test]
    fn non_ascii_subject_becomes_encoded_words() {
        let subject = format!(
            "[{}] VRRP Instance V1 - Entering MASTER state",
            "Zürich-Lastverteiler-ß".repeat(3)
        );
        let encoded = encode_subject(&subject);
        assert!(encoded.is_ascii());
        let mut decoded = Vec::new();
        for word in encoded.split("\r\n ") {
            assert!(word.len() <= 75, "{word}");
            let b64 = word
                .strip_prefix("=?UTF-8?B?")
                .unwrap()
                .strip_suffix("?=")
                .unwrap();
            decoded.extend(base64_decode(b64));
            // Each word must decode on its own to whole characters.
            assert!(std::str::from_utf8(&base64_decode(b64)).is_ok());
        }
        assert_eq!(String::from_utf8(decoded).unwrap(), subject);
        assert_eq!(encode_subject("plain"), "plain");
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    fn base64_decode(text: &str) -> Vec<u8> {
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for c in text.chars().filter(|&c| c != '=') {
            bits = (bits << 6) | ALPHABET.find(c).unwrap() as u32;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
            }
        }
        out
    }

    #[test]
    fn date_is_localtime_in_the_format_date_1_prints() {
        let at = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let ours = rfc822_date(at);
        let date = Command::new("date")
            .args(["-d", "@1795000000", "+%a, %d %b %Y %H:%M:%S %z"])
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        assert!(date.status.success());
        assert_eq!(ours, String::from_utf8(date.stdout).unwrap().trim_end());
    }
}
