// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "mptcpctl",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MPTCPKit", targets: ["MPTCPKit"]),
        .library(name: "MPTCPPolicy", targets: ["MPTCPPolicy"]),
        .library(name: "MPTCPAPI", targets: ["MPTCPAPI"]),
        .executable(name: "mptcpctl", targets: ["mptcpctl"]),
        .executable(name: "mptcpctld", targets: ["mptcpctld"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", exact: "2.0.1"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    ],
    targets: [
        // The only target that touches C: libnl plus a few inline shims for macros.
        .systemLibrary(
            name: "CNetlink",
            pkgConfig: "libnl-genl-3.0",
            providers: [.apt(["libnl-genl-3-dev", "libnl-route-3-dev"])]
        ),
        // Linux with Glibc only: no #if canImport(Musl) branches (they were never compiled).
        .target(
            name: "MPTCPKit",
            // NIOLockedValueBox: a pthread mutex, which ThreadSanitizer follows
            // (Synchronization.Mutex's contended path is not instrumented).
            dependencies: ["CNetlink", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        // The policy engine: pure decisions from (policy, network, kernel state) to changes.
        .target(
            name: "MPTCPPolicy",
            dependencies: ["MPTCPKit", .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        // The control API's wire format (JSON-RPC 2.0, one object per line), shared by the
        // daemon and the CLI. It depends on MPTCPKit (which the CLI links anyway): the
        // event schema is built from MPTCPKit's Event (EventRecord.init(Event), the
        // event types the metric families list), so a kernel event has one shape on the
        // wire wherever it appears. Of Foundation it uses FoundationEssentials only.
        .target(name: "MPTCPAPI", dependencies: ["MPTCPKit"]),
        // The daemon as a library: services doing the I/O around the policy engine,
        // in folders per subsystem (Endpoints, UserspacePM, Control, Hooks, Runtime).
        .target(
            name: "MPTCPDaemon",
            dependencies: [
                "MPTCPKit", "MPTCPPolicy", "MPTCPAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The daemon's executable: only `main`.
        .executableTarget(name: "mptcpctld", dependencies: ["MPTCPDaemon"]),
        // Kept free of TOMLKit (and so of Foundation): `check` and `plan` run mptcpctld.
        .executableTarget(
            name: "mptcpctl",
            dependencies: [
                "MPTCPKit", "MPTCPAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "MPTCPKitTests",
            dependencies: ["MPTCPKit", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "MPTCPPolicyTests",
            dependencies: ["MPTCPPolicy", "MPTCPKit", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "MPTCPAPITests",
            dependencies: ["MPTCPAPI", "MPTCPKit", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        // The daemon's unit tests: no root, no kernel (a fake kernel answers).
        .testTarget(
            name: "MPTCPDaemonTests",
            dependencies: ["MPTCPDaemon", "MPTCPPolicy", "MPTCPKit", "MPTCPAPI"]
        ),
        .testTarget(
            name: "KernelTests",
            dependencies: ["MPTCPKit", "MPTCPAPI"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
