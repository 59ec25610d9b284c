//! VRRP advertisement codec (RFC 3768 v2, RFC 5798/9568 v3), byte-compatible with keepalived.
