//! File names as a message may show them: control characters blanked, every tax code and
//! email address a citizen put in the name masked, the length bounded.

use super::is_blank;
use sportello_shared::domain::privacy::scrub;

/// File names are echoed in messages; a pathological one must not swamp them.
pub(super) const MAX_SHOWN_FILE_NAME_CHARS: usize = 80;

/// The file name as it may appear in a message: no control characters, no tax code or email
/// address a citizen put in the name, bounded length.
pub(super) fn shown_file_name(raw: &str) -> String {
    let cleaned: String = raw
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let masked = scrub(&cleaned);
    let mut shown: String = masked.chars().take(MAX_SHOWN_FILE_NAME_CHARS).collect();
    if masked.chars().count() > MAX_SHOWN_FILE_NAME_CHARS {
        shown.push('…');
    }
    if is_blank(&shown) {
        "senza nome".to_owned()
    } else {
        shown
    }
}
