//! Reading command arguments that may be `-` for stdin or a file path.

use std::io::Read;

use super::CliError;

/// Returns the argument itself, or all of stdin when it is `-`, trimmed.
pub fn arg_or_stdin(arg: &str, what: &str) -> Result<String, CliError> {
    if arg != "-" {
        return Ok(arg.trim().to_owned());
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| CliError::user("bad_input", format!("cannot read {what} from stdin: {e}")))?;
    Ok(s.trim().to_owned())
}
