//! The command line fails the way an operator can act on: one line on stderr, non-zero exit.

use std::process::Command;

fn sportello(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sportello"))
        .args(args)
        .envs(env.iter().copied())
        .env("SPORTELLO__LOG__FORMAT", "json")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("sportello runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A configuration file with nothing in it: the compiled-in defaults apply.
fn empty_config() -> String {
    let path = std::env::temp_dir().join(format!("sportello-empty-{}.toml", std::process::id()));
    std::fs::write(&path, "# defaults only\n").unwrap();
    path.display().to_string()
}

fn assert_one_line_failure(stderr: &str, needle: &str) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("sportello: "))
        .collect();
    assert_eq!(lines.len(), 1, "one reason line: {stderr}");
    assert!(lines[0].contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_missing_configuration_file_is_named() {
    let (ok, _, stderr) = sportello(
        &["--config", "/nonexistent/sportello.toml", "folder", "X"],
        &[],
    );
    assert!(!ok);
    assert_one_line_failure(&stderr, "/nonexistent/sportello.toml does not exist");
}

#[test]
fn an_unknown_worker_is_refused_before_anything_starts() {
    let (ok, _, stderr) = sportello(
        &["run", "protocolo"],
        &[("SPORTELLO_CONFIG", empty_config().as_str())],
    );
    assert!(!ok);
    assert_one_line_failure(&stderr, "unknown worker `protocolo`");
}

#[test]
fn an_unreachable_broker_is_a_one_line_error() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/malformed");
    let file = std::fs::read_dir(sample)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let (ok, _, stderr) = sportello(
        &["submit", "--raw", file.to_str().unwrap()],
        &[
            ("SPORTELLO_CONFIG", empty_config().as_str()),
            (
                "SPORTELLO__BROKER__URL",
                "amqp://guest:guest@127.0.0.1:1/%2f",
            ),
        ],
    );
    assert!(!ok);
    assert_one_line_failure(&stderr, "RabbitMQ");
}

#[test]
fn a_file_that_is_not_a_submission_is_refused_with_its_reason() {
    let dir = std::env::temp_dir().join(format!("sportello-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.json");
    std::fs::write(&file, b"{ not json").unwrap();
    let (ok, _, stderr) = sportello(
        &["submit", file.to_str().unwrap()],
        &[("SPORTELLO_CONFIG", empty_config().as_str())],
    );
    assert!(!ok);
    assert_one_line_failure(&stderr, "not JSON");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_broken_topology_names_the_key() {
    let dir = std::env::temp_dir().join(format!("sportello-topo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let queues =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../queues.toml")).unwrap();
    let broken = dir.join("queues.toml");
    std::fs::write(&broken, queues.replacen("concurrency = 8\n", "", 1)).unwrap();
    let (ok, _, stderr) = sportello(
        &["topology", "check"],
        &[
            ("SPORTELLO_CONFIG", empty_config().as_str()),
            ("SPORTELLO__BROKER__TOPOLOGY_FILE", broken.to_str().unwrap()),
        ],
    );
    assert!(!ok);
    assert_one_line_failure(&stderr, "concurrency");
    let _ = std::fs::remove_dir_all(dir);
}
