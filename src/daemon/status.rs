//! Live status of the running daemon (kad extension).
