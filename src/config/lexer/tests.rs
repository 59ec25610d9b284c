//! Rule-by-rule tests of the lexer.
