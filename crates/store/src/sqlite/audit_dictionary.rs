//! The numbers audit events use for their strings (migration 0006).
//!
//! An event row refers to its token id, action, outcome, secret name,
//! client address, identity and client certificate by an `audit_text` id,
//! and to its namespace (name and id together) by an `audit_namespaces`
//! id, so a string that every read repeats is stored once. The writer
//! thread numbers the strings of the events it appends ([`Dictionary`]);
//! readers go the other way through the `audit_log` view, and find the
//! numbers of a query's filters with [`lookup_text`] and
//! [`lookup_namespaces`].
//!
//! The writer remembers the numbers it has seen, so a batch of reads costs
//! no lookups for the strings they share. A number is remembered only once
//! the transaction that created it has committed: a rolled-back number may
//! be given to another string later.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// Strings remembered before the writer forgets them all and starts over
/// (a few MiB at most; lookups then find them again in the index).
const REMEMBERED: usize = 65_536;

/// A namespace as events name it: the name the caller gave and its id.
type NamespaceKey = (Option<Box<str>>, Option<Box<str>>);

/// The writer's numbering of audit strings.
#[derive(Debug, Default)]
pub(crate) struct Dictionary {
    texts: HashMap<Box<str>, i64>,
    namespaces: HashMap<NamespaceKey, i64>,
    /// Numbers created by the transaction in progress, forgotten unless it commits.
    new_texts: Vec<Box<str>>,
    new_namespaces: Vec<NamespaceKey>,
}

impl Dictionary {
    /// Call when a transaction begins: forgets the numbers a transaction
    /// that did not commit created, and everything once there is too much.
    pub(crate) fn begin(&mut self) {
        for text in self.new_texts.drain(..) {
            self.texts.remove(&text);
        }
        for key in self.new_namespaces.drain(..) {
            self.namespaces.remove(&key);
        }
        if self.texts.len() + self.namespaces.len() > REMEMBERED {
            self.texts.clear();
            self.namespaces.clear();
        }
    }

    /// Call once the transaction has committed: its numbers are for good.
    pub(crate) fn committed(&mut self) {
        self.new_texts.clear();
        self.new_namespaces.clear();
    }

    /// The number of `text`, created if it has none.
    pub(crate) fn text(&mut self, tx: &Connection, text: &str) -> Result<i64, StoreError> {
        if let Some(&id) = self.texts.get(text) {
            return Ok(id);
        }
        let id = match lookup_text(tx, text)? {
            Some(id) => id,
            None => {
                tx.prepare_cached("INSERT INTO audit_text (text) VALUES (?)")?.execute([text])?;
                self.new_texts.push(text.into());
                tx.last_insert_rowid()
            }
        };
        self.texts.insert(text.into(), id);
        Ok(id)
    }

    /// [`Dictionary::text`] of an optional string.
    pub(crate) fn opt_text(&mut self, tx: &Connection, text: Option<&str>) -> Result<Option<i64>, StoreError> {
        text.map(|t| self.text(tx, t)).transpose()
    }

    /// The number of a namespace named `name` with id `id`, created if it
    /// has none; `None` when the event names no namespace at all.
    pub(crate) fn namespace(
        &mut self,
        tx: &Connection,
        name: Option<&str>,
        id: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        if name.is_none() && id.is_none() {
            return Ok(None);
        }
        let key: NamespaceKey = (name.map(Into::into), id.map(Into::into));
        if let Some(&number) = self.namespaces.get(&key) {
            return Ok(Some(number));
        }
        let found = tx
            .prepare_cached("SELECT id FROM audit_namespaces WHERE name IS ? AND namespace_id IS ?")?
            .query_row(params![name, id], |r| r.get(0))
            .optional()?;
        let number = match found {
            Some(number) => number,
            None => {
                tx.prepare_cached("INSERT INTO audit_namespaces (name, namespace_id) VALUES (?, ?)")?
                    .execute(params![name, id])?;
                self.new_namespaces.push(key.clone());
                tx.last_insert_rowid()
            }
        };
        self.namespaces.insert(key, number);
        Ok(Some(number))
    }
}

/// The number of `text`, if any event holds it.
pub(crate) fn lookup_text(conn: &Connection, text: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn.prepare_cached("SELECT id FROM audit_text WHERE text = ?")?.query_row([text], |r| r.get(0)).optional()?)
}

/// The numbers of the namespaces named `name` (any id) and having one of
/// `ids` (any name); `None` for either means no condition.
pub(crate) fn lookup_namespaces(
    conn: &Connection,
    name: Option<&str>,
    ids_json: Option<&str>,
) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM audit_namespaces WHERE (?1 IS NULL OR name = ?1) \
         AND (?2 IS NULL OR namespace_id IN (SELECT value FROM json_each(?2))) ORDER BY id",
    )?;
    let numbers = stmt.query_map(params![name, ids_json], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE audit_text (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE); \
             CREATE TABLE audit_namespaces (id INTEGER PRIMARY KEY, name TEXT, namespace_id TEXT);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn numbers_are_stable_and_shared() {
        let conn = store();
        let mut d = Dictionary::default();
        d.begin();
        let a = d.text(&conn, "a").unwrap();
        assert_eq!(d.text(&conn, "a").unwrap(), a);
        assert_ne!(d.text(&conn, "b").unwrap(), a);
        let ns = d.namespace(&conn, Some("default"), Some("id1")).unwrap();
        assert_eq!(d.namespace(&conn, Some("default"), Some("id1")).unwrap(), ns);
        assert_ne!(d.namespace(&conn, Some("default"), None).unwrap(), ns);
        assert_ne!(d.namespace(&conn, None, Some("id1")).unwrap(), ns);
        assert_eq!(d.namespace(&conn, None, None).unwrap(), None);
        d.committed();
        // A fresh writer finds the same numbers in the tables.
        let mut again = Dictionary::default();
        assert_eq!(again.text(&conn, "a").unwrap(), a);
        assert_eq!(again.namespace(&conn, Some("default"), Some("id1")).unwrap(), ns);
        assert_eq!(lookup_text(&conn, "b").unwrap(), Some(d.text(&conn, "b").unwrap()));
        assert_eq!(lookup_text(&conn, "never").unwrap(), None);
        assert_eq!(lookup_namespaces(&conn, Some("default"), None).unwrap().len(), 2);
        assert_eq!(lookup_namespaces(&conn, None, Some(r#"["id1"]"#)).unwrap().len(), 2);
        assert_eq!(lookup_namespaces(&conn, Some("default"), Some(r#"["id1"]"#)).unwrap(), vec![ns.unwrap()]);
        assert_eq!(lookup_namespaces(&conn, None, Some("[]")).unwrap(), Vec::<i64>::new());
    }

    /// A number created in a transaction that rolled back is not used
    /// again: SQLite may give it to another string.
    #[test]
    fn numbers_of_a_rolled_back_transaction_are_forgotten() {
        let mut conn = store();
        let mut d = Dictionary::default();
        d.begin();
        let tx = conn.transaction().unwrap();
        let lost = d.text(&tx, "lost").unwrap();
        let lost_ns = d.namespace(&tx, Some("gone"), None).unwrap();
        drop(tx);
        d.begin();
        let tx = conn.transaction().unwrap();
        let other = d.text(&tx, "other").unwrap();
        assert_eq!(other, lost, "SQLite reuses the number");
        assert_ne!(d.text(&tx, "lost").unwrap(), other);
        assert_ne!(d.namespace(&tx, Some("elsewhere"), None).unwrap(), None);
        let gone = d.namespace(&tx, Some("gone"), None).unwrap();
        assert_ne!(gone, lost_ns, "SQLite gave its number to 'elsewhere'");
        tx.commit().unwrap();
        d.committed();
        assert_eq!(lookup_text(&conn, "lost").unwrap(), Some(d.text(&conn, "lost").unwrap()));
        assert_eq!(lookup_namespaces(&conn, Some("gone"), None).unwrap(), vec![gone.unwrap()]);
    }
}
