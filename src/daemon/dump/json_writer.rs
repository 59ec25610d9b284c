//! A compact JSON writer that keeps keepalived's field order and number formats
//! (`%g` floats, `%f` for `last_transition`, `\/` for slashes). serde_json would reorder
//! nothing but print `5.0` where keepalived prints `5`, and consumers compare strings.

use std::fmt::Write as _;

use super::text::format_g;

#[derive(Default)]
pub(crate) struct JsonWriter {
    out: String,
    /// A value was written at this level: the next one needs a comma.
    need_comma: bool,
}

impl JsonWriter {
    pub fn finish(mut self) -> String {
        self.out.push('\n');
        self.out
    }

    fn separate(&mut self) {
        if self.need_comma {
            self.out.push(',');
        }
        self.need_comma = true;
    }

    pub fn begin_object(&mut self) {
        self.separate();
        self.out.push('{');
        self.need_comma = false;
    }

    pub fn end_object(&mut self) {
        self.out.push('}');
        self.need_comma = true;
    }

    pub fn begin_array(&mut self) {
        self.separate();
        self.out.push('[');
        self.need_comma = false;
    }

    pub fn end_array(&mut self) {
        self.out.push(']');
        self.need_comma = true;
    }

    pub fn name(&mut self, name: &str) {
        self.separate();
        self.quoted(name);
        self.out.push(':');
        self.need_comma = false;
    }

    pub fn string(&mut self, value: &str) {
        self.separate();
        self.quoted(value);
    }

    fn raw(&mut self, value: &str) {
        self.separate();
        self.out.push_str(value);
    }

    pub fn field_str(&mut self, name: &str, value: &str) {
        self.name(name);
        self.string(value);
    }

    pub fn field_uint(&mut self, name: &str, value: u64) {
        self.name(name);
        self.raw(&value.to_string());
    }

    pub fn field_flag(&mut self, name: &str, value: bool) {
        self.field_uint(name, u64::from(value));
    }

    pub fn field_bool(&mut self, name: &str, value: bool) {
        self.name(name);
        self.raw(if value { "true" } else { "false" });
    }

    /// `%g`, as keepalived's `jsonw_float_field`.
    pub fn field_float(&mut self, name: &str, value: f64) {
        self.name(name);
        self.raw(&format_g(value));
    }

    /// `%f`, as keepalived writes `last_transition`.
    pub fn field_fixed6(&mut self, name: &str, value: f64) {
        self.name(name);
        self.raw(&format!("{value:.6}"));
    }

    pub fn field_str_array(&mut self, name: &str, values: &[String]) {
        self.name(name);
        self.begin_array();
        for v in values {
            self.string(v);
        }
        self.end_array();
    }

    /// keepalived escapes `/` too; unlike keepalived, a backslash and other control
    /// characters are escaped properly so the document always parses.
    fn quoted(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '/' => self.out.push_str("\\/"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                '\u{8}' => self.out.push_str("\\b"),
                '\u{c}' => self.out.push_str("\\f"),
                c if u32::from(c) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", u32::from(c));
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_and_commas_follow_keepalived() {
        let mut w = JsonWriter::default();
        w.begin_array();
        for name in ["VI_1", "VI/2"] {
            w.begin_object();
            w.name("data");
            w.begin_object();
            w.field_str("iname", name);
            w.field_flag("dont_track_primary", false);
            w.field_float("garp_delay", 5.0);
            w.field_fixed6("last_transition", 1795786191.740781);
            w.field_bool("vipset", true);
            w.field_str_array("vips", &["a b".into()]);
            w.end_object();
            w.end_object();
        }
        w.end_array();
        let out = w.finish();
        assert_eq!(
            out,
            "[{\"data\":{\"iname\":\"VI_1\",\"dont_track_primary\":0,\"garp_delay\":5,\
             \"last_transition\":1795786191.740781,\"vipset\":true,\"vips\":[\"a b\"]}},\
             {\"data\":{\"iname\":\"VI\\/2\",\"dont_track_primary\":0,\"garp_delay\":5,\
             \"last_transition\":1795786191.740781,\"vipset\":true,\"vips\":[\"a b\"]}}]\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed[1]["data"]["iname"], "VI/2");
    }

    #[test]
    fn awkward_strings_still_parse() {
        let nasty = "quote\" back\\slash tab\t bell\u{7} é";
        let mut w = JsonWriter::default();
        w.begin_object();
        w.field_str("s", nasty);
        w.end_object();
        let parsed: serde_json::Value = serde_json::from_str(&w.finish()).unwrap();
        assert_eq!(parsed["s"], nasty);
    }
}
