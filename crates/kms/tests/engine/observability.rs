//! Metering and the audit trail.

use coffer_kms::{
    AuditFilter, Decrypt, GenerateDataKey, KeyFilter, Operation, Page, RESULT_SUCCESS, UsageRow,
};

use super::*;

fn row(rows: &[UsageRow], key: Option<KeyId>, op: Operation) -> (u64, u64) {
    rows.iter()
        .find(|r| r.key_id == key && r.operation == op)
        .map_or((0, 0), |r| (r.count, r.failures))
}

#[test]
fn every_operation_is_counted_per_account_key_and_operation() {
    let f = Fixture::new();
    let a = alice();
    let oss = alice_via_oss("oss:b/k");
    let id = f.create(&a);
    let other = f.create(&a);
    for _ in 0..3 {
        let g = f
            .kms
            .generate_data_key(&oss, GenerateDataKey::new(id))
            .unwrap();
        f.kms
            .decrypt(&oss, Decrypt::new(g.ciphertext_blob, ctx(&[])))
            .unwrap();
    }
    f.kms
        .generate_data_key(&a, GenerateDataKey::new(other))
        .unwrap();
    f.kms.disable_key(&a, &key_ref(other)).unwrap();
    assert!(
        f.kms
            .generate_data_key(&a, GenerateDataKey::new(other))
            .is_err()
    );
    f.kms
        .list_keys(&a, &KeyFilter::default(), Page::default())
        .unwrap();
    f.create(&bob());

    let rows = f.kms.usage(&a.account_id).unwrap();
    assert_eq!(row(&rows, Some(id), Operation::GenerateDataKey), (3, 0));
    assert_eq!(row(&rows, Some(id), Operation::Decrypt), (3, 0));
    assert_eq!(row(&rows, Some(id), Operation::CreateKey), (1, 0));
    assert_eq!(row(&rows, Some(other), Operation::GenerateDataKey), (2, 1));
    assert_eq!(row(&rows, Some(other), Operation::DisableKey), (1, 0));
    assert_eq!(row(&rows, None, Operation::ListKeys), (1, 0));
    assert_eq!(rows.len(), 7, "{rows:?}");
    assert_eq!(f.kms.usage(&bob().account_id).unwrap().len(), 1);

    // Counters survive a restart (flushed on drop) and keep counting.
    let f = f.reopen();
    f.kms
        .generate_data_key(&a, GenerateDataKey::new(id))
        .unwrap();
    let rows = f.kms.usage(&a.account_id).unwrap();
    assert_eq!(row(&rows, Some(id), Operation::GenerateDataKey), (4, 0));
    assert_eq!(row(&rows, Some(other), Operation::GenerateDataKey), (2, 1));
}

#[test]
fn every_operation_leaves_an_audit_record_with_who_what_and_result() {
    let f = Fixture::new();
    let a = alice();
    let id = f.create(&a);
    let oss = alice_via_oss("oss:photos/cat.jpg");
    let context = ctx(&[("acs:oss:bucket", "photos")]);
    let g = f
        .kms
        .generate_data_key(&oss, GenerateDataKey::new(id).with_context(context.clone()))
        .unwrap();
    assert!(
        f.kms
            .decrypt(&oss, Decrypt::new(g.ciphertext_blob.clone(), ctx(&[])))
            .is_err()
    );
    f.kms.schedule_key_deletion(&a, &key_ref(id), 7).unwrap();
    f.advance_and_tick(7 * DAY);
    let f = f.reopen();

    let records = f
        .kms
        .audit(&AuditFilter {
            key_id: Some(id),
            ..AuditFilter::default()
        })
        .unwrap();
    let ops: Vec<Operation> = records.iter().map(|r| r.operation).collect();
    assert_eq!(
        ops,
        vec![
            Operation::CreateKey,
            Operation::GenerateDataKey,
            Operation::Decrypt,
            Operation::ScheduleKeyDeletion,
            Operation::KeyDeletion,
        ]
    );
    let gdk = &records[1];
    assert_eq!(gdk.account, a.account_id);
    assert_eq!(gdk.principal, "root");
    assert_eq!(gdk.via, "Oss");
    assert_eq!(gdk.resource.as_deref(), Some("oss:photos/cat.jpg"));
    assert_eq!(gdk.key_version_id, Some(g.key_version_id));
    assert_eq!(gdk.encryption_context.as_ref(), Some(&context));
    assert_eq!(gdk.result, RESULT_SUCCESS);
    assert_eq!(gdk.time, UNIX_EPOCH + Duration::from_secs(T0));
    assert_eq!(records[2].result, "InvalidParameter");
    assert_eq!(records[0].via, "Api");
    assert_eq!(records[0].resource, None);
    assert_eq!(records[4].principal, "kms:scheduler");
    assert_eq!(records[4].via, "Internal");
    assert_eq!(
        records[4].time,
        UNIX_EPOCH + Duration::from_secs(T0) + 7 * DAY
    );

    let failures = f
        .kms
        .audit(&AuditFilter {
            operation: Some(Operation::Decrypt),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(failures.len(), 1);
    // A failed lookup is audited too, without a key.
    assert!(f.kms.describe_key(&a, &key_ref(KeyId::random())).is_err());
    let last = f.kms.audit(&AuditFilter::default()).unwrap().pop().unwrap();
    assert_eq!(last.operation, Operation::DescribeKey);
    assert_eq!(last.key_id, None);
    assert_eq!(last.result, "Forbidden.KeyNotFound");
}

/// An audit sink that cannot write.
struct BrokenAudit;

impl coffer_kms::AuditSink for BrokenAudit {
    fn append(&self, _: &coffer_kms::AuditRecord) -> coffer_kms::Result<()> {
        Err(coffer_kms::Error::Internal("audit disk gone".into()))
    }

    fn records(&self, _: &AuditFilter) -> coffer_kms::Result<Vec<coffer_kms::AuditRecord>> {
        Ok(Vec::new())
    }
}

#[test]
fn no_key_is_handed_out_when_the_audit_record_cannot_be_written() {
    let kms = Kms::with_store(
        Box::new(coffer_kms::memory_store()),
        Box::new(BrokenAudit),
        &RootKey::generate(),
        Config::default(),
        Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(T0))),
    )
    .unwrap();
    let a = alice();
    assert_eq!(
        code(kms.create_key(&a, coffer_kms::CreateKey::default())),
        "InternalFailure"
    );
    let id = kms.default_oss_key(&a.account_id);
    assert_eq!(code(id), "InternalFailure");
}
