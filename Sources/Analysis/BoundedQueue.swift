import Foundation

/// What a full queue does with a new item.
public enum OverflowPolicy: Sendable {
    /// The producer waits (files: back-pressure, nothing dropped).
    case block
    /// The oldest queued item is discarded to make room (live sources: stay near real time).
    case dropOldest
}

/// A bounded multi-producer, multi-consumer FIFO joining two pipeline stages.
///
/// Memory stays flat on endless input because nothing is ever buffered past `capacity`.
/// `close()` lets consumers drain what is queued and then receive `nil`.
public final class BoundedQueue<Element>: @unchecked Sendable {
    private var items: [Element?]
    private var head = 0
    private var count = 0
    private var closed = false
    private let condition = NSCondition()
    public let capacity: Int
    public let policy: OverflowPolicy
    /// Items discarded by `.dropOldest`, and handed to `onDrop` before they go.
    public private(set) var dropped = 0
    private let onDrop: (@Sendable (Element) -> Void)?

    public init(capacity: Int, policy: OverflowPolicy = .block, onDrop: (@Sendable (Element) -> Void)? = nil) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.policy = policy
        self.onDrop = onDrop
        items = Array(repeating: nil, count: capacity)
    }

    /// Appends an item; blocks while full under `.block`. Returns false if the queue is closed.
    @discardableResult
    public func push(_ item: Element) -> Bool {
        condition.lock()
        var victim: Element?
        while count == capacity && !closed {
            if policy == .dropOldest {
                victim = items[head]
                items[head] = nil
                head = (head + 1) % capacity
                count -= 1
                dropped += 1
                break
            }
            condition.wait()
        }
        if closed {
            condition.unlock()
            return false
        }
        items[(head + count) % capacity] = item
        count += 1
        condition.broadcast()
        condition.unlock()
        if let victim, let onDrop { onDrop(victim) }
        return true
    }

    /// Removes the oldest item, waiting for one; `nil` once closed and drained.
    public func pop() -> Element? {
        pop(until: .distantFuture).item
    }

    /// Removes the oldest item, waiting at most until `deadline`.
    /// `timedOut` is true when the deadline passed with the queue still open and empty.
    public func pop(until deadline: Date) -> (item: Element?, timedOut: Bool) {
        condition.lock()
        defer { condition.unlock() }
        while count == 0 {
            if closed { return (nil, false) }
            if deadline == .distantFuture {
                condition.wait()  // wait(until: .distantFuture) overflows on Linux Foundation
            } else if !condition.wait(until: deadline) {
                if count == 0 { return (nil, !closed) }
            }
        }
        let item = items[head]
        items[head] = nil
        head = (head + 1) % capacity
        count -= 1
        condition.broadcast()
        return (item, false)
    }

    /// No more pushes; consumers drain the rest and then get `nil`.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    public var depth: Int {
        condition.lock()
        defer { condition.unlock() }
        return count
    }
}
