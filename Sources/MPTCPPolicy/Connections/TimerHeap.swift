/// A binary min-heap of (due time, token): the userspace path manager's wake-ups.
/// Items are never updated in place; callers push again and skip stale ones.
public struct TimerHeap: Sendable {
    public init() {}

    private var items: [(Int, UInt32)] = []

    public var min: (Int, UInt32)? { items.first }

    public mutating func push(_ due: Int, _ token: UInt32) {
        items.append((due, token))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent].0 <= items[i].0 { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    public mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && items[l].0 < items[m].0 { m = l }
            if r < items.count && items[r].0 < items[m].0 { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        if items.isEmpty { items = [] }  // give the memory back after a burst
    }
}
