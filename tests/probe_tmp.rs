#[path = "it/probe.rs"]
mod probe;
