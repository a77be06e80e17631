import MPTCPAPI
@testable import MPTCPDaemon
import Testing

/// What the daemon publishes before it is ready is kept (bounded) for the
/// subscribers that ask for it with `start_up`, ahead of what follows; the
/// others see only what is published after they subscribe.
@Suite struct EventHubStartUpTests {
    func subscriber(_ kinds: Set<DaemonEvent.Kind> = Set(DaemonEvent.Kind.allCases)) -> EventHub.Subscriber {
        EventHub.Subscriber(kinds: kinds, capacity: 1024, wake: {})
    }

    func types(_ s: EventHub.Subscriber) -> [String] {
        s.take().map { entry in
            switch entry {
            case .event(let e): e.type
            case .missed(let n): "missed \(n)"
            }
        }
    }

    @Test func startUpEventsAreReplayedInOrderToASubscriberThatAsksThenLiveOnes() {
        let hub = EventHub(keepingStartUp: true)
        #expect(hub.isObserved, "kept while starting, with no subscriber yet")
        hub.publish(DaemonEvent(.hook, "enabled"))
        hub.publish(DaemonEvent(.resync, "connections"))
        let early = subscriber()
        hub.add(early, replayingStartUp: true)
        hub.publish(DaemonEvent(.action, "subflow_requested"))
        hub.endStartUp()
        hub.publish(DaemonEvent(.action, "subflow_failed"))
        #expect(types(early) == ["enabled", "connections", "subflow_requested", "subflow_failed"], "each once, in order")

        let late = subscriber([.hook, .action])
        hub.add(late, replayingStartUp: true)
        hub.publish(DaemonEvent(.action, "subflow_destroyed"))
        #expect(types(late) == ["enabled", "subflow_requested", "subflow_destroyed"],
                "start-up events of its kinds, not what came after start-up and before it subscribed")
        let plain = subscriber()
        hub.add(plain)
        hub.publish(DaemonEvent(.action, "promoted"))
        #expect(types(plain) == ["promoted"], "no replay unless asked for")
    }

    @Test func theReplayKeepsTheEventsNumbers() {
        let hub = EventHub(keepingStartUp: true)
        hub.publish(DaemonEvent(.hook, "enabled"))
        hub.endStartUp()
        let s = subscriber()
        hub.add(s, replayingStartUp: true)
        hub.publish(DaemonEvent(.action, "promoted"))
        let seqs = s.take().compactMap { if case .event(let e) = $0 { e.seq } else { nil } }
        #expect(seqs == [1, 2])
    }

    @Test func theStartUpRecordIsBoundedAndSaysHowManyItMissed() {
        let hub = EventHub(keepingStartUp: true)
        for _ in 0..<(EventHub.startUpLimit + 5) { hub.publish(DaemonEvent(.action, "subflow_requested")) }
        hub.endStartUp()
        #expect(!hub.isObserved, "nothing is kept after start-up")
        let s = subscriber()
        hub.add(s, replayingStartUp: true)
        let kept = types(s)
        #expect(kept.count == EventHub.startUpLimit + 1 && kept.last == "missed 5")
    }

    @Test func theMissedCountOfAReplayCountsOnlyTheKindsTheSubscriberTakes() {
        let hub = EventHub(keepingStartUp: true)
        for _ in 0..<EventHub.startUpLimit { hub.publish(DaemonEvent(.action, "subflow_requested")) }
        for _ in 0..<3 { hub.publish(DaemonEvent(.hook, "enabled")) }
        for _ in 0..<2 { hub.publish(DaemonEvent(.action, "subflow_failed")) }
        hub.endStartUp()
        let hooks = subscriber([.hook])
        hub.add(hooks, replayingStartUp: true)
        #expect(types(hooks) == ["missed 3"], "the 3 hook events missed, not the 5 of every kind")
        let actions = subscriber([.action])
        hub.add(actions, replayingStartUp: true)
        let replayed = types(actions)
        #expect(replayed.count == EventHub.startUpLimit + 1 && replayed.last == "missed 2")
        let resyncs = subscriber([.resync])
        hub.add(resyncs, replayingStartUp: true)
        #expect(types(resyncs).isEmpty, "no event of its kind was kept or missed: no missed entry either")
    }

    @Test func aConnectionSubscribingAgainIsNotSentAStartUpEventTwice() {
        let hub = EventHub(keepingStartUp: true)
        hub.publish(DaemonEvent(.hook, "enabled"))
        hub.publish(DaemonEvent(.resync, "connections"))
        hub.publish(DaemonEvent(.action, "subflow_requested"))
        hub.endStartUp()
        // The connection was sent event 1 by its first subscription, then subscribes again.
        let again = subscriber()
        hub.add(again, replayingStartUp: true, after: 1)
        hub.publish(DaemonEvent(.action, "promoted"))
        let seqs = again.take().compactMap { if case .event(let e) = $0 { e.seq } else { nil } }
        #expect(seqs == [2, 3, 4], "only what it was not sent, in order")
        // Sent a live event already (numbered above every start-up event): nothing is replayed.
        let late = subscriber()
        hub.add(late, replayingStartUp: true, after: 4)
        #expect(late.take().isEmpty)
    }

    @Test func aSubscriberThatWasSentEverythingKeptIsNotToldOfTheMissedAgain() {
        let hub = EventHub(keepingStartUp: true)
        for _ in 0..<(EventHub.startUpLimit + 2) { hub.publish(DaemonEvent(.action, "subflow_requested")) }
        hub.endStartUp()
        let s = subscriber()
        hub.add(s, replayingStartUp: true, after: Int64(EventHub.startUpLimit + 10))
        #expect(s.take().isEmpty)
    }

    @Test func aHubThatKeepsNoStartUpReplaysNothing() {
        let hub = EventHub()
        #expect(!hub.isObserved)
        hub.publish(DaemonEvent(.hook, "enabled"))
        let s = subscriber()
        hub.add(s, replayingStartUp: true)
        #expect(s.take().isEmpty)
    }
}
