import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The test-only switches of the daemon (`mptcpctld(8)`, ENVIRONMENT), read
/// once, in one place.
enum FaultInjection {
    /// `MPTCPCTLD_DEBUG_IGNORE_LINK_EVENTS=1`: link and address notifications are
    /// read but none is acted on, as if never sent (tests of `interface.notify`).
    static let ignoreLinkEvents = getenv("MPTCPCTLD_DEBUG_IGNORE_LINK_EVENTS").map { String(cString: $0) } == "1"

    /// `MPTCPCTLD_DEBUG_FAIL_EVENT_SUBSCRIPTION=1`: the MPTCP event socket
    /// cannot be made, as if the kernel refused it (tests that such a start-up
    /// failure leaves the kernel as found).
    static let failEventSubscription = getenv("MPTCPCTLD_DEBUG_FAIL_EVENT_SUBSCRIPTION").map { String(cString: $0) } == "1"

    /// `MPTCPCTLD_DEBUG_FAIL_HEALTH_THREAD=1`: the health thread cannot be
    /// started, as if the system refused a thread (tests that the daemon then
    /// runs without path health).
    static let failHealthThread = getenv("MPTCPCTLD_DEBUG_FAIL_HEALTH_THREAD").map { String(cString: $0) } == "1"

    /// `MPTCPCTLD_DEBUG_CHANGE_DELAY_MS`: a pause (at most 10 s) before each
    /// endpoint change and each batch of subflow creations.
    static let changeDelayMilliseconds = getenv("MPTCPCTLD_DEBUG_CHANGE_DELAY_MS")
        .flatMap { UInt32(String(cString: $0)) }.map { min($0, 10_000) }

    /// With a change delay: announces the pause ("debug: pausing before WHAT"),
    /// so a test can act inside it (kill the daemon, change the network, close a
    /// connection), then sleeps. Without one: nothing, not even the metadata.
    static func pause(before what: String, logger: Logger, _ metadata: @autoclosure () -> Logger.Metadata) {
        guard let delay = changeDelayMilliseconds else { return }
        var fields = metadata()
        fields["milliseconds"] = "\(delay)"
        logger.info("debug: pausing before \(what)", metadata: fields)
        usleep(delay * 1000)
    }
}
