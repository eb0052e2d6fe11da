use super::super::fixtures::{self, ZipEntry};
use super::*;

fn verdict(bytes: &[u8], limits: &ZipLimits) -> Result<(), Problem> {
    match check(bytes, limits) {
        Ok(()) => Ok(()),
        Err(Fail::Problem(problem)) => Err(problem),
        Err(Fail::Source(never)) => match never {},
    }
}

fn refused(bytes: &[u8], why: &str) -> Problem {
    let problem = verdict(bytes, &ZipLimits::default()).expect_err("accepted");
    assert!(problem.to_string().contains(why), "{problem}");
    problem
}

const TEXT: &[u8] = b"Relazione tecnica: il fabbricato e' conforme. ";

#[test]
fn stored_and_deflated_archives_pass() {
    let limits = ZipLimits::default();
    let pdf = fixtures::pdf();
    for deflated in [false, true] {
        let zip = fixtures::zip(
            &[("a/relazione.txt", TEXT), ("b.pdf", &pdf), ("c/", b"")],
            deflated,
        );
        assert_eq!(verdict(&zip, &limits), Ok(()), "deflated: {deflated}");
    }
    // What Python's zipfile wrote for samples/.
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/documents/allegati-esposito.zip"
    ))
    .unwrap();
    assert_eq!(verdict(&sample, &limits), Ok(()));
}

#[test]
fn a_bomb_is_refused_before_it_is_inflated() {
    // 16 MiB of zeros in a few KiB, honestly declared: the directory gives it away.
    let zeros = vec![0u8; 16 * 1024 * 1024];
    let bomb = fixtures::zip(&[("zeros.bin", &zeros)], true);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let limits = ZipLimits {
        max_uncompressed_bytes: 8 * 1024 * 1024,
        ..ZipLimits::default()
    };
    let problem = verdict(&bomb, &limits).unwrap_err();
    assert!(
        matches!(&problem, Problem::ArchiveTooLarge(d) if d.contains("declares")),
        "{problem}"
    );
    // Within the size limit, the ratio still gives it away.
    let problem = verdict(&bomb, &ZipLimits::default()).unwrap_err();
    assert!(
        matches!(&problem, Problem::ArchiveTooLarge(d) if d.contains(":1")),
        "{problem}"
    );
}

#[test]
fn a_bomb_that_lies_about_its_size_is_stopped_while_inflating() {
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let liar = fixtures::zip_entries(&[ZipEntry {
        name: "small.txt",
        data: zeros,
        deflate: true,
        declared_size: Some(1000),
    }]);
    refused(&liar, "beyond its declared size");
}

#[test]
fn a_high_ratio_is_forgiven_for_small_entries_only() {
    let blank = vec![b' '; 64 * 1024];
    let small = fixtures::zip(&[("vuoto.txt", &blank)], true);
    assert_eq!(verdict(&small, &ZipLimits::default()), Ok(()));
    let strict = ZipLimits {
        ratio_grace_bytes: 1024,
        ..ZipLimits::default()
    };
    assert!(matches!(
        verdict(&small, &strict),
        Err(Problem::ArchiveTooLarge(_))
    ));
}

#[test]
fn nested_archives_are_followed_to_the_allowed_depth() {
    let inner = fixtures::zip(&[("a.txt", TEXT)], true);
    let outer = fixtures::zip(&[("inner.zip", &inner)], true);
    assert_eq!(verdict(&outer, &ZipLimits::default()), Ok(()));
    let flat = ZipLimits {
        max_depth: 1,
        ..ZipLimits::default()
    };
    assert_eq!(
        verdict(&outer, &flat),
        Err(Problem::NestedTooDeep { max_depth: 1 })
    );
    let deeper = fixtures::zip(&[("outer.zip", &outer)], false);
    assert_eq!(
        verdict(&deeper, &ZipLimits::default()),
        Err(Problem::NestedTooDeep { max_depth: 2 })
    );
    // A damaged archive inside is found too.
    let mut broken = inner.clone();
    broken.truncate(inner.len() - 1);
    let outer = fixtures::zip(&[("inner.zip", &broken)], true);
    refused(&outer, "end-of-central-directory");
    // The inner archive's output counts against the same budget.
    let zeros = vec![0u8; 3 * 1024 * 1024];
    let inner = fixtures::zip(&[("zeros", &zeros)], false);
    let outer = fixtures::zip(&[("inner.zip", &inner)], true);
    let tight = ZipLimits {
        max_uncompressed_bytes: 5 * 1024 * 1024,
        max_ratio: 100_000,
        ..ZipLimits::default()
    };
    assert!(matches!(
        verdict(&outer, &tight),
        Err(Problem::ArchiveTooLarge(_))
    ));
}

#[test]
fn structural_damage_is_found() {
    let good = fixtures::zip(&[("a.txt", TEXT), ("b.txt", TEXT)], true);
    let mut crc = good.clone();
    crc[14] ^= 0xff; // the first local header's CRC only
    let directory_crc = good.windows(4).position(|w| w == CENTRAL_HEADER).unwrap() + 16;
    crc[directory_crc] ^= 0xff;
    refused(&crc, "CRC-32");
    let mut local_name = good.clone();
    local_name[30] = b'z';
    refused(&local_name, "disagrees");
    let mut hidden = good.clone();
    let at = good.windows(4).position(|w| w == CENTRAL_HEADER).unwrap();
    hidden.splice(at..at, b"<script>".iter().copied());
    // The directory offset no longer matches: nothing may hide between entries.
    refused(&hidden, "central directory");
    let mut prefixed = b"MZ\x90\0".to_vec();
    prefixed.extend_from_slice(&good);
    refused(&prefixed, "central directory");
    let mut data = good.clone();
    data[40] ^= 0x55;
    assert!(verdict(&data, &ZipLimits::default()).is_err());
    let mut cut = good.clone();
    cut.truncate(good.len() - 5);
    refused(&cut, "end-of-central-directory");
}

#[test]
fn what_cannot_be_checked_is_refused() {
    let good = fixtures::zip(&[("a.txt", TEXT)], false);
    let directory = good.windows(4).position(|w| w == CENTRAL_HEADER).unwrap();
    let mut encrypted = good.clone();
    encrypted[6] |= 1;
    encrypted[directory + 8] |= 1;
    assert!(matches!(
        verdict(&encrypted, &ZipLimits::default()),
        Err(Problem::Unsupported { .. })
    ));
    let mut bzip2 = good.clone();
    bzip2[8] = 12;
    bzip2[directory + 10] = 12;
    assert!(matches!(
        verdict(&bzip2, &ZipLimits::default()),
        Err(Problem::Unsupported { .. })
    ));
}

#[test]
fn too_many_entries_or_unsafe_names_are_refused() {
    let names: Vec<String> = (0..20).map(|i| format!("f{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), TEXT)).collect();
    let many = fixtures::zip(&entries, true);
    let few = ZipLimits {
        max_entries: 10,
        ..ZipLimits::default()
    };
    assert!(matches!(
        verdict(&many, &few),
        Err(Problem::ArchiveTooLarge(_))
    ));
    for name in ["../../etc/passwd", "/etc/passwd", "C:\\x.txt", "a/../../b"] {
        refused(&fixtures::zip(&[(name, TEXT)], false), "safe relative path");
    }
}
