//! daemon (to be filled)
