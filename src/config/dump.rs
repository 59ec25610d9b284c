//! `-d`: the resolved Config printed back in keepalived.conf syntax.

use super::model::Config;

pub fn dump(_config: &Config) -> String {
    String::new()
}

pub fn same_config(a: &Config, b: &Config) -> bool {
    a == b
}
