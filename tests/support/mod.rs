//! What the end-to-end tests share: running the binaries and checking JSON
//! records against docs/output.md's schema.

pub mod run;
pub mod schema;
