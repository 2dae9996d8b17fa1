//! Dumps and loads (backups): a store dumped from SQLite loads into
//! PostgreSQL and back and dumps the same rows each time; its audit chain
//! reads back exactly; `TABLES` names every column of both backends'
//! schemas; loaders refuse stores that hold anything and leave nothing when
//! they fail or are dropped.

use std::collections::BTreeSet;

use hush_core::{Scope, ScopeSet};
use hush_crypto::AuditKey;
use hush_store::dump::{Cell, DumpItem, StoreKind, StoreLoader, TABLES, table_index, tables_of};
use hush_store::postgres::{PgDataStore, PgKeyStore, PgLoader};
use hush_store::sqlite::{DATA_FILE, KEYS_FILE, SqliteDataStore, SqliteKeyStore, SqliteLoader};
use hush_store::{
    AuditAction, AuditAnchor, AuditCheckpoint, AuditEvent, Conflict, DataStore, Installation, KeyStore, Mutation,
    NamespaceRef, RoleRecord, StoreError, TokenNamespaces, TokenRecord, WriteRequest,
};

async fn dump(data: &dyn DataStore, keys: &dyn KeyStore) -> Vec<DumpItem> {
    let mut items = Vec::new();
    for store in [StoreKind::Keys, StoreKind::Data] {
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let dumping = async {
            match store {
                StoreKind::Keys => keys.dump(tx).await,
                StoreKind::Data => data.dump(tx).await,
            }
        };
        let collecting = async {
            while let Some(item) = rx.recv().await {
                items.push(item);
            }
        };
        let (dumped, ()) = tokio::join!(dumping, collecting);
        dumped.unwrap();
    }
    items
}

async fn load(items: &[DumpItem], mut data: Box<dyn StoreLoader>, mut keys: Box<dyn StoreLoader>) {
    let mut table = 0;
    for item in items {
        match item {
            DumpItem::Table { table: t, .. } => table = *t,
            DumpItem::Row(cells) => {
                let loader = if TABLES[table].store == StoreKind::Data { &mut data } else { &mut keys };
                loader.load(table, vec![cells.clone()]).await.unwrap();
            }
        }
    }
    data.prepare().await.unwrap();
    keys.prepare().await.unwrap();
    data.commit().await.unwrap();
    keys.commit().await.unwrap();
}

/// A store with a row in every table, and every kind of audit event.
async fn populated(f: &crate::Fixture) {
    let installation = Installation {
        id: "inst".into(),
        wrapped_audit_key: b"wrapped-audit".to_vec(),
        wrapped_token_key: b"wrapped-token".to_vec(),
        completed: true,
    };
    f.keys.initialize(&installation).await.unwrap();
    f.keys.mark_completed().await.unwrap();
    f.keys.put_namespace_key("ns-1", 1, b"k1").await.unwrap();
    f.keys.put_namespace_key("ns-1", 2, b"k2").await.unwrap();
    f.keys.set_audit_anchor(&AuditAnchor { seq: 3, mac: vec![9; 32] }).await.unwrap();
    let checkpoint =
        AuditCheckpoint { seq: 2, mac: vec![1; 32], before_at: 1_000, made_at: 2_000, signature: vec![2; 32] };
    f.keys.set_audit_checkpoint(&checkpoint).await.unwrap();
    f.keys.set_audit_exported(5).await.unwrap();
    f.data.initialize("inst").await.unwrap();
    let ns = crate::data_store::make_namespace(&*f.data, "default").await;
    for (expected, ct) in [(0, &b"sealed-1"[..]), (1, b"sealed-2")] {
        f.data.write(crate::data_store::put(&ns, "db/password", "secret-1", expected, ct)).await.unwrap();
    }
    let token = TokenRecord {
        id: "t1".into(),
        hash: vec![3; 32],
        description: "ci".into(),
        namespaces: TokenNamespaces::Only(vec![NamespaceRef { id: ns.id.clone(), name: ns.name.clone() }]),
        issued_namespace_ids: vec![ns.id.clone()],
        scopes: ScopeSet::of([Scope::SecretsRead]),
        created_at: 1,
        expires_at: Some(9),
        revoked_at: None,
        created_by: Some("admin".into()),
        identity: Some(r#"{"role":"ci"}"#.into()),
        mac: vec![7; 32],
    };
    let role = RoleRecord {
        name: "ci".into(),
        definition: r#"{"a":1}"#.into(),
        created_at: 5,
        created_by: None,
        mac: vec![9; 32],
    };
    for mutation in [Mutation::CreateToken(token), Mutation::CreateRole(role)] {
        let audit = AuditEvent::new(AuditAction::TokenCreate, None, None);
        f.data.write(WriteRequest { mutation, audit }).await.unwrap();
    }
    for event in crate::audit_log::every_kind_of_event() {
        f.data.write(WriteRequest { mutation: Mutation::AuditOnly, audit: event }).await.unwrap();
    }
}

fn rows_of(items: &[DumpItem]) -> Vec<(usize, u64)> {
    items
        .iter()
        .filter_map(|i| if let DumpItem::Table { table, rows } = i { Some((*table, *rows)) } else { None })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_moves_from_sqlite_to_postgresql_and_back_unchanged() {
    let test = "a_dump_moves_from_sqlite_to_postgresql_and_back_unchanged";
    let original = crate::sqlite_fixture().await;
    populated(&original).await;
    let items = dump(&*original.data, &*original.keys).await;
    let announced = rows_of(&items);
    assert_eq!(announced.iter().map(|(t, _)| *t).collect::<Vec<_>>(), (0..TABLES.len()).collect::<Vec<_>>());
    for (table, rows) in &announced {
        assert!(*rows > 0, "{} is empty: the test would prove nothing of it", TABLES[*table].name);
    }
    let chain = original.data.audit_chain(0, 1_000).await.unwrap();

    let Some(url) = crate::postgres_url(test).await else { return };
    let loaders = (
        Box::new(PgLoader::begin(&url, StoreKind::Data).await.unwrap()) as Box<dyn StoreLoader>,
        Box::new(PgLoader::begin(&url, StoreKind::Keys).await.unwrap()) as Box<dyn StoreLoader>,
    );
    load(&items, loaders.0, loaders.1).await;
    let audit_key = AuditKey::generate().unwrap();
    let pg_data = PgDataStore::open(&url, audit_key.clone()).await.unwrap();
    let pg_keys = PgKeyStore::open(&url).await.unwrap();
    let on_pg = dump(&pg_data, &pg_keys).await;
    assert_eq!(on_pg, items, "PostgreSQL dumps what SQLite did");
    assert_eq!(pg_data.audit_chain(0, 1_000).await.unwrap(), chain);

    let back = tempfile::tempdir().unwrap();
    let (data_file, keys_file) = (back.path().join(DATA_FILE), back.path().join(KEYS_FILE));
    load(
        &on_pg,
        Box::new(SqliteLoader::create(&data_file, StoreKind::Data).unwrap()),
        Box::new(SqliteLoader::create(&keys_file, StoreKind::Keys).unwrap()),
    )
    .await;
    let names: BTreeSet<String> = std::fs::read_dir(back.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, BTreeSet::from([DATA_FILE.to_owned(), KEYS_FILE.to_owned()]), "nothing left beside them");
    let data = SqliteDataStore::open(&data_file, audit_key).await.unwrap();
    let keys = SqliteKeyStore::open(&keys_file).await.unwrap();
    assert_eq!(dump(&data, &keys).await, items, "and SQLite again");
    assert_eq!(data.audit_chain(0, 1_000).await.unwrap(), chain);
    assert_eq!(keys.installation().await.unwrap().map(|i| i.completed), Some(true));

    // A store holding anything is refused, before anything is written.
    for store in [StoreKind::Data, StoreKind::Keys] {
        let refused = PgLoader::begin(&url, store).await.unwrap_err();
        assert!(matches!(refused, StoreError::Conflict(Conflict::AlreadyExists)), "{refused:?}");
    }
    assert!(matches!(
        SqliteLoader::create(&data_file, StoreKind::Data).unwrap_err(),
        StoreError::Conflict(Conflict::AlreadyExists)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_that_fails_or_is_dropped_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(KEYS_FILE);
    let anchor = table_index(StoreKind::Keys, "audit_anchor").unwrap();
    let mut loader = SqliteLoader::create(&target, StoreKind::Keys).unwrap();
    loader.load(anchor, vec![vec![Cell::Int(1), Cell::Int(4), Cell::Bytes(vec![0; 32])]]).await.unwrap();
    let wrong_type = loader.load(anchor, vec![vec![Cell::Int(1), Cell::Text("4".into()), Cell::Null]]).await;
    assert!(matches!(wrong_type, Err(StoreError::Corrupt(_))), "{wrong_type:?}");
    let data_table = table_index(StoreKind::Data, "namespaces").unwrap();
    assert!(loader.load(data_table, vec![]).await.is_err(), "a data table into the key store");
    drop(loader);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the unfinished file is gone");

    // A store that appears at the target meanwhile is never replaced; a commit can be undone.
    let mut loader = SqliteLoader::create(&target, StoreKind::Keys).unwrap();
    loader.prepare().await.unwrap();
    std::fs::write(&target, "a store that appeared").unwrap();
    assert!(matches!(loader.commit().await, Err(StoreError::Conflict(Conflict::AlreadyExists))));
    assert_eq!(std::fs::read(&target).unwrap(), b"a store that appeared");
    std::fs::remove_file(&target).unwrap();
    drop(loader);
    let mut loader = SqliteLoader::create(&target, StoreKind::Keys).unwrap();
    loader.commit().await.unwrap();
    assert!(target.exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
    loader.undo_commit().await.unwrap();
    drop(loader);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "undone");

    let Some(url) = crate::postgres_url("a_load_that_fails_or_is_dropped_leaves_nothing").await else { return };
    let mut loader = PgLoader::begin(&url, StoreKind::Keys).await.unwrap();
    loader.load(anchor, vec![vec![Cell::Int(1), Cell::Int(4), Cell::Bytes(vec![0; 32])]]).await.unwrap();
    // The same key twice: the database refuses, and nothing of the load stays.
    let twice = loader.load(anchor, vec![vec![Cell::Int(1), Cell::Int(5), Cell::Bytes(vec![0; 32])]]).await;
    assert!(matches!(twice, Err(StoreError::Database(_))), "{twice:?}");
    drop(loader);
    let keys = PgKeyStore::open(&url).await.unwrap();
    assert_eq!(keys.audit_anchor().await.unwrap(), None);
    // Committed, then undone (the other store's commit failed): empty again.
    let mut loader = PgLoader::begin(&url, StoreKind::Keys).await.unwrap();
    loader.load(anchor, vec![vec![Cell::Int(1), Cell::Int(4), Cell::Bytes(vec![0; 32])]]).await.unwrap();
    loader.prepare().await.unwrap();
    loader.commit().await.unwrap();
    assert_eq!(keys.audit_anchor().await.unwrap().map(|a| a.seq), Some(4));
    loader.undo_commit().await.unwrap();
    assert_eq!(keys.audit_anchor().await.unwrap(), None);
    assert!(PgLoader::begin(&url, StoreKind::Keys).await.is_ok(), "still empty");
}

/// Every column each backend has, by table (SQLite's audit log as its view reads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_name_every_column_of_both_backends() {
    let expected = |store| -> BTreeSet<String> {
        tables_of(store).flat_map(|(_, t)| t.columns.iter().map(move |(c, _)| format!("{}.{c}", t.name))).collect()
    };
    let f = crate::sqlite_fixture().await;
    let dir = f.dir.as_ref().unwrap().path();
    for (store, file, internal) in
        [(StoreKind::Data, DATA_FILE, &["audit_text", "audit_namespaces"][..]), (StoreKind::Keys, KEYS_FILE, &[][..])]
    {
        let conn = rusqlite::Connection::open(dir.join(file)).unwrap();
        let mut found = BTreeSet::new();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for table in tables.iter().filter(|t| !internal.contains(&t.as_str())) {
            let source = if table == "audit_events" { "audit_log" } else { table.as_str() };
            let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?)").unwrap();
            for column in stmt.query_map([source], |r| r.get::<_, String>(0)).unwrap() {
                found.insert(format!("{table}.{}", column.unwrap()));
            }
        }
        assert_eq!(found, expected(store), "SQLite {file}");
    }

    let Some(url) = crate::postgres_url("tables_name_every_column_of_both_backends").await else { return };
    PgDataStore::open(&url, AuditKey::generate().unwrap()).await.unwrap();
    PgKeyStore::open(&url).await.unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    for (store, schema) in [(StoreKind::Data, "hush_data"), (StoreKind::Keys, "hush_keys")] {
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name <> 'schema_version' AND column_name <> 'only_one'",
        )
        .bind(schema)
        .fetch_all(&pool)
        .await
        .unwrap();
        let found: BTreeSet<String> = columns.into_iter().map(|(t, c)| format!("{t}.{c}")).collect();
        assert_eq!(found, expected(store), "PostgreSQL {schema}");
    }
}
