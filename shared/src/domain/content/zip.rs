//! A ZIP archive is checked the way an extractor would meet it, before any extractor does: the
//! end-of-central-directory record, the central directory entry by entry, each entry's local
//! header agreeing with it, entries laid end to end with nothing hidden between them or before
//! the first, and every entry inflated — streamed, in bounded chunks — with its CRC-32 checked
//! and its output counted against the limits (total size, expansion ratio, entry count). An
//! archive found inside is checked the same way, one level deeper, up to the allowed depth.
//!
//! Refused as "cannot be checked": encryption, ZIP64, multi-disk archives, compression methods
//! other than stored and deflate.

use super::crc32::Crc32;
use super::{
    Fail, Problem, ReadAt, Step, ZipLimits, le16, le32, malformed, read, read_exact, tail,
};
use flate2::{Decompress, FlushDecompress, Status};

const FORMAT: &str = "ZIP";
const END_OF_DIRECTORY: &[u8] = b"PK\x05\x06";
const ZIP64_LOCATOR: &[u8] = b"PK\x06\x07";
const CENTRAL_HEADER: &[u8] = b"PK\x01\x02";
const LOCAL_HEADER: &[u8] = b"PK\x03\x04";
const DATA_DESCRIPTOR: &[u8] = b"PK\x07\x08";
/// The end record is 22 bytes and a comment of up to 65,535.
const MAX_END_RECORD: u64 = 22 + 65_535;
/// No honest directory of at most `max_entries` entries comes near this.
const MAX_CENTRAL_DIRECTORY: u64 = 16 * 1024 * 1024;
/// How much compressed data is read, and how much output is produced, at a time.
const CHUNK: usize = 64 * 1024;

/// How much inflating has produced so far, nested archives included.
#[derive(Debug, Default)]
struct Budget {
    produced: u64,
}

pub(super) fn check<R: ReadAt + ?Sized>(source: &R, limits: &ZipLimits) -> Step<R::Error> {
    check_at_depth(source, limits, 1, &mut Budget::default())
}

/// One entry of the central directory, with what its local header adds.
#[derive(Debug)]
struct Entry {
    index: usize,
    name: Vec<u8>,
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    local_offset: u64,
}

fn check_at_depth<R: ReadAt + ?Sized>(
    source: &R,
    limits: &ZipLimits,
    depth: u32,
    budget: &mut Budget,
) -> Step<R::Error> {
    let end = end_record(source)?;
    if end.entries > u64::from(limits.max_entries) {
        return Err(too_large(format!(
            "{} entries, at most {} allowed",
            end.entries, limits.max_entries
        )));
    }
    if end.directory_size > MAX_CENTRAL_DIRECTORY {
        return Err(malformed(
            FORMAT,
            "the central directory is implausibly large",
        ));
    }
    let directory = read_exact(
        source,
        end.directory_offset,
        end.directory_size as usize,
        FORMAT,
        "the central directory",
    )?;
    let mut entries = central_directory(&directory, end.entries)?;
    let declared: u64 = entries.iter().map(|e| e.uncompressed).sum();
    if budget.produced.saturating_add(declared) > limits.max_uncompressed_bytes {
        return Err(too_large(format!(
            "it declares {declared} bytes uncompressed, at most {} allowed",
            limits.max_uncompressed_bytes
        )));
    }
    check_ratio(declared, source.size(), limits, "the archive")?;

    // Entries are laid end to end from byte 0 to the central directory.
    entries.sort_by_key(|entry| entry.local_offset);
    let mut expected_offset = 0u64;
    for entry in &entries {
        if entry.local_offset != expected_offset {
            return Err(malformed(
                FORMAT,
                format!(
                    "entry {} does not start where the previous one ends",
                    entry.index
                ),
            ));
        }
        let data_start = local_header(source, entry)?;
        let data_end = data_start
            .checked_add(entry.compressed)
            .filter(|&data_end| data_end <= end.directory_offset)
            .ok_or_else(|| malformed(FORMAT, format!("entry {} runs past its end", entry.index)))?;
        inflate(source, entry, data_start, limits, depth, budget)?;
        expected_offset = data_end + descriptor_len(source, entry, data_end)?;
    }
    if expected_offset != end.directory_offset {
        return Err(malformed(
            FORMAT,
            "there are bytes between the last entry and the central directory",
        ));
    }
    Ok(())
}

fn too_large<E>(detail: String) -> Fail<E> {
    Fail::Problem(Problem::ArchiveTooLarge(detail))
}

fn unsupported<E>(detail: &str) -> Fail<E> {
    Fail::Problem(Problem::Unsupported {
        format: FORMAT,
        detail: detail.to_owned(),
    })
}

fn check_ratio<E>(uncompressed: u64, compressed: u64, limits: &ZipLimits, what: &str) -> Step<E> {
    if uncompressed > limits.ratio_grace_bytes
        && uncompressed > compressed.saturating_mul(u64::from(limits.max_ratio))
    {
        return Err(too_large(format!(
            "{what} expands {uncompressed} bytes from {compressed}, more than {}:1",
            limits.max_ratio
        )));
    }
    Ok(())
}

/// The end-of-central-directory record.
struct EndRecord {
    entries: u64,
    directory_size: u64,
    directory_offset: u64,
}

fn end_record<R: ReadAt + ?Sized>(source: &R) -> Result<EndRecord, Fail<R::Error>> {
    let (start, bytes) = tail(source, MAX_END_RECORD)?;
    // The last signature whose comment length reaches exactly the end of the file.
    let at = (0..bytes.len().saturating_sub(21))
        .rev()
        .find(|&at| {
            bytes[at..].starts_with(END_OF_DIRECTORY)
                && at + 22 + usize::from(le16(&bytes[at + 20..])) == bytes.len()
        })
        .ok_or_else(|| malformed(FORMAT, "there is no end-of-central-directory record"))?;
    let record = &bytes[at..];
    let (disk, directory_disk) = (le16(&record[4..]), le16(&record[6..]));
    let (on_disk, total) = (le16(&record[8..]), le16(&record[10..]));
    let (size, offset) = (le32(&record[12..]), le32(&record[16..]));
    if total == 0xffff
        || size == 0xffff_ffff
        || offset == 0xffff_ffff
        || (at >= 20 && bytes[at - 20..].starts_with(ZIP64_LOCATOR))
    {
        return Err(unsupported("ZIP64 archives are not accepted"));
    }
    if disk != 0 || directory_disk != 0 || on_disk != total {
        return Err(unsupported("multi-disk archives are not accepted"));
    }
    let record_offset = start + at as u64;
    if u64::from(offset) + u64::from(size) != record_offset {
        return Err(malformed(
            FORMAT,
            "the central directory does not end where the end record starts",
        ));
    }
    Ok(EndRecord {
        entries: u64::from(total),
        directory_size: u64::from(size),
        directory_offset: u64::from(offset),
    })
}

fn central_directory<E>(directory: &[u8], count: u64) -> Result<Vec<Entry>, Fail<E>> {
    let mut entries = Vec::with_capacity(count as usize);
    let mut rest = directory;
    for index in 1..=count as usize {
        let cut = || {
            malformed(
                FORMAT,
                format!("central directory entry {index} is cut short"),
            )
        };
        if rest.len() < 46 || !rest.starts_with(CENTRAL_HEADER) {
            return Err(cut());
        }
        let (name_len, extra_len, comment_len) = (
            usize::from(le16(&rest[28..])),
            usize::from(le16(&rest[30..])),
            usize::from(le16(&rest[32..])),
        );
        let total = 46 + name_len + extra_len + comment_len;
        if rest.len() < total {
            return Err(cut());
        }
        let (compressed, uncompressed) = (le32(&rest[20..]), le32(&rest[24..]));
        let local_offset = le32(&rest[42..]);
        if compressed == 0xffff_ffff || uncompressed == 0xffff_ffff || local_offset == 0xffff_ffff {
            return Err(unsupported("ZIP64 entries are not accepted"));
        }
        if le16(&rest[34..]) != 0 {
            return Err(unsupported("multi-disk archives are not accepted"));
        }
        let entry = Entry {
            index,
            name: rest[46..46 + name_len].to_vec(),
            flags: le16(&rest[8..]),
            method: le16(&rest[10..]),
            crc: le32(&rest[16..]),
            compressed: u64::from(compressed),
            uncompressed: u64::from(uncompressed),
            local_offset: u64::from(local_offset),
        };
        check_entry(&entry)?;
        entries.push(entry);
        rest = &rest[total..];
    }
    if !rest.is_empty() {
        return Err(malformed(
            FORMAT,
            "the central directory holds more than its entries",
        ));
    }
    Ok(entries)
}

/// What an entry must be, from the directory alone.
fn check_entry<E>(entry: &Entry) -> Step<E> {
    // Bit 0: encrypted; bit 6: strong encryption; bit 13: masked local headers.
    if entry.flags & (1 | 1 << 6 | 1 << 13) != 0 {
        return Err(unsupported("encrypted entries cannot be checked"));
    }
    match entry.method {
        0 if entry.compressed != entry.uncompressed => Err(malformed(
            FORMAT,
            format!("stored entry {} has two different sizes", entry.index),
        )),
        0 | 8 => Ok(()),
        _ => Err(unsupported(
            "only stored and deflated entries can be checked",
        )),
    }?;
    if !is_safe_name(&entry.name) {
        return Err(malformed(
            FORMAT,
            format!("entry {} is not named by a safe relative path", entry.index),
        ));
    }
    Ok(())
}

/// A relative path that stays inside the folder it is extracted to.
fn is_safe_name(name: &[u8]) -> bool {
    let absolute =
        name.starts_with(b"/") || name.starts_with(b"\\") || (name.len() >= 2 && name[1] == b':');
    let climbs = name
        .split(|&b| b == b'/' || b == b'\\')
        .any(|part| part == b"..");
    !name.is_empty() && !name.contains(&0) && !absolute && !climbs
}

/// Checks the local header against the directory; where the entry's data starts.
fn local_header<R: ReadAt + ?Sized>(source: &R, entry: &Entry) -> Result<u64, Fail<R::Error>> {
    let what = format!("entry {}'s local header", entry.index);
    let header = read_exact(source, entry.local_offset, 30, FORMAT, &what)?;
    if !header.starts_with(LOCAL_HEADER) {
        return Err(malformed(FORMAT, format!("{what} is missing")));
    }
    let (name_len, extra_len) = (
        u64::from(le16(&header[26..])),
        u64::from(le16(&header[28..])),
    );
    let name = read_exact(
        source,
        entry.local_offset + 30,
        name_len as usize,
        FORMAT,
        &what,
    )?;
    if le16(&header[8..]) != entry.method || name != entry.name {
        return Err(malformed(
            FORMAT,
            format!("{what} disagrees with the central directory"),
        ));
    }
    Ok(entry.local_offset + 30 + name_len + extra_len)
}

/// The data descriptor after an entry's data, when its flags say there is one: 12 bytes, or
/// 16 with its optional signature.
fn descriptor_len<R: ReadAt + ?Sized>(
    source: &R,
    entry: &Entry,
    data_end: u64,
) -> Result<u64, Fail<R::Error>> {
    if entry.flags & (1 << 3) == 0 {
        return Ok(0);
    }
    let what = format!("entry {}'s data descriptor", entry.index);
    let bytes = read_exact(source, data_end, 12, FORMAT, &what)?;
    if bytes.starts_with(DATA_DESCRIPTOR) {
        read_exact(source, data_end, 16, FORMAT, &what)?;
        Ok(16)
    } else {
        Ok(12)
    }
}

/// Where an entry's output goes: counted, checksummed, and kept when it is an archive.
struct Output<'l> {
    entry: &'l Entry,
    limits: &'l ZipLimits,
    depth: u32,
    produced: u64,
    crc: Crc32,
    head: Vec<u8>,
    nested: Option<Vec<u8>>,
}

impl Output<'_> {
    fn take<E>(&mut self, bytes: &[u8], budget: &mut Budget) -> Step<E> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.produced += bytes.len() as u64;
        budget.produced += bytes.len() as u64;
        if self.produced > self.entry.uncompressed {
            return Err(malformed(
                FORMAT,
                format!(
                    "entry {} expands beyond its declared size",
                    self.entry.index
                ),
            ));
        }
        if budget.produced > self.limits.max_uncompressed_bytes {
            return Err(too_large(format!(
                "it expands beyond {} bytes",
                self.limits.max_uncompressed_bytes
            )));
        }
        check_ratio(
            self.produced,
            self.entry.compressed,
            self.limits,
            &format!("entry {}", self.entry.index),
        )?;
        self.crc.update(bytes);
        if self.head.len() < 4 {
            let wanted = (4 - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..wanted]);
            if self.head.len() == 4 && is_archive(&self.head) {
                if self.depth >= self.limits.max_depth {
                    return Err(Fail::Problem(Problem::NestedTooDeep {
                        max_depth: self.limits.max_depth,
                    }));
                }
                // Bounded: the entry may not exceed its declared size, within the budget.
                self.nested = Some(Vec::with_capacity(self.entry.uncompressed as usize));
            }
        }
        if let Some(nested) = &mut self.nested {
            nested.extend_from_slice(bytes);
        }
        Ok(())
    }
}

fn is_archive(head: &[u8]) -> bool {
    head.starts_with(LOCAL_HEADER) || head.starts_with(END_OF_DIRECTORY)
}

fn inflate<R: ReadAt + ?Sized>(
    source: &R,
    entry: &Entry,
    data_start: u64,
    limits: &ZipLimits,
    depth: u32,
    budget: &mut Budget,
) -> Step<R::Error> {
    let mut output = Output {
        entry,
        limits,
        depth,
        produced: 0,
        crc: Crc32::default(),
        head: Vec::with_capacity(4),
        nested: None,
    };
    let truncated = || malformed(FORMAT, format!("entry {}'s data is cut short", entry.index));
    let mut offset = data_start;
    let mut remaining = entry.compressed;
    let next_chunk = |offset: &mut u64, remaining: &mut u64| -> Result<Vec<u8>, Fail<R::Error>> {
        let len = (*remaining).min(CHUNK as u64) as usize;
        let chunk = read(source, *offset, len)?;
        if chunk.len() != len {
            return Err(truncated());
        }
        *offset += len as u64;
        *remaining -= len as u64;
        Ok(chunk)
    };
    if entry.method == 0 {
        while remaining > 0 {
            let chunk = next_chunk(&mut offset, &mut remaining)?;
            output.take(&chunk, budget)?;
        }
    } else {
        let mut inflater = Decompress::new(false);
        let mut buffer = vec![0u8; CHUNK];
        let mut input = Vec::new();
        let mut used = 0;
        loop {
            if used == input.len() && remaining > 0 {
                input = next_chunk(&mut offset, &mut remaining)?;
                used = 0;
            }
            let (before_in, before_out) = (inflater.total_in(), inflater.total_out());
            let status = inflater
                .decompress(&input[used..], &mut buffer, FlushDecompress::None)
                .map_err(|_| {
                    malformed(
                        FORMAT,
                        format!("entry {} is not valid deflate data", entry.index),
                    )
                })?;
            used += (inflater.total_in() - before_in) as usize;
            let produced = (inflater.total_out() - before_out) as usize;
            output.take(&buffer[..produced], budget)?;
            match status {
                Status::StreamEnd => break,
                _ if produced == 0 && used == input.len() && remaining == 0 => {
                    return Err(truncated());
                }
                _ => {}
            }
        }
    }
    if output.produced != entry.uncompressed || output.crc.value() != entry.crc {
        return Err(malformed(
            FORMAT,
            format!("entry {} does not match its size or CRC-32", entry.index),
        ));
    }
    if let Some(nested) = output.nested {
        match check_at_depth(nested.as_slice(), limits, depth + 1, budget) {
            Ok(()) => {}
            Err(Fail::Problem(problem)) => return Err(Fail::Problem(problem)),
            Err(Fail::Source(never)) => match never {},
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
