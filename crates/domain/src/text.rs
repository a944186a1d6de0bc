//! Control characters in texts. A single-line field (a summary, a name, an id) holds none at
//! all; a multi-line one (details, a reply, a note) only line breaks and tabs. What else could
//! arrive (a NUL, which PostgreSQL cannot store; an escape sequence that rewrites a terminal; a
//! bidi override or a C1 control that disguises text in a printed ledger) is refused at
//! validation with [`FieldError::ControlCharacter`], on the tablet and the server alike.

use crate::error::FieldError;

/// No control character at all (`char::is_control`: C0, DEL and C1).
pub fn check_single_line(text: &str) -> Result<(), FieldError> {
    if text.chars().any(char::is_control) {
        Err(FieldError::ControlCharacter)
    } else {
        Ok(())
    }
}

/// No control character but line breaks and tabs.
pub fn check_multi_line(text: &str) -> Result<(), FieldError> {
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        Err(FieldError::ControlCharacter)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_lines_refuse_every_control_character() {
        for bad in [
            "a\0b",
            "a\nb",
            "a\rb",
            "a\tb",
            "\u{1b}[2J",
            "a\u{7f}",
            "a\u{85}b",
        ] {
            assert_eq!(
                check_single_line(bad),
                Err(FieldError::ControlCharacter),
                "{bad:?}"
            );
        }
        for good in ["", "张三", "station-xingfuli", "3 号楼 2 单元", "a b"] {
            assert_eq!(check_single_line(good), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn multi_lines_keep_line_breaks_and_tabs_only() {
        assert_eq!(check_multi_line("一\n二\r\n\t三"), Ok(()));
        for bad in ["a\0b", "\u{1b}[31m", "a\u{8}", "a\u{9b}"] {
            assert_eq!(
                check_multi_line(bad),
                Err(FieldError::ControlCharacter),
                "{bad:?}"
            );
        }
    }
}
