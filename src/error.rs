//! Errors shared by the stages: bad input at a position in a file, and I/O
//! messages without Rust's decoration.

use std::fmt;
use std::path::PathBuf;

/// Bad input: a file, a position in it if known, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadInput {
    pub path: PathBuf,
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(
                f,
                "{}:{line}:{column}: {}",
                self.path.display(),
                self.message
            ),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for BadInput {}

/// An I/O error's message without Rust's " (os error N)" suffix.
pub fn io_message(error: &std::io::Error) -> String {
    let message = error.to_string();
    match message.find(" (os error") {
        Some(at) => message[..at].to_string(),
        None => message,
    }
}
