import Dispatch

/// One coarse timer per server that enforces every connection's deadlines (header, idle, body,
/// handler, send, linger), as nginx keeps one timer tree per worker instead of a timer per event.
///
/// Each connection publishes its earliest deadline in an atomic (`HTTPConnection.publishDeadline`);
/// every `interval` the sweeper reads them and hands the due ones to their own queues, where the
/// deadlines are checked again. A deadline therefore fires up to one `interval` late, never early,
/// and a request costs a store instead of a timer reprogrammed in the kernel.
///
/// `@unchecked Sendable`: its one stored property is a Dispatch source, which is thread-safe to
/// cancel from anywhere (Dispatch does not mark its sources Sendable).
final class DeadlineSweeper: @unchecked Sendable {
    /// How often deadlines are checked: how late one may fire.
    static let interval: Duration = .milliseconds(20)

    private let timer: any DispatchSourceTimer

    /// Starts sweeping; `connections` visits the open connections (under the server's lock).
    init(queue: DispatchQueue, connections: @escaping @Sendable ((HTTPConnection) -> Void) -> Void) {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let nanoseconds = Int(clamping: Self.interval.saturatingNanoseconds)
        timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds),
                       leeway: .nanoseconds(nanoseconds / 4))
        timer.setEventHandler {
            let now = DispatchTime.now().uptimeNanoseconds
            var due: [HTTPConnection] = []
            connections { connection in
                if connection.isDue(at: now) { due.append(connection) }
            }
            for connection in due { connection.queue.submit { connection.onDeadline() } }
        }
        self.timer = timer
        timer.resume()
    }

    func cancel() { timer.cancel() }
}
