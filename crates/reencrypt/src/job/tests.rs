//! The engine over an in-memory bucket: paging, the concurrency bound, dry runs, objects
//! changed or deleted meanwhile, failures.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::Algorithm;
use crate::progress::Counts;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    size: u64,
    etag: String,
    encryption: Encryption,
}

#[derive(Debug, PartialEq, Eq)]
struct MemoryError {
    code: &'static str,
    key: String,
}

impl Failure for MemoryError {
    fn code(&self) -> Option<&str> {
        Some(self.code)
    }
}

/// A bucket in memory, listed `page_len` objects at a time, with the calls it saw.
#[derive(Default)]
struct Memory {
    objects: Mutex<BTreeMap<String, Stored>>,
    page_len: usize,
    /// Whether listings say how each object is encrypted (else `inspect` is asked).
    listings_say: bool,
    /// Objects another writer replaces, and ones it deletes, right after they are listed.
    overwritten_after_listing: Vec<&'static str>,
    deleted_after_listing: Vec<&'static str>,
    /// Rewrites of these keys fail with the code.
    failing: HashMap<&'static str, &'static str>,
    /// The listing of this page (0 = first) fails.
    failing_page: Option<usize>,
    markers: Mutex<Vec<Option<String>>>,
    rewritten: Mutex<Vec<String>>,
    modes: Mutex<Vec<(String, Mode)>>,
    inspected: Mutex<Vec<String>>,
    events: Mutex<Vec<String>>,
    in_hand: AtomicUsize,
    most_in_hand: AtomicUsize,
    etags: AtomicUsize,
}

fn aes() -> Encryption {
    Encryption::new(Algorithm::Aes256)
}

fn kms(key: &str) -> Encryption {
    Encryption {
        algorithm: Algorithm::Kms,
        kms_key_id: Some(key.to_owned()),
        kms_data_sm4: false,
    }
}

impl Memory {
    fn with(objects: &[(&str, u64, Encryption)]) -> Self {
        let m = Memory {
            page_len: 1000,
            listings_say: true,
            ..Memory::default()
        };
        for (key, size, encryption) in objects {
            let etag = m.fresh_etag();
            m.objects.lock().unwrap().insert(
                (*key).to_owned(),
                Stored {
                    size: *size,
                    etag,
                    encryption: encryption.clone(),
                },
            );
        }
        m
    }

    /// `n` unencrypted objects `k00`, `k01`, ... of 10 bytes each.
    fn plain(n: usize) -> Self {
        let keys: Vec<String> = (0..n).map(|i| format!("k{i:02}")).collect();
        let objects: Vec<(&str, u64, Encryption)> = keys
            .iter()
            .map(|k| (k.as_str(), 10, Encryption::none()))
            .collect();
        Memory::with(&objects)
    }

    fn fresh_etag(&self) -> String {
        format!("E{}", self.etags.fetch_add(1, Ordering::SeqCst))
    }

    fn stored(&self, key: &str) -> Option<Stored> {
        self.objects.lock().unwrap().get(key).cloned()
    }

    /// Counts one call in hand, lets the other tasks run, and returns when they had the chance.
    async fn hold(&self) {
        let now = self.in_hand.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_hand.fetch_max(now, Ordering::SeqCst);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        self.in_hand.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Backend for Memory {
    type Error = MemoryError;

    async fn list(&self, marker: Option<&str>) -> Result<Page, MemoryError> {
        let page_number = {
            let mut markers = self.markers.lock().unwrap();
            markers.push(marker.map(str::to_owned));
            markers.len() - 1
        };
        if self.failing_page == Some(page_number) {
            return Err(MemoryError {
                code: "InternalError",
                key: String::new(),
            });
        }
        let mut objects = self.objects.lock().unwrap();
        let from = marker.unwrap_or("");
        let page: Vec<Listed> = objects
            .iter()
            .filter(|(k, _)| k.as_str() > from)
            .take(self.page_len + 1)
            .map(|(k, s)| Listed {
                key: k.clone(),
                size: s.size,
                etag: s.etag.clone(),
                encryption: self.listings_say.then(|| s.encryption.clone()),
            })
            .collect();
        let truncated = page.len() > self.page_len;
        let page: Vec<Listed> = page.into_iter().take(self.page_len).collect();
        for listed in &page {
            if self
                .overwritten_after_listing
                .contains(&listed.key.as_str())
            {
                let etag = format!("W{}", self.etags.fetch_add(1, Ordering::SeqCst));
                let o = objects.get_mut(&listed.key).unwrap();
                o.etag = etag;
                o.size += 1;
            }
            if self.deleted_after_listing.contains(&listed.key.as_str()) {
                objects.remove(&listed.key);
            }
        }
        Ok(Page {
            next: truncated
                .then(|| page.last().map(|l| l.key.clone()))
                .flatten(),
            objects: page,
        })
    }

    async fn inspect(&self, listed: &Listed) -> Result<Object, MemoryError> {
        self.hold().await;
        self.inspected.lock().unwrap().push(listed.key.clone());
        let stored = self.stored(&listed.key).ok_or_else(|| MemoryError {
            code: "NoSuchKey",
            key: listed.key.clone(),
        })?;
        Ok(Object {
            key: listed.key.clone(),
            size: stored.size,
            etag: stored.etag,
            encryption: stored.encryption,
        })
    }

    async fn rewrite(
        &self,
        object: &Object,
        wanted: &Encryption,
        mode: Mode,
    ) -> Result<(), MemoryError> {
        self.modes.lock().unwrap().push((object.key.clone(), mode));
        self.hold().await;
        let refuse = |code| {
            Err(MemoryError {
                code,
                key: object.key.clone(),
            })
        };
        if let Some(code) = self.failing.get(object.key.as_str()) {
            return refuse(code);
        }
        let etag = self.fresh_etag();
        let mut objects = self.objects.lock().unwrap();
        let Some(stored) = objects.get_mut(&object.key) else {
            return refuse("NoSuchKey");
        };
        if stored.etag != object.etag {
            return refuse("PreconditionFailed");
        }
        stored.encryption = wanted.clone();
        // A rewrap changes only the key that wraps the data key: the ETag stays.
        if mode == Mode::Copy {
            stored.etag = etag;
        }
        self.rewritten.lock().unwrap().push(object.key.clone());
        Ok(())
    }

    fn observe(&self, event: Event<'_, MemoryError>) {
        let line = match event {
            Event::Listed(page) => format!("listed {}", page.len()),
            Event::Already(o) => format!("already {}", o.key),
            Event::WouldRewrite(o) => format!("would {}", o.key),
            Event::Rewritten(o) => format!("rewritten {}", o.key),
            Event::Skipped { key, error } => format!("skipped {key} {}", error.code),
            Event::Failed { key, error } => {
                format!("failed {} {}", key.unwrap_or("(listing)"), error.code)
            }
        };
        self.events.lock().unwrap().push(line);
    }
}

fn job(
    backend: &Memory,
    wanted: &Encryption,
    options: Options,
) -> (Counts, Option<(Option<String>, &'static str)>) {
    let progress = Progress::new();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(run(backend, wanted, options, &progress));
    let first = progress.take_first_error().map(|f| (f.key, f.error.code));
    (progress.counts(), first)
}

fn counts(
    listed: u64,
    rewritten: u64,
    already: u64,
    skipped: u64,
    failed: u64,
    bytes: u64,
) -> Counts {
    Counts {
        listed,
        rewritten,
        already,
        skipped,
        failed,
        rewrapped: 0,
        bytes,
        done: true,
    }
}

#[test]
fn every_page_is_listed_from_the_previous_marker_and_only_what_differs_is_rewritten() {
    let mut m = Memory::with(&[
        ("a", 1, Encryption::none()),
        ("b", 2, kms("k1")),
        ("c", 4, aes()),
        ("d", 8, kms("k2")),
        ("e", 16, Encryption::none()),
        ("f", 32, kms("k1")),
        ("g", 64, Encryption::new(Algorithm::Sm4)),
    ]);
    m.page_len = 3;
    let wanted = kms("k1");
    let (c, first) = job(&m, &wanted, Options::default());
    assert_eq!(c, counts(7, 5, 2, 0, 0, 1 + 4 + 8 + 16 + 64));
    assert_eq!(first, None);
    assert_eq!(
        *m.markers.lock().unwrap(),
        [None, Some("c".to_owned()), Some("f".to_owned())]
    );
    let mut rewritten = m.rewritten.lock().unwrap().clone();
    rewritten.sort();
    assert_eq!(rewritten, ["a", "c", "d", "e", "g"]);
    for key in ["a", "b", "c", "d", "e", "f", "g"] {
        assert_eq!(m.stored(key).unwrap().encryption, wanted, "{key}");
    }
    // Running again finds everything done: the job resumes by skipping what is as asked.
    m.markers.lock().unwrap().clear();
    let (c, _) = job(&m, &wanted, Options::default());
    assert_eq!(c, counts(7, 0, 7, 0, 0, 0));
    assert_eq!(m.markers.lock().unwrap().len(), 3);
}

#[test]
fn an_exact_page_boundary_ends_the_listing_without_an_empty_extra_page() {
    let mut m = Memory::plain(4);
    m.page_len = 2;
    let (c, _) = job(&m, &aes(), Options::default());
    assert_eq!(c.listed, 4);
    assert_eq!(m.markers.lock().unwrap().len(), 2);
}

#[test]
fn no_more_objects_than_the_bound_are_in_hand_and_the_bound_is_used() {
    for parallel in [1, 3, 8] {
        let mut m = Memory::plain(30);
        m.page_len = 7;
        let (c, _) = job(
            &m,
            &aes(),
            Options {
                parallel,
                ..Options::default()
            },
        );
        assert_eq!(c, counts(30, 30, 0, 0, 0, 300));
        assert_eq!(
            m.most_in_hand.load(Ordering::SeqCst),
            parallel,
            "parallel {parallel}"
        );
    }
    // The bound covers looking at objects (HEAD) as well as rewriting them.
    let mut m = Memory::plain(12);
    m.listings_say = false;
    let (c, _) = job(
        &m,
        &aes(),
        Options {
            parallel: 4,
            ..Options::default()
        },
    );
    assert_eq!(c.rewritten, 12);
    assert_eq!(m.inspected.lock().unwrap().len(), 12);
    assert_eq!(m.most_in_hand.load(Ordering::SeqCst), 4);
    // Zero is taken as one.
    let m = Memory::plain(3);
    let (c, _) = job(
        &m,
        &aes(),
        Options {
            parallel: 0,
            ..Options::default()
        },
    );
    assert_eq!(c.rewritten, 3);
    assert_eq!(m.most_in_hand.load(Ordering::SeqCst), 1);
}

#[test]
fn an_object_changed_or_deleted_meanwhile_is_skipped_and_left_as_its_writer_wrote_it() {
    for listings_say in [true, false] {
        let mut m = Memory::plain(5);
        m.listings_say = listings_say;
        m.overwritten_after_listing = vec!["k01"];
        m.deleted_after_listing = vec!["k03"];
        let (c, first) = job(&m, &aes(), Options::default());
        if listings_say {
            // The rewrite's ETag guard refuses the overwritten object.
            assert_eq!(c, counts(5, 3, 0, 2, 0, 30));
            assert_eq!(m.stored("k01").unwrap().encryption, Encryption::none());
            assert!(m.stored("k01").unwrap().etag.starts_with('W'));
        } else {
            // Looked at after the writer: its new version is rewritten, guarded by its new ETag.
            assert_eq!(c, counts(5, 4, 0, 1, 0, 41));
        }
        assert_eq!(first, None, "a concurrent change is no failure");
        assert_eq!(m.stored("k03"), None);
        let events = m.events.lock().unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.starts_with("skipped k03 NoSuchKey")),
            "{events:?}"
        );
        assert!(
            !events.iter().any(|e| e.starts_with("failed")),
            "{events:?}"
        );
    }
}

#[test]
fn a_dry_run_rewrites_nothing_and_counts_what_it_would() {
    let m = Memory::with(&[
        ("a", 5, Encryption::none()),
        ("b", 7, aes()),
        ("c", 11, kms("k")),
    ]);
    let before = m.objects.lock().unwrap().clone();
    let (c, first) = job(
        &m,
        &aes(),
        Options {
            dry_run: true,
            parallel: 2,
            ..Options::default()
        },
    );
    assert_eq!(c, counts(3, 2, 1, 0, 0, 16));
    assert_eq!(first, None);
    assert!(m.rewritten.lock().unwrap().is_empty());
    assert_eq!(*m.objects.lock().unwrap(), before);
    let mut events = m.events.lock().unwrap().clone();
    events.sort();
    assert_eq!(events, ["already b", "listed 3", "would a", "would c"]);
}

#[test]
fn other_errors_are_failures_the_first_is_kept_and_the_job_goes_on() {
    let mut m = Memory::plain(6);
    m.failing = HashMap::from([("k01", "AccessDenied"), ("k04", "InternalError")]);
    let (c, first) = job(&m, &aes(), Options::default());
    assert_eq!(c, counts(6, 4, 0, 0, 2, 40));
    assert_eq!(first, Some((Some("k01".to_owned()), "AccessDenied")));
    assert_eq!(m.stored("k01").unwrap().encryption, Encryption::none());
    assert_eq!(m.stored("k05").unwrap().encryption, aes());
}

#[test]
fn a_failed_listing_is_one_failure_and_ends_the_job_after_what_was_listed() {
    let mut m = Memory::plain(7);
    m.page_len = 3;
    m.failing_page = Some(1);
    let (c, first) = job(&m, &aes(), Options::default());
    assert_eq!(c, counts(3, 3, 0, 0, 1, 30));
    assert_eq!(first, Some((None, "InternalError")));
    assert_eq!(m.markers.lock().unwrap().len(), 2);
    assert!(
        m.events
            .lock()
            .unwrap()
            .contains(&"failed (listing) InternalError".to_owned())
    );
}

#[test]
fn progress_is_readable_while_the_job_runs() {
    let m = Memory::plain(4);
    let progress = Progress::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(!progress.counts().done);
    let wanted = aes();
    rt.block_on(async {
        let job = run(&m, &wanted, Options::default(), &progress);
        let watch = async {
            let mut seen = Vec::new();
            while !progress.counts().done && seen.len() < 1000 {
                seen.push(progress.counts().settled());
                tokio::task::yield_now().await;
            }
            seen
        };
        let ((), seen) = futures::join!(job, watch);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert!(seen.iter().any(|&n| n > 0 && n < 4), "{seen:?}");
    });
    assert_eq!(progress.counts(), counts(4, 4, 0, 0, 0, 40));
}

#[test]
fn a_job_runs_on_a_spawned_task() {
    // The console spawns its jobs: the job's future must be `Send` for any `Send` backend.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let progress = rt.block_on(async {
        let progress = std::sync::Arc::new(Progress::new());
        let shared = progress.clone();
        tokio::spawn(async move {
            let backend = Memory::plain(3);
            run(&backend, &aes(), Options::default(), &shared).await;
        })
        .await
        .unwrap();
        progress
    });
    assert_eq!(progress.counts(), counts(3, 3, 0, 0, 0, 30));
}

fn sm4() -> Encryption {
    Encryption::new(Algorithm::Sm4)
}

#[test]
fn a_rewrap_job_rewraps_what_it_can_and_copies_the_rest() {
    let kms_sm4 = Encryption {
        kms_data_sm4: true,
        ..kms("k1")
    };
    let m = Memory::with(&[
        ("aes", 100, aes()),
        ("k1", 200, kms("k1")),
        ("k2", 50, kms("k2")),
        ("plain", 10, Encryption::none()),
        ("sm4", 20, sm4()),
        ("k1-sm4", 30, kms_sm4),
    ]);
    let wanted = kms("k2");
    let (c, first) = job(
        &m,
        &wanted,
        Options {
            parallel: 2,
            mode: Mode::Rewrap,
            ..Options::default()
        },
    );
    assert_eq!(first, None);
    let mut modes = m.modes.lock().unwrap().clone();
    modes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        modes,
        [
            ("aes".to_owned(), Mode::Rewrap),
            ("k1".to_owned(), Mode::Rewrap),
            ("k1-sm4".to_owned(), Mode::Copy),
            ("plain".to_owned(), Mode::Copy),
            ("sm4".to_owned(), Mode::Copy),
        ]
    );
    assert_eq!((c.rewritten, c.rewrapped, c.already), (5, 2, 1));
    assert_eq!(c.bytes, 10 + 20 + 30, "only copied bytes count");
}

#[test]
fn a_copy_job_never_asks_for_a_rewrap() {
    let m = Memory::with(&[("aes", 100, aes()), ("k1", 200, kms("k1"))]);
    let (c, _) = job(&m, &kms("k2"), Options::default());
    assert!(
        m.modes
            .lock()
            .unwrap()
            .iter()
            .all(|(_, mode)| *mode == Mode::Copy)
    );
    assert_eq!((c.rewritten, c.rewrapped, c.bytes), (2, 0, 300));
}

#[test]
fn only_service_held_keys_with_the_wanted_data_cipher_can_be_rewrapped() {
    let kms_sm4 = |key: Option<&str>| Encryption {
        algorithm: Algorithm::Kms,
        kms_key_id: key.map(str::to_owned),
        kms_data_sm4: true,
    };
    let any_kms = Encryption::new(Algorithm::Kms);
    assert!(can_rewrap(&aes(), &any_kms));
    assert!(can_rewrap(&kms("a"), &kms("b")));
    assert!(can_rewrap(&sm4(), &kms_sm4(Some("b"))));
    assert!(can_rewrap(&kms_sm4(Some("a")), &kms_sm4(None)));
    assert!(!can_rewrap(&sm4(), &kms("b")), "SM4 data would stay SM4");
    assert!(
        !can_rewrap(&aes(), &kms_sm4(None)),
        "AES data would stay AES"
    );
    assert!(!can_rewrap(&Encryption::none(), &kms("b")));
    assert!(!can_rewrap(
        &Encryption::new(Algorithm::Customer),
        &kms("b")
    ));
    assert!(!can_rewrap(&kms("a"), &aes()), "a rewrap only reaches KMS");
}
