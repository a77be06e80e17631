import MPTCPKit
@testable import MPTCPPolicy
import PropertyBased
import Testing

@Suite struct ConnectionEngineTests {
    /// eth0 (initial, active), eth1 (active), wwan0 (backup), lte0 (handover), docker0 (off).
    struct Lab {
        var world = World()
        var eth0: Int32 = 0, eth1: Int32 = 0, wwan0: Int32 = 0, lte0: Int32 = 0, docker0: Int32 = 0
        init() {
            eth0 = world.link("eth0"); eth1 = world.link("eth1"); wwan0 = world.link("wwan0")
            lte0 = world.link("lte0"); docker0 = world.link("docker0")
            world.add("10.0.0.1", on: eth0); world.add("10.0.1.1", on: eth1); world.add("10.0.2.1", on: wwan0)
            world.add("10.0.3.1", on: lte0); world.add("172.17.0.1", on: docker0)
        }
    }

    static let rules = [
        rule(["eth*"], .active, position: 1), rule(["wwan*"], .backup, position: 2),
        rule(["lte*"], .handover, position: 3), rule(["docker*"], .off, position: 4),
    ]

    func policy(_ strategy: Strategy, _ mode: SteeringMode = .aggregate, max: Int = 8, ndiffports: Int = 2,
                match: ConnectionMatch = ConnectionMatch()) -> Policy {
        var c = ConnectionPolicy(name: "test")
        c.strategy = strategy
        c.mode = mode
        c.maxSubflows = max
        c.ndiffports = ndiffports
        c.match = match
        c.position = 1
        return Policy(interfaces: Self.rules, connections: [c])
    }

    func connection(_ lab: Lab) -> ConnectionView {
        var c = ConnectionView(token: 7, side: .client, local: AddressAndPort(address: IPAddress("10.0.0.1")!, port: 40000),
                               remote: AddressAndPort(address: IPAddress("10.9.0.2")!, port: 443), initialInterface: lab.eth0)
        c.subflows = [SubflowView(local: c.local, remote: c.remote, localID: 0, backup: false, interfaceIndex: lab.eth0)]
        return c
    }

    func creates(_ d: ConnectionDecision) -> [(SubflowSlot, UInt8, Bool)] {
        d.actions.compactMap { if case .create(let s, let id, _, let b, _) = $0 { return (s, id, b) } else { return nil } }
    }

    @Test func perInterfaceOpensOneSubflowPerOtherInterface() {
        let lab = Lab()
        let d = ConnectionEngine.decide(policy: policy(.perInterface), network: lab.world.snapshot, connection: connection(lab), memory: .init(), now: 0)
        #expect(creates(d).map { $0.0.local.description } == ["10.0.1.1", "10.0.2.1"], "eth1 and the backup wwan0; not lte0 (handover), not docker0 (off)")
        #expect(creates(d).map(\.2) == [false, true], "the backup interface carries a backup subflow")
        #expect(creates(d).allSatisfy { $0.0.remote == IPAddress("10.9.0.2") && $0.0.remotePort == 443 })
        #expect(creates(d).map(\.1) == [1, 2], "fresh per-connection ids from 1")
    }

    @Test func aHandMadeSubflowIsLeftAloneUntilItCloses() {
        let lab = Lab()
        var c = connection(lab)
        let extra = SubflowView(local: AddressAndPort(address: IPAddress("10.0.1.1")!, port: 50000), remote: c.remote,
                                localID: 1, backup: true, interfaceIndex: lab.eth1)
        c.subflows.append(extra)
        let single = policy(.single)
        let unpinned = ConnectionEngine.decide(policy: single, network: lab.world.snapshot, connection: c, memory: .init(), now: 0)
        #expect(unpinned.actions.contains { if case .destroy(let s, _) = $0 { s == extra } else { false } }, "single wants no extra subflow")
        var memory = ConnectionMemory()
        memory.manual = [ConnectionMemory.ManualSubflow(local: extra.local.address, remote: extra.remote)]
        let pinned = ConnectionEngine.decide(policy: single, network: lab.world.snapshot, connection: c, memory: memory, now: 0)
        #expect(pinned.actions.isEmpty, "neither destroyed nor steered: \(pinned.actions)")
    }

    @Test func ndiffportsOpensNMinusOneMoreOverTheInitialPair() {
        let lab = Lab()
        let d = ConnectionEngine.decide(policy: policy(.ndiffports, ndiffports: 4), network: lab.world.snapshot, connection: connection(lab), memory: .init(), now: 0)
        #expect(creates(d).count == 3)
        #expect(creates(d).allSatisfy { $0.0.local == IPAddress("10.0.0.1") && $0.1 == 0 }, "id 0: the initial address")
        #expect(Set(creates(d).map(\.0.index)) == [1, 2, 3])
    }

    @Test func fullmeshCoversEveryLocalTimesEveryKnownRemoteUpToMax() {
        let lab = Lab()
        var c = connection(lab)
        c.announced = [AnnouncedAddress(id: 1, address: IPAddress("10.9.1.2")!, port: 0), AnnouncedAddress(id: 2, address: IPAddress("2001:db8::2")!, port: 0)]
        let d = ConnectionEngine.decide(policy: policy(.fullmesh), network: lab.world.snapshot, connection: c, memory: .init(), now: 0)
        // 3 locals (eth0, eth1, wwan0) x 2 IPv4 remotes, minus the initial pair; the IPv6 remote has no IPv6 local.
        #expect(creates(d).count == 5)
        #expect(creates(d).allSatisfy { $0.0.remotePort == 443 }, "port 0 in ADD_ADDR means the connection's port")
        let capped = ConnectionEngine.decide(policy: policy(.fullmesh, max: 2), network: lab.world.snapshot, connection: c, memory: .init(), now: 0)
        #expect(creates(capped).count == 2)
        #expect(creates(capped).allSatisfy { !$0.2 }, "active paths first")
        var denied = c
        denied.denyJoinID0 = true
        let d2 = ConnectionEngine.decide(policy: policy(.fullmesh), network: lab.world.snapshot, connection: denied, memory: .init(), now: 0)
        #expect(!creates(d2).contains { $0.0.remote == IPAddress("10.9.0.2") }, "deny_join_id0: never the peer's initial address")
    }

    @Test func singleOpensNothingAndDestroysExtras() {
        let lab = Lab()
        var c = connection(lab)
        let extra = SubflowView(local: AddressAndPort(address: IPAddress("10.0.1.1")!, port: 5), remote: c.remote, localID: 1, backup: false, interfaceIndex: lab.eth1)
        c.subflows.append(extra)
        let d = ConnectionEngine.decide(policy: policy(.single), network: lab.world.snapshot, connection: c, memory: .init(), now: 0)
        #expect(d.actions.count == 1)
        #expect(d.actions.first.map { if case .destroy(let s, _) = $0 { s == extra } else { false } } == true)
    }

    @Test func firstMatchingConnectionBlockWinsElseTheDefault() {
        let lab = Lab()
        var bulk = ConnectionPolicy(name: "bulk")
        bulk.match.remotePorts = [5201]
        bulk.strategy = .single
        let p = Policy(interfaces: Self.rules, connections: [bulk])
        #expect(ConnectionEngine.policy(for: connection(lab), policy: p, network: lab.world.snapshot).name == "built-in default")
        var c = connection(lab)
        c.remote.port = 5201
        #expect(ConnectionEngine.policy(for: c, policy: p, network: lab.world.snapshot).name == "bulk")
        var m = ConnectionMatch()
        m.side = .server
        m.remote = [IPPrefix("10.9.0.0/16")!]
        m.interfaces = [try! Glob("eth0")]
        #expect(!m.matches(side: .client, remote: IPAddress("10.9.0.2")!, remotePort: 1, localPort: 2, interface: "eth0"))
        #expect(m.matches(side: .server, remote: IPAddress("10.9.0.2")!, remotePort: 1, localPort: 2, interface: "eth0"))
        #expect(!m.matches(side: .server, remote: IPAddress("10.8.0.2")!, remotePort: 1, localPort: 2, interface: "eth0"))
        #expect(!m.matches(side: .server, remote: IPAddress("10.9.0.2")!, remotePort: 1, localPort: 2, interface: "eth1"))
    }

    @Test func aDeadLinkIsWithdrawnAndTheBestBackupPromotedThenDemotedAfterTheHold() {
        var lab = Lab()
        var c = connection(lab)
        let backup = SubflowView(local: AddressAndPort(address: IPAddress("10.0.2.1")!, port: 6), remote: c.remote, localID: 2, backup: true, interfaceIndex: lab.wwan0)
        c.subflows.append(backup)
        let p = policy(.perInterface, .activeBackup, max: 1)   // only the best extra: none on eth1 for this test
        var p2 = p
        p2.interfaces[0] = rule(["eth0"], .active, position: 1)
        p2.interfaces.append(rule(["eth1"], .off, position: 5))
        p2.interfaces.sort { $0.position < $1.position }
        lab.world.links[0].flags = 0   // eth0 down
        let down = ConnectionEngine.decide(policy: p2, network: lab.world.snapshot, connection: c, memory: .init(), now: 1000)
        #expect(down.actions.contains { if case .removeAddress(0, _, _, _) = $0 { true } else { false } }, "RM_ADDR id 0 tells the peer")
        #expect(down.actions.contains { if case .setBackup(let s, false, _) = $0 { s == backup } else { false } })
        #expect(down.events.contains { $0.hasPrefix("promoted") })

        // eth0 returns with a new primary subflow; the promotion holds until failback_hold passes.
        lab.world.links[0].flags = 1
        var back = c
        var promoted = backup
        promoted.backup = false
        back.subflows = [c.subflows[0], promoted]
        let early = ConnectionEngine.decide(policy: p2, network: lab.world.snapshot, connection: back, memory: down.memory, now: 2000)
        #expect(!early.actions.contains { if case .setBackup(_, true, _) = $0 { true } else { false } })
        let late = ConnectionEngine.decide(policy: p2, network: lab.world.snapshot, connection: back, memory: early.memory, now: 2000 + 3000)
        #expect(late.actions.contains { if case .setBackup(let s, true, _) = $0 { s == promoted } else { false } })
        #expect(late.events.contains { $0.hasPrefix("demoted") })
    }

    @Test func handoverInterfacesWaitUntilNoActivePathIsLeft() {
        var lab = Lab()
        let p = policy(.perInterface, .handover)
        let up = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: connection(lab), memory: .init(), now: 0)
        #expect(!creates(up).contains { $0.0.local == IPAddress("10.0.3.1") })
        lab.world.links[0].flags = 0   // eth0 (the initial path) down
        lab.world.links[1].flags = 0   // and eth1
        let down = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: connection(lab), memory: up.memory, now: 10)
        #expect(creates(down).contains { $0.0.local == IPAddress("10.0.3.1") }, "the metered radio comes in")
        #expect(down.events.contains { $0.hasPrefix("handover") })
    }

    @Test func failuresBackOffWithinTheRetryBounds() {
        let lab = Lab()
        let p = policy(.perInterface)
        let first = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: connection(lab), memory: .init(), now: 0)
        var memory = first.memory
        let slot = creates(first)[0].0
        ConnectionEngine.recordFailure(slot, policy: p.connections[0], memory: &memory, now: 100, jitter: 0)
        let soon = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: connection(lab), memory: memory, now: 150)
        #expect(!creates(soon).contains { $0.0 == slot }, "backing off")
        let later = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: connection(lab), memory: memory, now: 100 + 200)
        #expect(creates(later).contains { $0.0 == slot }, "retried after initial = 200 ms")
        var r = RetryPolicy()
        r.initialMilliseconds = 200
        r.maximumMilliseconds = 1000
        #expect(r.delay(attempt: 1, jitter: 0) == 200 && r.delay(attempt: 2, jitter: 0) == 400 && r.delay(attempt: 9, jitter: 0.9) == 1000)
        #expect(r.delay(attempt: 1, jitter: 0.99) <= 250)
    }

    /// The daemon's series for refused endpoint changes: 1 s doubling to 60 s,
    /// eight retries (about three minutes), then none.
    @Test func endpointRetriesEndAfterEightAttempts() {
        let r = RetryPolicy(initialMilliseconds: 1000, maximumMilliseconds: 60_000, attempts: 8)
        let series = (1...20).prefix { r.allowsRetry(after: $0) }.map { r.delay(attempt: $0, jitter: 0) }
        #expect(series == [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000])
        #expect(series.reduce(0, +) == 183_000)
    }

    @Test func pendingCreationsAreNotRepeatedUntilTheyExpire() {
        let lab = Lab()
        let p = policy(.perInterface)
        let first = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: connection(lab), memory: .init(), now: 0)
        let again = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: connection(lab), memory: first.memory, now: 10)
        #expect(creates(again).isEmpty)
        let t1 = RetryPolicy.defaultJoinTimeoutMilliseconds + 1
        let expired = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: connection(lab), memory: first.memory, now: t1)
        #expect(creates(expired).isEmpty, "expiry counts as a failure and backs off first")
        #expect(expired.joinTimeouts.count == 2 && expired.joinTimeouts.allSatisfy { $0.subflow == nil })
        let retried = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: connection(lab), memory: expired.memory, now: t1 + 400)
        #expect(!creates(retried).isEmpty, "a creation that never established is retried after its backoff")
    }

    // MARK: joins under way (half-open subflows)

    func destroys(_ d: ConnectionDecision) -> [SubflowView] {
        d.actions.compactMap { if case .destroy(let s, _) = $0 { return s } else { return nil } }
    }

    /// The half-open subflow the kernel opens for a create request (what sock_diag shows).
    func halfOpen(_ slot: SubflowSlot, port: UInt16, id: UInt8, on index: Int32) -> SubflowView {
        SubflowView(local: AddressAndPort(address: slot.local, port: port), remote: AddressAndPort(address: slot.remote, port: slot.remotePort),
                    localID: id, backup: false, interfaceIndex: index, state: .synSent)
    }

    @Test func aSubflowInSynSentIsPendingNotMissingAndIsNeverRequestedTwice() {
        let lab = Lab()
        let p = policy(.perInterface)
        var c = connection(lab)
        let first = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: .init(), now: 0)
        let (slot, id, _) = creates(first)[0]
        c.subflows.append(halfOpen(slot, port: 50000, id: id, on: lab.eth1))
        for t in stride(from: 100, to: RetryPolicy.defaultJoinTimeoutMilliseconds, by: 500) {
            let d = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: first.memory, now: t)
            #expect(!creates(d).contains { $0.0 == slot }, "at \(t) ms: the join is under way")
            #expect(destroys(d).isEmpty && d.joinTimeouts.isEmpty)
        }
        // Adopted (a restart, a resync): no memory of the request, the half-open subflow alone holds the slot.
        let adopted = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: .init(), now: 20_000)
        #expect(!creates(adopted).contains { $0.0 == slot })
        #expect(adopted.memory.pending[slot] == 20_000 + RetryPolicy.defaultJoinTimeoutMilliseconds, "its join timeout starts when it is seen")
        // A half-open subflow is no path: with the primary gone, a backup is promoted all the same.
        #expect(!halfOpen(slot, port: 1, id: 1, on: lab.eth1).carriesTraffic)
    }

    @Test func aJoinNotAnsweredWithinJoinTimeoutIsDestroyedThenRetriedAfterTheBackoff() {
        let lab = Lab()
        var p = policy(.perInterface)
        p.connections[0].retry = RetryPolicy(initialMilliseconds: 200, maximumMilliseconds: 30_000, attempts: 10, joinTimeoutMilliseconds: 2000)
        var c = connection(lab)
        let first = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: .init(), now: 0)
        let (slot, id, _) = creates(first)[0]
        let stuck = halfOpen(slot, port: 50000, id: id, on: lab.eth1)
        c.subflows.append(stuck)
        let timedOut = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: first.memory, now: 2000, jitter: 0)
        #expect(destroys(timedOut) == [stuck], "the half-open subflow is destroyed")
        #expect(!creates(timedOut).contains { $0.0 == slot }, "not in the same breath: the retry backs off")
        #expect(timedOut.joinTimeouts.contains(.init(slot: slot, subflow: stuck)))
        #expect(timedOut.memory.failures[slot] == .init(attempts: 1, nextAttempt: 2200), "a failure: attempt 1, initial backoff")
        c.subflows.removeAll { $0 == stuck }
        let early = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: timedOut.memory, now: 2100, jitter: 0)
        #expect(!creates(early).contains { $0.0 == slot })
        let retry = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: timedOut.memory, now: 2200, jitter: 0)
        #expect(creates(retry).contains { $0.0 == slot }, "retried once the backoff has passed")
        #expect(retry.memory.pending[slot] == 4200)
    }

    @Test func aHalfOpenDuplicateOfAnEstablishedPathIsDestroyed() {
        let lab = Lab()
        var c = connection(lab)
        let slot = SubflowSlot(local: IPAddress("10.0.1.1")!, remote: c.remote.address, remotePort: c.remote.port, index: 0)
        let working = SubflowView(local: AddressAndPort(address: slot.local, port: 50001), remote: c.remote, localID: 1, backup: false, interfaceIndex: lab.eth1)
        let duplicate = halfOpen(slot, port: 50002, id: 1, on: lab.eth1)
        c.subflows += [duplicate, working]
        let d = ConnectionEngine.decide(policy: policy(.perInterface), network: lab.world.snapshot, connection: c, memory: .init(), now: 0)
        #expect(destroys(d) == [duplicate], "the established one keeps the slot")
        #expect(!creates(d).contains { $0.0 == slot })
    }

    @Test func aJoinPastItsTimeoutStaysPendingWhileItsSubflowsCannotBeRead() {
        let lab = Lab()
        var p = policy(.perInterface)
        p.connections[0].retry = RetryPolicy(initialMilliseconds: 200, maximumMilliseconds: 30_000, attempts: 10, joinTimeoutMilliseconds: 2000)
        var c = connection(lab)
        let first = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: .init(), now: 0)
        let (slot, id, _) = creates(first)[0]
        // The view from events alone: no half-open subflow in it, though the kernel may have one.
        let blind = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: first.memory, now: 2000,
                                            jitter: 0, subflowsKnown: false)
        #expect(blind.joinTimeouts.isEmpty && blind.memory.failures[slot] == nil, "no failure counted on a view not read")
        #expect(!creates(blind).contains { $0.0 == slot }, "not asked for beside a join that may still be under way")
        #expect(blind.memory.pending[slot] == 2000 + ConnectionEngine.subflowRecheckMilliseconds, "looked at again soon")
        // A stale view that still shows the half-open subflow: not destroyed blind either.
        let stuck = halfOpen(slot, port: 50000, id: id, on: lab.eth1)
        c.subflows.append(stuck)
        let stale = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: first.memory, now: 2000,
                                            jitter: 0, subflowsKnown: false)
        #expect(destroys(stale).isEmpty && stale.joinTimeouts.isEmpty && !creates(stale).contains { $0.0 == slot })
        // Read at the recheck: the timeout is handled then, once.
        let read = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: blind.memory, now: 3000, jitter: 0)
        #expect(destroys(read) == [stuck] && read.joinTimeouts.filter { $0.slot == slot } == [.init(slot: slot, subflow: stuck)])
    }

    @Test func aTimedOutJoinWhoseSubflowCannotBeDestroyedKeepsItsSlotAndIsNotAskedForAgain() {
        let lab = Lab()
        var p = policy(.perInterface)
        p.connections[0].retry = RetryPolicy(initialMilliseconds: 200, maximumMilliseconds: 30_000, attempts: 10, joinTimeoutMilliseconds: 2000)
        var c = connection(lab)
        let first = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: .init(), now: 0)
        let (slot, id, _) = creates(first)[0]
        let stuck = halfOpen(slot, port: 50000, id: id, on: lab.eth1)
        c.subflows.append(stuck)
        let timedOut = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: first.memory, now: 2000, jitter: 0)
        let timeout = timedOut.joinTimeouts.first { $0.slot == slot }
        #expect(timeout != nil)
        #expect(destroys(timedOut) == [stuck])
        // The kernel refused the destroy (not "no such subflow"): the subflow still holds its slot.
        var memory = timedOut.memory
        if let timeout { ConnectionEngine.destroyFailed(timeout, policy: p.connections[0], memory: &memory, now: 2000) }
        #expect(memory.failures[slot]?.attempts == 1, "the timeout stays counted")
        for t in [2200, 3000, 3999] {
            let d = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: memory, now: t, jitter: 0)
            #expect(!creates(d).contains { $0.0 == slot }, "at \(t) ms: no second join beside the one still there")
            #expect(destroys(d).isEmpty)
        }
        let again = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: memory, now: 4000, jitter: 0)
        #expect(destroys(again) == [stuck], "destroyed again after another join_timeout")
        #expect(!creates(again).contains { $0.0 == slot })
    }

    @Test func anEstablishedSubflowClosingIsAPathCloseAndLeavesAnotherSlotsJoinPending() {
        let lab = Lab()
        let p = policy(.ndiffports, ndiffports: 3)
        var c = connection(lab)
        let first = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: .init(), now: 0)
        let slots = creates(first).map(\.0).sorted()
        #expect(slots.count == 2)
        // Slot 1's join established (SUB_ESTABLISHED clears its request); slot 2's is in syn-sent.
        var memory = first.memory
        memory.pending[slots[0]] = nil
        let working = SubflowView(local: AddressAndPort(address: c.local.address, port: 50001), remote: c.remote, localID: 0,
                                  backup: false, interfaceIndex: lab.eth0)
        c.subflows.append(working)
        let closed = ConnectionEngine.failedSlot(local: working.local, remote: working.remote, error: 0, connection: c, memory: memory)
        #expect(closed == nil, "a path closed: slot 2's join is still under way, nothing failed")
        let reset = ConnectionEngine.failedSlot(local: working.local, remote: working.remote, error: 104, connection: c, memory: memory)
        #expect(reset != nil && reset.map { memory.pending[$0] == nil } == true,
                "reset: its own slot backs off, never one whose join is under way: \(String(describing: reset))")
        // The same close with no view of it (remote port 0 as a join's) matches a request by its addresses.
        let unseen = ConnectionEngine.failedSlot(local: AddressAndPort(address: c.local.address, port: 50002),
                                                 remote: AddressAndPort(address: c.remote.address, port: 0), error: 110,
                                                 connection: c, memory: memory)
        #expect(unseen == slots[1])
        // The initial subflow closing is no failed join either.
        #expect(ConnectionEngine.failedSlot(local: c.local, remote: c.remote, error: 104, connection: c, memory: memory) == nil)
    }

    @Test func aFailedJoinIsMatchedToItsOwnPeerPortNotAnotherRequestToThatAddress() {
        let lab = Lab()
        var c = connection(lab)
        // The peer announced its address again on port 8443: two joins from 10.0.1.1 to 10.9.0.2.
        c.announced = [AnnouncedAddress(id: 1, address: c.remote.address, port: 8443)]
        let first = ConnectionEngine.decide(policy: policy(.fullmesh), network: lab.world.snapshot, connection: c, memory: .init(), now: 0)
        let local = IPAddress("10.0.1.1")!
        let onPort = { (port: UInt16) in creates(first).map(\.0).first { $0.local == local && $0.remotePort == port } }
        let (to443, to8443) = (onPort(443), onPort(8443))
        #expect(to443 != nil && to8443 != nil)
        guard let to443, let to8443 else { return }
        // Its half-open subflow, as re-read from sock_diag, and the 443 one established.
        c.subflows.append(halfOpen(to8443, port: 50002, id: 1, on: lab.eth1))
        var memory = first.memory
        memory.pending[to443] = 10  // requested later than the 8443 one
        // SUB_CLOSED of a join that never completed: remote port 0.
        let failed = ConnectionEngine.failedSlot(local: AddressAndPort(address: local, port: 50002),
                                                 remote: AddressAndPort(address: c.remote.address, port: 0), error: 110,
                                                 connection: c, memory: memory)
        #expect(failed == to8443, "the port of its half-open subflow decides, not the first request to the address")
        let explicit = ConnectionEngine.failedSlot(local: AddressAndPort(address: local, port: 50003),
                                                   remote: AddressAndPort(address: c.remote.address, port: 443), error: 111,
                                                   connection: c, memory: memory)
        #expect(explicit == to443, "the event's own remote port decides when it has one")
    }

    /// Thirty seconds of fullmesh over paths whose joins are never answered, against
    /// a model of the kernel (a create opens a half-open subflow; a destroy closes
    /// it; nothing ever establishes): at no time two half-open subflows for one
    /// pair, and every timeout is a counted failure followed by a backed-off retry.
    @Test func fullmeshOverUnansweredJoinsNeverHoldsTwoHalfOpenSubflowsPerPair() {
        let lab = Lab()
        var p = policy(.fullmesh)
        p.connections[0].retry.joinTimeoutMilliseconds = 3000
        var c = connection(lab)
        c.announced = [AnnouncedAddress(id: 1, address: IPAddress("10.9.1.2")!, port: 0)]
        var memory = ConnectionMemory()
        var nextPort: UInt16 = 50000
        var failures = 0
        var requests: [SubflowSlot: [Int]] = [:]
        for t in stride(from: 0, through: 30_000, by: 50) {
            let d = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: c, memory: memory, now: t, jitter: 0.5)
            memory = d.memory
            failures += d.joinTimeouts.count
            for action in d.actions {
                switch action {
                case .destroy(let s, _): c.subflows.removeAll { $0 == s }
                case .create(let slot, let id, let index, _, _):
                    requests[slot, default: []].append(t)
                    c.subflows.append(halfOpen(slot, port: nextPort, id: id, on: index))
                    nextPort += 1
                default: break
                }
            }
            var perPair: [String: Int] = [:]
            for s in c.subflows where !s.carriesTraffic { perPair["\(s.local.address)->\(s.remote)", default: 0] += 1 }
            #expect(perPair.values.allSatisfy { $0 <= 1 }, "at \(t) ms: \(perPair)")
        }
        #expect(requests.count == 5, "3 locals x 2 remotes, less the initial pair")
        for (slot, times) in requests {
            #expect(times.count >= 3, "\(slot) retried: \(times)")
            for (a, b) in zip(times, times.dropFirst()) {
                #expect(b - a >= 3000 + 200, "\(slot): a retry only after the join timeout and a backoff: \(times)")
            }
        }
        let unanswered = requests.values.flatMap { $0 }.filter { $0 + 3000 <= 30_000 }.count
        #expect(failures == unanswered, "every join that timed out within the 30 s is a counted failure")
    }

    @Test func joinTimeoutIsReadFromRetryAndBounded() throws {
        let text = "[[connection]]\nname = \"a\"\nretry = { join_timeout = \"2.5s\" }\n"
        let loaded = try PolicyLoader.load(text, file: "t.toml")
        #expect(loaded.connections[0].retry.joinTimeoutMilliseconds == 2500)
        #expect(ConnectionPolicy.builtInDefault.retry.joinTimeoutMilliseconds == 7000, "the default: SYN at 0, 1 and 3 s, the last given 4 s")
        #expect(throws: PolicyError.self) { try PolicyLoader.load("[[connection]]\nname = \"a\"\nretry = { join_timeout = \"500ms\" }\n", file: "t.toml") }
    }

    @Test func idsAreReusedPerAddressAndNeverCollide() async {
        await propertyCheck(count: 300, input: Gen.uint8(in: 1...255).array(of: 0...6), Gen.uint8(in: 0...3)) { takenIDs, strategyBits in
            let lab = Lab()
            var c = connection(lab)
            // Ids the kernel already bound: to other (foreign) addresses, plus maybe eth1's.
            // A valid kernel list: each id names one address.
            let unique = Array(Set(takenIDs)).sorted()
            for (i, id) in unique.enumerated() { c.localIDs[IPAddress("192.0.2.\(i + 1)")!] = id }
            if strategyBits & 1 == 1, let free = (1...255).map({ UInt8($0) }).first(where: { !unique.contains($0) }) {
                c.localIDs[IPAddress("10.0.1.1")!] = free
            }
            let strategy: Strategy = strategyBits & 2 == 0 ? .perInterface : .fullmesh
            let d = ConnectionEngine.decide(policy: policy(strategy, max: 3), network: lab.world.snapshot, connection: c, memory: .init(), now: 0)
            #expect(creates(d).count <= 3, "never more than max_subflows")
            #expect(!creates(d).contains { $0.0.local == IPAddress("172.17.0.1") }, "never an off interface")
            var byAddress: [IPAddress: UInt8] = c.localIDs
            for (slot, id, _) in creates(d) where id != 0 {
                if let bound = byAddress[slot.local] { #expect(bound == id, "the id the kernel bound is reused") }
                #expect(!byAddress.contains { $0.key != slot.local && $0.value == id }, "an id never names two addresses")
                byAddress[slot.local] = id
            }
        }
    }

    // MARK: server side

    func serverPolicy() -> Policy {
        let rules = [rule(["eth*"], .active, position: 1, announce: true), rule(["wwan*"], .backup, position: 2, announce: true),
                     rule(["lte*"], .handover, position: 3, announce: true), rule(["docker*"], .off, position: 4, announce: true)]
        var c = ConnectionPolicy(name: "srv")
        c.strategy = .fullmesh
        c.position = 1
        return Policy(interfaces: rules, connections: [c])
    }

    func serverConnection(_ lab: Lab) -> ConnectionView {
        var c = connection(lab)
        c.side = .server
        c.local = AddressAndPort(address: IPAddress("10.0.0.1")!, port: 443)
        c.remote = AddressAndPort(address: IPAddress("10.9.0.2")!, port: 40000)
        c.subflows = [SubflowView(local: c.local, remote: c.remote, localID: 0, backup: false, interfaceIndex: lab.eth0)]
        return c
    }

    func announces(_ d: ConnectionDecision) -> [(UInt8, IPAddress)] {
        d.actions.compactMap { if case .announce(let id, let a, _, _, _) = $0 { return (id, a) } else { return nil } }
    }

    @Test func aServerAnnouncesWhereAListenerAcceptsAndOpensNoSubflows() {
        let lab = Lab()
        let wildcard = [Listener(address: IPAddress("0.0.0.0")!, port: 443, family: .ipv4)]
        let d = ConnectionEngine.decide(policy: serverPolicy(), network: lab.world.snapshot, connection: serverConnection(lab),
                                        memory: .init(), now: 0, listeners: wildcard)
        #expect(creates(d).isEmpty, "a server makes no subflows, whatever the strategy")
        #expect(announces(d).map(\.1.description) == ["10.0.1.1", "10.0.2.1"], "eth1 and wwan0; not the initial address, lte0 (handover) or docker0 (off)")
        #expect(announces(d).map(\.0) == [1, 2])
        #expect(d.refusedAnnouncements.isEmpty)

        // Without knowing the listeners, nothing is announced.
        let unknown = ConnectionEngine.decide(policy: serverPolicy(), network: lab.world.snapshot, connection: serverConnection(lab),
                                              memory: .init(), now: 0, listeners: nil)
        #expect(announces(unknown).isEmpty)
    }

    @Test func aServerDoesNotAnnounceWhereNoListenerTakesTheJoinAndSaysSoOnce() {
        let lab = Lab()
        let cases: [[Listener]] = [
            [],
            [Listener(address: IPAddress("10.0.0.1")!, port: 443, family: .ipv4)],  // bound to the initial address only
            [Listener(address: IPAddress("0.0.0.0")!, port: 80, family: .ipv4)],    // another port
            [Listener(address: IPAddress("::")!, port: 443, family: .ipv6, v6only: true)],
        ]
        for listeners in cases {
            let d = ConnectionEngine.decide(policy: serverPolicy(), network: lab.world.snapshot, connection: serverConnection(lab),
                                            memory: .init(), now: 0, listeners: listeners)
            #expect(announces(d).isEmpty, "\(listeners)")
            #expect(d.refusedAnnouncements.map(\.address.description) == ["10.0.1.1", "10.0.2.1"])
            let again = ConnectionEngine.decide(policy: serverPolicy(), network: lab.world.snapshot, connection: serverConnection(lab),
                                                memory: d.memory, now: 10, listeners: listeners)
            #expect(again.refusedAnnouncements.isEmpty, "said once per connection")
        }
        // A dual-stack IPv6 wildcard takes IPv4 joins.
        let dual = [Listener(address: IPAddress("::")!, port: 443, family: .ipv6, v6only: false)]
        let d = ConnectionEngine.decide(policy: serverPolicy(), network: lab.world.snapshot, connection: serverConnection(lab),
                                        memory: .init(), now: 0, listeners: dual)
        #expect(announces(d).count == 2)
    }

    @Test func aServerWithdrawsAnnouncementsOfAddressesThatGoAndKeepsTheClientsJoins() {
        var lab = Lab()
        var c = serverConnection(lab)
        c.announcedLocal = [IPAddress("10.0.1.1")!: 1, IPAddress("10.0.2.1")!: 2]
        c.localIDs = c.announcedLocal
        let join = SubflowView(local: AddressAndPort(address: IPAddress("10.0.1.1")!, port: 443),
                               remote: AddressAndPort(address: IPAddress("10.9.0.2")!, port: 40001), localID: 1, backup: false, interfaceIndex: lab.eth1)
        let backupJoin = SubflowView(local: AddressAndPort(address: IPAddress("10.0.2.1")!, port: 443),
                                     remote: AddressAndPort(address: IPAddress("10.9.0.2")!, port: 40002), localID: 2, backup: false, interfaceIndex: lab.wwan0)
        c.subflows += [join, backupJoin]
        let listeners = [Listener(address: IPAddress("0.0.0.0")!, port: 443, family: .ipv4)]
        let steady = ConnectionEngine.decide(policy: serverPolicy(), network: lab.world.snapshot, connection: c, memory: .init(), now: 0, listeners: listeners)
        #expect(announces(steady).isEmpty, "already announced")
        #expect(!steady.actions.contains { if case .destroy = $0 { true } else { false } }, "the client's joins stay")
        #expect(steady.actions.contains(.setBackup(backupJoin, backup: true, reason: "wwan0 is backup")), "a join on a backup interface is steered to backup")

        lab.world.addresses.removeAll { $0.address == IPAddress("10.0.2.1") }
        let gone = ConnectionEngine.decide(policy: serverPolicy(), network: lab.world.snapshot, connection: c, memory: .init(), now: 0, listeners: listeners)
        let removals = gone.actions.compactMap { if case .removeAddress(let id, let a, let s, _) = $0 { return (id, a, s) } else { return nil } }
        #expect(removals.count == 1)
        #expect(removals.first?.0 == 2 && removals.first?.1 == IPAddress("10.0.2.1") && removals.first?.2 == [backupJoin])
    }
}

@Test func mappedIPv4LoopbackIsLoopback() {
    #expect(Planner.isLoopback(IPAddress("::ffff:127.0.0.1")!) || IPAddress("::ffff:127.0.0.1")!.isIPv4,
            "an IPv4-mapped loopback address is never an endpoint")
    #expect(Planner.isLoopback(IPAddress("::1")!))
    #expect(!Planner.isLoopback(IPAddress("::ffff:10.0.0.1")!))
    #expect(!Planner.isLoopback(IPAddress("fd00::1")!))
}


@Test func theTimerHeapPopsInDueOrder() async {
    await propertyCheck(count: 200, input: Gen.int(in: 0...1000).array(of: 0...64)) { dues in
        var heap = TimerHeap()
        for (i, d) in dues.enumerated() { heap.push(d, UInt32(i)) }
        var popped: [Int] = []
        while let (due, _) = heap.min {
            popped.append(due)
            heap.pop()
        }
        #expect(popped == dues.sorted())
    }
}
