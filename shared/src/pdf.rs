//! A small PDF writer for the documents the municipality issues itself — the receipt of a
//! practice (art. 18-bis L. 241/1990) and, later, the attestations — so that they are files a
//! citizen can keep and print, and the archive can fingerprint.
//!
//! What it does, and no more: A4 pages of text in Helvetica (a title in bold, paragraphs
//! wrapped to the page's width, new pages as needed), WinAnsi-encoded so that Italian accents
//! print, and a cross-reference table with exact offsets. The output depends on the input
//! alone (no dates, no random ids): the same facts give the same bytes, hence the same SHA-256.

use std::fmt::Write as _;

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const BODY_SIZE: f32 = 10.0;
const TITLE_SIZE: f32 = 14.0;
const LEADING: f32 = 14.0;
/// Characters per line at the body size: Helvetica averages about half an em per character,
/// kept below the page's width so that a line of wide letters still fits.
const LINE_CHARS: usize = 92;

/// One block of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Title(String),
    /// A bold line (a heading within the text).
    Heading(String),
    /// Text wrapped at word boundaries.
    Paragraph(String),
    /// `label: value`, the value's further lines indented under it.
    Field(String, String),
    /// Vertical space of one line.
    Gap,
}

struct Line {
    bold: bool,
    size: f32,
    indent: f32,
    text: String,
}

/// Wraps `text` at word boundaries into lines of at most `width` characters; a word longer
/// than a line (an impronta, a URL) is cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            lines.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        let needed =
            current.chars().count() + usize::from(!current.is_empty()) + word.chars().count();
        if needed > width && !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

fn lay_out(blocks: &[Block]) -> Vec<Line> {
    let body = |bold, indent: f32, text: String| Line {
        bold,
        size: BODY_SIZE,
        indent,
        text,
    };
    let mut lines = Vec::new();
    for block in blocks {
        match block {
            Block::Title(text) => {
                for t in wrap(text, LINE_CHARS * 7 / 10) {
                    lines.push(Line {
                        bold: true,
                        size: TITLE_SIZE,
                        indent: 0.0,
                        text: t,
                    });
                }
                lines.push(body(false, 0.0, String::new()));
            }
            Block::Heading(text) => lines.extend(
                wrap(text, LINE_CHARS)
                    .into_iter()
                    .map(|t| body(true, 0.0, t)),
            ),
            Block::Paragraph(text) => lines.extend(
                wrap(text, LINE_CHARS)
                    .into_iter()
                    .map(|t| body(false, 0.0, t)),
            ),
            Block::Field(label, value) => {
                // "Label: value", continuation lines indented under the value.
                let label_chars = label.chars().count() + 2;
                let width = LINE_CHARS.saturating_sub(label_chars).max(24);
                let mut wrapped = wrap(value, width).into_iter();
                let first = wrapped.next().unwrap_or_default();
                lines.push(body(false, 0.0, format!("{label}: {first}")));
                let indent = 5.0 * label_chars as f32;
                lines.extend(wrapped.map(|t| body(false, indent, t)));
            }
            Block::Gap => lines.push(body(false, 0.0, String::new())),
        }
    }
    lines
}

/// The text as WinAnsi bytes inside a PDF string: `(`, `)` and `\` escaped, characters
/// outside the encoding replaced by `?`.
fn pdf_string(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b'(');
    for c in text.chars() {
        let byte = match c {
            '(' | ')' | '\\' => {
                out.push(b'\\');
                c as u8
            }
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '–' => 0x96,
            '—' => 0x97,
            '…' => 0x85,
            _ => b'?',
        };
        out.push(byte);
    }
    out.push(b')');
    out
}

/// The content stream of one page.
fn page_content(lines: &[Line]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut y = PAGE_HEIGHT - MARGIN;
    for line in lines {
        y -= if line.size > BODY_SIZE {
            line.size + 4.0
        } else {
            LEADING
        };
        if line.text.is_empty() {
            continue;
        }
        let font = if line.bold { "F2" } else { "F1" };
        let mut op = String::new();
        let _ = write!(
            op,
            "BT /{font} {} Tf {:.1} {:.1} Td ",
            line.size,
            MARGIN + line.indent,
            y
        );
        out.extend_from_slice(op.as_bytes());
        out.extend_from_slice(&pdf_string(&line.text));
        out.extend_from_slice(b" Tj ET\n");
    }
    out
}

/// Lines per page at the body leading.
fn per_page() -> usize {
    ((PAGE_HEIGHT - 2.0 * MARGIN) / LEADING) as usize - 2
}

/// The document: `title` in its Info dictionary, `blocks` on as many A4 pages as they need.
pub fn document(title: &str, blocks: &[Block]) -> Vec<u8> {
    let lines = lay_out(blocks);
    let mut pages: Vec<&[Line]> = lines.chunks(per_page()).collect();
    if pages.is_empty() {
        pages.push(&[]);
    }

    // Objects: 1 catalog, 2 pages, 3 and 4 fonts, 5 info, then a page and its content each.
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        Vec::new(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
            .to_vec(),
        {
            let mut info = b"<< /Title ".to_vec();
            info.extend_from_slice(&pdf_string(title));
            info.extend_from_slice(b" /Producer (Sportello) >>");
            info
        },
    ];
    let mut kids = Vec::new();
    for page in &pages {
        let page_id = objects.len() + 1;
        let content_id = page_id + 1;
        kids.push(format!("{page_id} 0 R"));
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                 /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {content_id} 0 R >>"
            )
            .into_bytes(),
        );
        let content = page_content(page);
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(&content);
        stream.extend_from_slice(b"endstream");
        objects.push(stream);
    }
    objects[1] = format!(
        "<< /Type /Pages /Kids [{}] /Count {} >>",
        kids.join(" "),
        pages.len()
    )
    .into_bytes();

    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(object);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        let _ = writeln!(table, "{offset:010} 00000 n ");
    }
    let _ = write!(
        table,
        "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    out.extend_from_slice(table.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_and_cuts_only_what_cannot_fit() {
        assert_eq!(wrap("uno due tre", 7), ["uno due", "tre"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert!(wrap("   ", 10).is_empty());
    }

    #[test]
    fn strings_are_escaped_and_accents_encoded() {
        assert_eq!(pdf_string("a(b)\\"), b"(a\\(b\\)\\\\)".to_vec());
        assert_eq!(pdf_string("è€✓"), vec![b'(', 0xe8, 0x80, b'?', b')']);
    }

    #[test]
    fn the_same_blocks_give_the_same_bytes_and_a_valid_cross_reference() {
        let blocks: Vec<Block> = std::iter::once(Block::Title("Ricevuta".into()))
            .chain((0..150).map(|i| Block::Field(format!("Riga {i}"), "valore ".repeat(30))))
            .collect();
        let one = document("Ricevuta", &blocks);
        assert_eq!(one, document("Ricevuta", &blocks));
        let text = String::from_utf8_lossy(&one);
        assert!(text.starts_with("%PDF-1.4"));
        assert!(text.trim_end().ends_with("%%EOF"));
        // Every offset of the table points at its object.
        let start: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let table = &text[start..];
        for (n, entry) in table
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .enumerate()
        {
            let offset: usize = entry[..10].parse().unwrap();
            assert!(
                text[offset..].starts_with(&format!("{} 0 obj", n + 1)),
                "object {} not at {offset}",
                n + 1
            );
        }
        // What validation asks of a citizen's PDF, ours passes too.
        let checked = crate::domain::content::check_bytes(&one, &Default::default());
        assert!(
            matches!(checked, Some(("application/pdf", Ok(())))),
            "{checked:?}"
        );
        assert!(text.contains("/Count "), "several pages: {}", &text[..200]);
        assert!(
            !text.contains("/Count 1 "),
            "150 fields need more than a page"
        );
    }
}
