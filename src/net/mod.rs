//! net (to be filled)
