//! Pages of listings: the size a caller may ask for, and the cursor for the
//! next page (the store is asked for one item more than the page holds, so
//! the last page is known without a second query).

use crate::ServiceError;

/// Page size when the caller names none.
pub const DEFAULT_PAGE: u32 = 100;
/// Largest page a caller may ask for.
pub const MAX_PAGE: u32 = 1000;

/// The page size to use, or an error naming the allowed range.
pub(crate) fn page_size(requested: Option<u32>) -> Result<u32, ServiceError> {
    match requested.unwrap_or(DEFAULT_PAGE) {
        n @ 1..=MAX_PAGE => Ok(n),
        _ => Err(ServiceError::invalid("invalid_limit", format!("limit must be between 1 and {MAX_PAGE}"))),
    }
}

/// Cuts `items` (fetched with `size + 1`) to one page; returns the cursor of
/// the next page, if there is one.
pub(crate) fn cut<T, C>(items: &mut Vec<T>, size: u32, cursor: impl Fn(&T) -> C) -> Option<C> {
    if items.len() > size as usize {
        items.truncate(size as usize);
        items.last().map(cursor)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_cuts() {
        assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_size(Some(1)).unwrap(), 1);
        assert_eq!(page_size(Some(MAX_PAGE)).unwrap(), MAX_PAGE);
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(MAX_PAGE + 1)).is_err());
        let mut full = vec![1, 2, 3];
        assert_eq!(cut(&mut full, 2, |x| *x), Some(2));
        assert_eq!(full, [1, 2]);
        let mut last = vec![1, 2];
        assert_eq!(cut(&mut last, 2, |x| *x), None);
        assert_eq!(last, [1, 2]);
    }
}
