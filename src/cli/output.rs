use std::io::Write;

use serde::Serialize;

use super::CliError;

/// Where a command's result goes: one JSON document, or text for a person.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// Creates the output mode.
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Returns true in `--json` mode.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `value` as JSON in `--json` mode, otherwise the text `human` makes.
    ///
    /// # Errors
    /// Only an internal serialization failure; a closed stdout (broken pipe) is success.
    pub fn emit<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce(&T) -> String,
    ) -> Result<(), CliError> {
        let text = if self.json {
            serde_json::to_string_pretty(value).map_err(CliError::internal)?
        } else {
            human(value)
        };
        let mut stdout = std::io::stdout().lock();
        match writeln!(stdout, "{}", text.trim_end()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::internal(e)),
            _ => Ok(()),
        }
    }

    /// Reports an error: JSON on stdout in `--json` mode, else a line on stderr. A closed
    /// stream is ignored (the exit code still tells): `println!` would panic on it.
    pub fn error(&self, err: &CliError) {
        if self.json {
            let mut doc =
                serde_json::json!({"error": {"code": err.code.as_str(), "message": err.message}});
            if let (Some(serde_json::Value::Object(report)), Some(obj)) =
                (&err.report, doc.as_object_mut())
            {
                for (k, v) in report {
                    obj.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            let _ = writeln!(std::io::stdout().lock(), "{doc}");
        } else {
            let _ = writeln!(std::io::stderr().lock(), "error: {}", err.message);
        }
    }
}
