import RelaisProtocol

/// Pull pages received from the hub and not yet applied.
///
/// A sync applies consecutive pages together, in one transaction with the cursor of the last: a page
/// is never split between transactions, and the stored cursor always matches the pages stored. One
/// transaction per batch (``SyncOptions/applyBatchRecords``) instead of one per page of 1,000 writes
/// each index leaf once per batch rather than once per page (docs/SYNC.md, "Applying a page on the
/// replica").
///
/// The next pull request carries the last received page's cursor, which acknowledges the pages to
/// the hub before they are stored. That is safe for pages of live records only (a lost one is pulled
/// again: ``ReplicaStore/pageNeedsDurableCommit(_:)``), so a page holding a tombstone or a revocation
/// ends the batch: the batch is applied, with `FULL`, before the next request leaves. A batch of
/// live pages only may be applied while the next request is in flight
/// (``canApplyDuringNextRequest``): the request acknowledges nothing more than before.
struct PullBatch {
    /// Records (and revocations) after which the batch is applied.
    let recordLimit: Int
    private(set) var pages: [Relais_V1_PullResponse] = []
    private var records = 0

    init(recordLimit: Int) {
        self.recordLimit = max(1, recordLimit)
    }

    var isEmpty: Bool { pages.isEmpty }

    /// Whether the pages held reach ``recordLimit``.
    var isFull: Bool { records >= recordLimit }

    /// The cursor the next pull request carries: the last received page's, nil when none is held.
    var cursor: UInt64? { pages.last?.nextCursor }

    /// Holds a received page. Returns whether the batch must be applied before anything else is
    /// asked of the hub: the pull is over, the batch is full, or the page must be durable before the
    /// next request acknowledges it.
    mutating func add(_ page: Relais_V1_PullResponse) -> Bool {
        pages.append(page)
        records += page.records.count + page.revocations.count
        return !page.more || isFull || ReplicaStore.pageNeedsDurableCommit(page)
    }

    /// Whether the pages held may be stored while the next page is fetched: the pull goes on, and no
    /// page held must be in the file before the next request leaves.
    var canApplyDuringNextRequest: Bool {
        pages.last?.more == true && !pages.contains(where: ReplicaStore.pageNeedsDurableCommit)
    }

    /// Empties the batch, returning its pages in the order received.
    mutating func take() -> [Relais_V1_PullResponse] {
        defer {
            pages = []
            records = 0
        }
        return pages
    }
}
