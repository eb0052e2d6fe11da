//! What a document's file name must be for every stage to take it.
//!
//! The name travels far: the segnatura's `nomeFile` (mandatory, so never blank; XML 1.0 cannot
//! carry control characters), the archive key (storage sanitises it, but a name of only dots
//! or a path says nothing), the citizen's emails, where a result document is an attachment
//! whose name is a MIME header (no control characters). A name that one of them cannot take is
//! refused where it enters — validation for a citizen's documents, returns for a back office's.

use std::fmt;

/// Longer names are not names; most file systems stop at 255 too.
pub const MAX_FILE_NAME_CHARS: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileNameProblem {
    Blank,
    /// Control characters, or the non-characters U+FFFE / U+FFFF.
    ForbiddenCharacters,
    /// `/` or `\`: a path, not a name.
    PathSeparator,
    /// `.`, `..`, `...`: nothing a reader can recognise.
    OnlyDots,
    TooLong,
}

impl fmt::Display for FileNameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileNameProblem::Blank => "the file name is blank",
            FileNameProblem::ForbiddenCharacters => "the file name contains control characters",
            FileNameProblem::PathSeparator => "the file name contains a path separator",
            FileNameProblem::OnlyDots => "the file name is only dots",
            FileNameProblem::TooLong => "the file name is longer than 255 characters",
        })
    }
}

pub fn check_file_name(name: &str) -> Result<(), FileNameProblem> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        Err(FileNameProblem::Blank)
    } else if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    {
        Err(FileNameProblem::ForbiddenCharacters)
    } else if name.contains(['/', '\\']) {
        Err(FileNameProblem::PathSeparator)
    } else if trimmed.chars().all(|c| c == '.') {
        Err(FileNameProblem::OnlyDots)
    } else if name.chars().count() > MAX_FILE_NAME_CHARS {
        Err(FileNameProblem::TooLong)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for name in [
            "pianta.pdf",
            "Carta d'identità (fronte e retro).jpg",
            "relazione.pdf.p7m",
            " spazi intorno.pdf ",
            ".nascosto",
            "senza estensione",
            &"a".repeat(MAX_FILE_NAME_CHARS),
        ] {
            assert_eq!(check_file_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn names_a_later_stage_cannot_take_are_refused() {
        use FileNameProblem::*;
        for (name, problem) in [
            ("", Blank),
            ("   ", Blank),
            ("\t\n", Blank),
            ("a\u{0}.pdf", ForbiddenCharacters),
            ("esito.pdf\r\nContent-Type: text/html", ForbiddenCharacters),
            ("a\tb.pdf", ForbiddenCharacters),
            ("a\u{85}b.pdf", ForbiddenCharacters),
            ("a\u{FFFE}.pdf", ForbiddenCharacters),
            ("../../etc/passwd", PathSeparator),
            ("C:\\Users\\mario\\ci.pdf", PathSeparator),
            (".", OnlyDots),
            (" .. ", OnlyDots),
            ("....", OnlyDots),
        ] {
            assert_eq!(check_file_name(name), Err(problem), "{name:?}");
        }
        let long = "é".repeat(MAX_FILE_NAME_CHARS + 1);
        assert_eq!(check_file_name(&long), Err(TooLong));
    }
}
