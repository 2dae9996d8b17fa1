//! Where secret number `i` lives: its namespace, its name and how many
//! versions it gets. A pure function of `i`, so a store seeded to 10,000
//! secrets and then to 100,000 holds exactly what one seeded to 100,000 at
//! once would, and bench/scale/run can name pages and prefixes without
//! asking the seeder.
//!
//! - Half the secrets are in `default` (the large namespace the wrk runs and
//!   the large listing use); the other half are spread over `ns-000` …
//!   `ns-998`, so the installation has 1,000 namespaces.
//! - Names look like `svc-042/key-0001234`: 100 folders, each secret's
//!   number in its name (unique in its namespace, sorted by folder first).
//! - One secret in 100 gets [`MANY_VERSIONS`] versions, the rest one.

/// The large namespace.
pub const BIG_NAMESPACE: &str = "default";
/// How many other namespaces there are.
pub const SMALL_NAMESPACES: u64 = 999;
/// Folders (`svc-000/` … `svc-099/`) in every namespace.
pub const FOLDERS: u64 = 100;
/// Versions of the secrets that get more than one.
pub const MANY_VERSIONS: u32 = 10;
/// One secret in this many gets [`MANY_VERSIONS`] versions.
pub const MANY_VERSIONS_EVERY: u64 = 100;

/// Secret number `i`'s place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// How many versions to write.
    pub versions: u32,
}

/// The name of small namespace `n` (`0 <= n < SMALL_NAMESPACES`).
pub fn small_namespace(n: u64) -> String {
    format!("ns-{n:03}")
}

/// Where secret number `i` lives.
pub fn slot(i: u64) -> Slot {
    let h = mix(i);
    let namespace = if h & 1 == 0 { BIG_NAMESPACE.to_owned() } else { small_namespace((h >> 8) % SMALL_NAMESPACES) };
    let folder = (h >> 24) % FOLDERS;
    let versions = if (h >> 40).is_multiple_of(MANY_VERSIONS_EVERY) { MANY_VERSIONS } else { 1 };
    Slot { namespace, name: format!("svc-{folder:03}/key-{i:07}"), versions }
}

/// splitmix64's finaliser: spreads consecutive numbers over all bits, so
/// every step of the seeding spreads evenly over namespaces and folders.
pub fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    #[test]
    fn slots_are_stable_unique_and_spread() {
        assert_eq!(slot(7), slot(7));
        let slots: Vec<Slot> = (0..100_000).map(slot).collect();
        let unique: HashSet<(&str, &str)> = slots.iter().map(|s| (s.namespace.as_str(), s.name.as_str())).collect();
        assert_eq!(unique.len(), slots.len());
        let big = slots.iter().filter(|s| s.namespace == BIG_NAMESPACE).count();
        assert!((45_000..55_000).contains(&big), "{big} in the big namespace");
        let mut per_ns: HashMap<&str, usize> = HashMap::new();
        for s in &slots {
            *per_ns.entry(&s.namespace).or_default() += 1;
        }
        assert_eq!(per_ns.len() as u64, SMALL_NAMESPACES + 1);
        let many = slots.iter().filter(|s| s.versions == MANY_VERSIONS).count();
        assert!((800..1_200).contains(&many), "{many} with many versions");
        for s in &slots {
            hush_core::SecretName::parse(&s.name).expect("a valid secret name");
            hush_core::NamespaceName::parse(&s.namespace).expect("a valid namespace name");
        }
    }
}
