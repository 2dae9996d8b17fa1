//! `hush cache-key`: one key per reference.

use hush_inject::cache_key::{self, CacheSalt};

use super::references;
use crate::args::CacheKeyArgs;

pub(crate) async fn run(args: CacheKeyArgs) -> anyhow::Result<()> {
    let refs = args.refs.iter().map(|text| references::parse("reference", text)).collect::<anyhow::Result<Vec<_>>>()?;
    // Values are resolved (and the salt loaded) only where no cacheKey is given.
    let to_resolve: Vec<(String, hush_inject::Reference)> =
        refs.iter().filter(|r| r.cache_key.is_none()).map(|r| (r.to_string(), r.clone())).collect();
    let mut values = if to_resolve.is_empty() {
        Vec::new()
    } else {
        let resolver = references::resolver(&args.ns, &args.conn, to_resolve.iter().map(|(_, r)| r))?;
        references::resolve_all(&resolver, &to_resolve).await?
    }
    .into_iter();
    let salt = if to_resolve.is_empty() { None } else { Some(CacheSalt::load_default()?) };
    let mut keys = Vec::with_capacity(refs.len());
    for reference in &refs {
        let key = match (&reference.cache_key, &salt) {
            (Some(explicit), _) => cache_key::for_explicit_key(explicit),
            (None, Some(salt)) => {
                let value = values.next().expect("one value per reference without a cacheKey");
                tokio::task::block_in_place(|| cache_key::for_value(&value, salt))?
            }
            (None, None) => unreachable!("a salt is loaded whenever a value is resolved"),
        };
        keys.push((reference.to_string(), key));
    }
    if args.json {
        let items: Vec<_> =
            keys.iter().map(|(reference, key)| serde_json::json!({"reference": reference, "key": key})).collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
    } else {
        for (_, key) in keys {
            println!("{key}");
        }
    }
    Ok(())
}
