//! Reading command arguments that may be `-` for stdin or a file path.

use std::io::Read;

use super::CliError;
use super::code::Code;

/// Returns the argument itself, or all of stdin when it is `-`, trimmed.
pub fn arg_or_stdin(arg: &str, what: &str) -> Result<String, CliError> {
    if arg != "-" {
        return Ok(arg.trim().to_owned());
    }
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|e| {
        CliError::new(
            Code::BadInput,
            format!("cannot read {what} from stdin: {e}"),
        )
    })?;
    Ok(s.trim().to_owned())
}

/// Returns the contents of a file, or of stdin for `-`, as bytes.
pub fn file_or_stdin(arg: &str, what: &str) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    if arg == "-" {
        std::io::stdin().read_to_end(&mut buf).map_err(|e| {
            CliError::new(
                Code::BadInput,
                format!("cannot read {what} from stdin: {e}"),
            )
        })?;
        return Ok(buf);
    }
    std::fs::read(arg)
        .map_err(|e| CliError::new(Code::BadInput, format!("cannot read {what} {arg:?}: {e}")))
}
