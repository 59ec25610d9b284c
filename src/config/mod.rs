//! Reading keepalived.conf: lexer (keepalived's tokenizer rules) → parser (nom, keyword
//! tables) → model (typed) → validation (derived defaults, strict mode, interfaces).

pub mod diag;
pub mod lexer;
pub mod model;
