// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "mptcpctl",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MPTCPKit", targets: ["MPTCPKit"]),
        .executable(name: "mptcpctl", targets: ["mptcpctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", exact: "2.0.1"),
    ],
    targets: [
        // The only target that touches C: libnl plus a few inline shims for macros.
        .systemLibrary(
            name: "CNetlink",
            pkgConfig: "libnl-genl-3.0",
            providers: [.apt(["libnl-genl-3-dev", "libnl-route-3-dev"])]
        ),
        .target(
            name: "MPTCPKit",
            dependencies: ["CNetlink"]
        ),
        .executableTarget(
            name: "mptcpctl",
            dependencies: [
                "MPTCPKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "MPTCPKitTests",
            dependencies: ["MPTCPKit", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "KernelTests",
            dependencies: ["MPTCPKit"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
