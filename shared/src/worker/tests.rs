use super::*;

fn with_sender(sender: &str) -> FieldTable {
    let mut headers = FieldTable::default();
    headers.insert(SENDER_HEADER.into(), text(sender));
    headers
}

#[test]
fn the_sender_header_counts_only_on_our_own_republishes() {
    let ours = vec!["t1.returns".to_owned(), "t1.operations".to_owned()];
    // A back office's own return: its checked login, whatever header it made up.
    assert_eq!(
        vouched_sender(Some("t1.bo-anagrafe"), &with_sender("t1.bo-tributi"), &ours),
        Some("t1.bo-anagrafe".to_owned())
    );
    // Retried by the returns worker, replayed by operations: the sender they carried over.
    for republisher in ["t1.returns", "t1.operations"] {
        assert_eq!(
            vouched_sender(Some(republisher), &with_sender("t1.bo-anagrafe"), &ours),
            Some("t1.bo-anagrafe".to_owned())
        );
    }
    assert_eq!(
        vouched_sender(Some("t1.returns"), &FieldTable::default(), &ours),
        None
    );
    // Nobody vouched: no user_id, whatever the header says.
    assert_eq!(
        vouched_sender(None, &with_sender("t1.bo-anagrafe"), &ours),
        None
    );
}
