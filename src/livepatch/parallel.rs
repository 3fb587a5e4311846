//! Work over many files on every core: `diff DIR1 DIR2` compares tens of
//! thousands of pairs and `check --build` reads every object of a build,
//! each a few system calls on a small file, so the wall time is the sum
//! of those calls and two cores halve it. Results keep the input's order,
//! so what the commands print does not depend on the threads.

use std::num::NonZeroUsize;

/// Below this many items the threads cost more than they save.
const MIN_ITEMS: usize = 256;

/// At most this many threads: the work is system calls on small files,
/// which stops scaling long before a big machine's core count.
const MAX_THREADS: usize = 8;

/// `f` of every item, in the items' order, computed on up to one thread
/// per core (each a contiguous run of the items). A thread the system
/// will not start leaves its run to the calling thread.
pub fn map_ordered<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(MAX_THREADS);
    if threads < 2 || items.len() < MIN_ITEMS {
        return items.iter().map(&f).collect();
    }
    let run_length = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let runs: Vec<_> = items
            .chunks(run_length)
            .map(|run| {
                let spawned = std::thread::Builder::new()
                    .spawn_scoped(scope, move || run.iter().map(f).collect::<Vec<R>>());
                (run, spawned.ok())
            })
            .collect();
        let mut results = Vec::with_capacity(items.len());
        for (run, handle) in runs {
            match handle {
                Some(handle) => results.extend(
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                ),
                None => results.extend(run.iter().map(f)),
            }
        }
        results
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items() {
        for count in [0, 1, MIN_ITEMS - 1, MIN_ITEMS, MIN_ITEMS * 3 + 7, 20_000] {
            let items: Vec<usize> = (0..count).collect();
            let expected: Vec<usize> = items.iter().map(|item| item * 3).collect();
            assert_eq!(
                map_ordered(&items, |item| item * 3),
                expected,
                "{count} items"
            );
        }
    }
}
